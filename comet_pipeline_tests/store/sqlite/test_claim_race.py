"""Two real processes race to claim the same files on one SQLite file."""

from __future__ import annotations

import multiprocessing as mp
import threading

import pytest

from comet_pipeline.domain import FileState
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.store._helpers import T0, many_files
from comet_pipeline_tests.store.sqlite._race import claim_all

N_FILES = 200


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_two_processes_claim_each_file_exactly_once(tmp_path, start_method):
    path = tmp_path / "lifecycle.db"
    store = SQLiteStore(path)  # the parent holds an open connection across the fork
    files = many_files(N_FILES)
    assert len(store.register_files(files, now=T0)) == N_FILES
    before = store.transition_count()

    ctx = mp.get_context(start_method)
    barrier = ctx.Barrier(2)
    outs = [tmp_path / f"claimed_{i}.txt" for i in range(2)]
    procs = [
        ctx.Process(target=claim_all, args=(str(path), f"worker-{i}", barrier, str(outs[i]), 7))
        for i in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0

    claimed = [set(filter(None, o.read_text().splitlines())) for o in outs]
    lists = [list(filter(None, o.read_text().splitlines())) for o in outs]
    assert sum(len(x) for x in lists) == N_FILES  # no duplicates within a worker either
    assert claimed[0] | claimed[1] == {f.name for f in files}
    assert claimed[0] & claimed[1] == set()
    assert store.transition_count() == before + N_FILES
    assert store.counts_by_state()[FileState.DOWNLOADING] == N_FILES
    for i, names in enumerate(claimed):
        for name in list(names)[:20]:
            assert store.get_file(name).lease_owner == f"worker-{i}"
            trail = store.transitions_for(name)
            assert [t.to_state for t in trail] == [FileState.DISCOVERED, FileState.DOWNLOADING]
    # the parent's connection still works after the children wrote through their own
    assert store.claim(target=FileState.DOWNLOADING, owner="late", now=T0) == []


def test_threads_sharing_one_store_claim_each_file_once(tmp_path):
    store = SQLiteStore(tmp_path / "lifecycle.db")
    store.register_files(many_files(120), now=T0)
    results: dict[int, list[str]] = {}
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        mine: list[str] = []
        while got := store.claim(target=FileState.DOWNLOADING, owner=f"t{i}", now=T0, limit=3):
            mine.extend(r.name for r in got)
        results[i] = mine

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    every = [n for names in results.values() for n in names]
    assert len(every) == len(set(every)) == 120
