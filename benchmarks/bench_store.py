"""Lifecycle-store contention: claims per second with 1 and 2 processes racing.

Each worker claims DISCOVERED files into DOWNLOADING in batches of ``BATCH`` (as the
download step does) until none are left; the clock starts when all workers pass a barrier,
so process start-up is not timed. Figures are noisy on a shared 2-core machine.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from comet_pipeline.domain import ArchiveFile, Detector, FileState
from comet_pipeline.store import SQLiteStore

N_FILES = 2000
BATCH = 10
REPEATS = 3
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _files(n: int) -> list[ArchiveFile]:
    return [
        ArchiveFile(f"2{i:07d}.fts", Detector.C2, T0 + i * timedelta(minutes=1), 25.0, 1024, 1024)
        for i in range(n)
    ]


def _worker(path: str, owner: str, barrier: Barrier, done: Queue[tuple[str, int, float]]) -> None:
    store = SQLiteStore(path)
    barrier.wait(timeout=120)
    n = 0
    while got := store.claim(target=FileState.DOWNLOADING, owner=owner, now=T0, limit=BATCH):
        n += len(got)
    done.put((owner, n, time.perf_counter()))


def _race(n_procs: int, workdir: Path) -> float:
    path = workdir / f"race_{n_procs}_{time.monotonic_ns()}.db"
    store = SQLiteStore(path)
    store.register_files(_files(N_FILES), now=T0)
    store.close()
    ctx = mp.get_context("spawn")
    barrier, done = ctx.Barrier(n_procs + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(str(path), f"w{i}", barrier, done))
        for i in range(n_procs)
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


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        one = [_race(1, workdir) for _ in range(REPEATS)]
        two = [_race(2, workdir) for _ in range(REPEATS)]
    return {
        "files": N_FILES,
        "batch": BATCH,
        "claims_per_s_1proc": round(statistics.median(one)),
        "claims_per_s_2proc": round(statistics.median(two)),
        "runs": REPEATS,
    }


if __name__ == "__main__":
    print(run())
