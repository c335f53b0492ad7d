"""Download a window's claimable files, verify them, and mark them READY.

Each file is claimed under a lease (DISCOVERED or retry-due DOWNLOAD_FAILED ->
DOWNLOADING) before any byte moves, so two runs never fetch the same file; the bytes land
atomically at their final path; failures go through the store's retry bookkeeping.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.errors import ArchiveError
from comet_pipeline.archive.layout import day_dir
from comet_pipeline.domain import Detector, FileRecord, FileState
from comet_pipeline.domain.timeutil import Clock
from comet_pipeline.ingest.attempts import record_failure
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.store import LifecycleStore


def raw_path_for(raw_dir: Path, record: FileRecord) -> Path:
    """Where a raw file lives: ``raw/<detector>/<YYMMDD>/<name>`` (the archive's own layout)."""
    return raw_dir / record.detector.value / day_dir(record.observed_at.date()) / record.name


def download_window(
    store: LifecycleStore,
    client: ArchiveClient,
    raw_dir: Path,
    start: datetime,
    end: datetime,
    *,
    clock: Clock,
    owner: str,
    workers: int = 4,
) -> StepResult:
    started = time.perf_counter()
    result = StepResult()
    _finish_interrupted(store, start, end, clock, owner, result)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        # Claim a few files at a time, so each lease is fresh when its download starts.
        while claimed := store.claim(
            target=FileState.DOWNLOADING,
            owner=owner,
            now=clock(),
            start=start,
            end=end,
            limit=2 * workers,
        ):
            outcomes = pool.map(
                lambda rec: _download_one(store, client, raw_dir, rec, clock, owner), claimed
            )
            for record, (outcome, error) in zip(claimed, outcomes, strict=True):
                result.count(outcome, record.detector.value)
                if error:
                    result.errors.append(f"{record.name}: {error}")
    result.elapsed_s = time.perf_counter() - started
    return result


def _finish_interrupted(
    store: LifecycleStore,
    start: datetime,
    end: datetime,
    clock: Clock,
    owner: str,
    result: StepResult,
) -> None:
    """A run killed between DOWNLOADED and READY left a verified file: mark it READY."""
    leftovers = [
        record
        for detector in Detector
        for record in store.files_between(detector, start, end, states=[FileState.DOWNLOADED])
        if record.raw_path and Path(record.raw_path).is_file()
    ]
    for record in leftovers:
        if store.transition(
            record.name,
            FileState.READY,
            now=clock(),
            run_id=owner,
            expected=FileState.DOWNLOADED,
            reason="verified file found after an interrupted run",
        ):
            result.count("ready", record.detector.value)


def _download_one(
    store: LifecycleStore,
    client: ArchiveClient,
    raw_dir: Path,
    record: FileRecord,
    clock: Clock,
    owner: str,
) -> tuple[str, str | None]:
    dest = raw_path_for(raw_dir, record)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fetched = client.download(
            record.observed_at.date(),
            record.detector,
            record.name,
            dest,
            verify=lambda tmp: client.verify_fits(tmp, record.as_archive_file()),
        )
    except Exception as err:  # noqa: BLE001 - any failure is this file's, not the batch's
        permanent = isinstance(err, ArchiveError) and err.permanent
        outcome = record_failure(store, record, err, now=clock(), owner=owner, permanent=permanent)
        return outcome, str(err)
    if not store.transition(
        record.name,
        FileState.DOWNLOADED,
        now=clock(),
        run_id=owner,
        owner=owner,
        expected=FileState.DOWNLOADING,
        sha256=fetched.sha256,
        raw_path=str(dest),
        reason=f"{fetched.size} bytes in {fetched.elapsed_s:.2f}s, verified",
    ):
        return "lease_lost", "lease expired and the file was claimed again"
    store.transition(
        record.name, FileState.READY, now=clock(), run_id=owner, reason="verified FITS"
    )
    return "ready", None
