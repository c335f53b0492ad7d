"""Download a window's claimable files, verify them, and mark them READY.

Each file is claimed under a lease (DISCOVERED or retry-due DOWNLOAD_FAILED ->
DOWNLOADING) before any byte moves, so two runs never fetch the same file; the lease is
renewed while the bytes arrive, so a slow download keeps its file; the bytes land
atomically at their final path; failures go through the store's retry bookkeeping.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from pathlib import Path

from comet_pipeline.archive.client import ArchiveClient, is_temp_name
from comet_pipeline.archive.errors import ArchiveError
from comet_pipeline.archive.layout import day_dir, tree_for_day
from comet_pipeline.domain import Detector, FileRecord, FileState
from comet_pipeline.domain.timeutil import Clock
from comet_pipeline.ingest.attempts import record_failure
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.ingest.windows import days_covering
from comet_pipeline.store import LifecycleStore

#: A ``.part`` file under the raw dir not written for this long is a killed download's
#: leftover (the store's default lease). A live download writes its ``.part`` at every
#: chunk and ends within the client's deadline, which is used instead when it is longer.
STALE_PART_AGE = timedelta(minutes=10)

Outcome = tuple[str, str | None]


class LeaseLost(Exception):
    """Another run recovered the file's lease while this one was still downloading it."""


def raw_path_for(raw_dir: Path, record: FileRecord) -> Path:
    """Where a raw file lives: ``raw/<detector>/<YYMMDD>/<name>`` (the archive's own layout,
    the name with its case)."""
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
    stale_part_age: timedelta = STALE_PART_AGE,
) -> StepResult:
    """Download every claimable file of [start, end), ``workers`` at a time.

    A worker that finishes claims the next file at once, so one slow file (it ends at the
    client's deadline) holds one worker, never the rest of the window; claiming only as
    many files as there are free workers keeps each lease fresh when its download starts.
    First, ``.part`` leftovers of killed downloads are removed (``stale_part_removed``).
    """
    started = time.perf_counter()
    result = StepResult()
    folders = [
        raw_dir / d.value / day_dir(day) for d in Detector for day in days_covering(start, end)
    ]
    removed = remove_stale_parts(folders, max(stale_part_age.total_seconds(), client.deadline_s))
    if removed:
        result.count("stale_part_removed", n=removed)
    _finish_interrupted(store, start, end, clock, owner, result)
    workers = max(1, workers)
    running: dict[Future[Outcome], FileRecord] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while True:
            if len(running) < workers:
                now = clock()
                for record in store.claim(
                    target=FileState.DOWNLOADING,
                    owner=owner,
                    now=now,
                    start=start,
                    end=end,
                    limit=workers - len(running),
                ):
                    keeper = _LeaseKeeper(store, record, owner, clock, claimed_at=now)
                    job = pool.submit(
                        _download_one, store, client, raw_dir, record, clock, owner, keeper
                    )
                    running[job] = record
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for job in done:
                record = running.pop(job)
                outcome, error = job.result()
                result.count(outcome, record.detector.value)
                if error:
                    result.add_error(f"{record.name}: {error}")
    result.elapsed_s = time.perf_counter() - started
    return result


def remove_stale_parts(folders: Iterable[Path], max_age_s: float) -> int:
    """Delete the client's temporary ``.part`` files in ``folders`` (the day folders this
    batch writes to: a download's temp file sits beside its final path) not written for
    ``max_age_s`` seconds, a killed run's leftovers; returns how many.

    Only these folders are listed, not all of raw/, so the cost stays a few directory reads
    however many years the home holds. Ages are by mtime against wall time (the file
    system's clock). Only regular files are touched.
    """
    cutoff = time.time() - max_age_s
    removed = 0
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if not is_temp_name(entry.name):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # finished (renamed) or removed by another run meanwhile
    return removed


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


class _LeaseKeeper:
    """The client's ``progress`` callback: renews the file's lease while bytes arrive.

    At most every lease/3 (by the service clock), so a download slower than the lease but
    within the client's deadline keeps its file: lease recovery would otherwise hand it to
    another run, which would fetch it a second time. A renewal refused (another run
    recovered the file meanwhile) raises :class:`LeaseLost`, which ends the download.
    """

    def __init__(
        self,
        store: LifecycleStore,
        record: FileRecord,
        owner: str,
        clock: Clock,
        *,
        claimed_at: datetime,
    ) -> None:
        self.store = store
        self.name = record.name
        self.owner = owner
        self.clock = clock
        expires = record.lease_expires_at
        self.lease = expires - claimed_at if expires is not None else STALE_PART_AGE
        if self.lease <= timedelta(0):
            self.lease = STALE_PART_AGE
        self.last = claimed_at

    def __call__(self, received: int) -> None:
        now = self.clock()
        if now - self.last < self.lease / 3:
            return
        if not self.store.renew_lease(self.name, owner=self.owner, now=now, lease=self.lease):
            raise LeaseLost(f"lease lost after {received} bytes: another run recovered the file")
        self.last = now


def _download_one(
    store: LifecycleStore,
    client: ArchiveClient,
    raw_dir: Path,
    record: FileRecord,
    clock: Clock,
    owner: str,
    keeper: _LeaseKeeper,
) -> Outcome:
    dest = raw_path_for(raw_dir, record)
    day = record.observed_at.date()
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fetched = client.download(
            day,
            record.detector,
            record.name,
            dest,
            verify=lambda tmp: client.verify_fits(tmp, record.as_archive_file()),
            progress=keeper,
            tree=tree_for_day(day, clock()),  # historical days: the long-term tree
        )
    except LeaseLost as err:  # the file is another run's now: nothing of ours to record
        return "lease_lost", str(err)
    except Exception as err:  # noqa: BLE001 - any failure is this file's, not the batch's
        permanent = isinstance(err, ArchiveError) and err.permanent
        outcome = record_failure(store, record, err, now=clock(), owner=owner, permanent=permanent)
        return outcome, f"{type(err).__name__}: {err}"
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
