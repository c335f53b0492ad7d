"""Download a window's claimable files, verify them, and mark them READY.

Each file is claimed under a lease (DISCOVERED or retry-due DOWNLOAD_FAILED ->
DOWNLOADING) before any byte moves, so two runs never fetch the same file; the bytes land
atomically at their final path; failures go through the store's retry bookkeeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.errors import ArchiveError
from comet_pipeline.domain import Detector, FileRecord, FileState
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.store import LifecycleStore

Clock = Callable[[], datetime]


def raw_path_for(raw_dir: Path, record: FileRecord) -> Path:
    """Where a raw file lives: ``raw/<detector>/<YYMMDD>/<name>`` (the archive's own layout)."""
    return raw_dir / record.detector.value / record.observed_at.strftime("%y%m%d") / record.name


def download_window(
    store: LifecycleStore,
    client: ArchiveClient,
    raw_dir: Path,
    start: datetime,
    end: datetime,
    *,
    clock: Clock,
    owner: str,
    detectors: tuple[Detector, ...] | None = None,
    workers: int = 4,
) -> StepResult:
    started = time.perf_counter()
    result = StepResult()
    claimed: list[FileRecord] = []
    for detector in detectors or (None,):
        claimed += store.claim(
            target=FileState.DOWNLOADING,
            owner=owner,
            now=clock(),
            detector=detector,
            start=start,
            end=end,
        )
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(
            pool.map(lambda rec: _download_one(store, client, raw_dir, rec, clock, owner), claimed)
        )
    for record, (outcome, error) in zip(claimed, outcomes, strict=True):
        result.count(outcome, record.detector.value)
        if error:
            result.errors.append(f"{record.name}: {error}")
    result.elapsed_s = time.perf_counter() - started
    return result


def _download_one(
    store: LifecycleStore,
    client: ArchiveClient,
    raw_dir: Path,
    record: FileRecord,
    clock: Clock,
    owner: str,
) -> tuple[str, str | None]:
    day = record.observed_at.date()
    dest = raw_path_for(raw_dir, record)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fetched = client.download(day, record.detector, record.name, dest)
        client.verify_fits(dest, record.as_archive_file())
    except ArchiveError as err:
        dest.unlink(missing_ok=True)
        state = store.fail(
            record.name,
            f"{type(err).__name__}: {err}",
            now=clock(),
            run_id=owner,
            owner=owner,
            permanent=err.permanent,
        )
        return (state.value.lower() if state else "lease_lost"), str(err)
    if not store.transition(
        record.name,
        FileState.DOWNLOADED,
        now=clock(),
        run_id=owner,
        owner=owner,
        expected=FileState.DOWNLOADING,
        sha256=fetched.sha256,
        raw_path=str(dest),
        reason=f"{fetched.size} bytes in {fetched.elapsed_s:.2f}s",
    ):
        return "lease_lost", "lease expired and the file was claimed again"
    store.transition(
        record.name, FileState.READY, now=clock(), run_id=owner, reason="verified FITS"
    )
    return "ready", None
