"""Four real processes race to claim the same files in one PostgreSQL database: each file
is claimed exactly once (``FOR UPDATE SKIP LOCKED``), and the audit says so once."""

from __future__ import annotations

import multiprocessing as mp
import threading

import pytest

from comet_pipeline.domain import FileState
from comet_pipeline.store.postgres import PostgresStore
from comet_pipeline_tests.store._helpers import T0, many_files
from comet_pipeline_tests.store.postgres._race import claim_all

N_FILES = 400
N_PROCS = 4


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_four_processes_claim_each_file_exactly_once(tmp_path, postgres_database, start_method):
    store = PostgresStore(postgres_database)  # the parent's pool is open across the fork
    files = many_files(N_FILES)
    assert len(store.register_files(files, now=T0)) == N_FILES
    before = store.transition_count()

    ctx = mp.get_context(start_method)
    barrier = ctx.Barrier(N_PROCS)
    outs = [tmp_path / f"claimed_{i}.txt" for i in range(N_PROCS)]
    procs = [
        ctx.Process(
            target=claim_all, args=(postgres_database, f"worker-{i}", barrier, str(outs[i]), 7)
        )
        for i in range(N_PROCS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0

    lists = [list(filter(None, o.read_text().splitlines())) for o in outs]
    every = [name for names in lists for name in names]
    assert len(every) == len(set(every)) == N_FILES  # none twice, within or across workers
    assert set(every) == {f.name for f in files}
    assert store.transition_count() == before + N_FILES
    assert store.counts_by_state()[FileState.DOWNLOADING] == N_FILES
    for i, names in enumerate(lists):
        for name in names[:10]:
            assert store.get_file(name).lease_owner == f"worker-{i}"
            trail = store.transitions_for(name)
            assert [t.to_state for t in trail] == [FileState.DISCOVERED, FileState.DOWNLOADING]
    # the parent's connections still work after the children used (and dropped) theirs
    assert store.claim(target=FileState.DOWNLOADING, owner="late", now=T0) == []
    store.close()


def test_threads_sharing_one_store_claim_each_file_once(postgres_database):
    store = PostgresStore(postgres_database, pool_size=3)  # fewer connections than threads
    store.register_files(many_files(120), now=T0)
    results: dict[int, list[str]] = {}
    barrier = threading.Barrier(6)

    def work(i: int) -> None:
        barrier.wait()
        mine: list[str] = []
        while got := store.claim(target=FileState.DOWNLOADING, owner=f"t{i}", now=T0, limit=3):
            mine.extend(r.name for r in got)
        results[i] = mine

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    every = [n for names in results.values() for n in names]
    assert len(every) == len(set(every)) == 120
    store.close()
