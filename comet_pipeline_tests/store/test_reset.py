"""``reset_file`` on every engine: the reset table exactly, audited, guarded, clearing the
retry budget, and a reset to DISCOVERED forgetting that retention pruned the raw file."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from comet_pipeline.domain import FileState
from comet_pipeline.domain.states import RESET_TRANSITIONS
from comet_pipeline.store import IllegalTransition
from comet_pipeline_tests.store._helpers import T0, archive_file, path_to, put_in_state

LATER = T0 + timedelta(hours=2)


def test_every_pair_of_the_reset_table_and_no_other(make_store):
    store = make_store()
    for source, target in itertools.product(FileState, (FileState.READY, FileState.DISCOVERED)):
        name = f"r_{source}_{target}.fts"
        put_in_state(store, name, source)
        trail = store.transitions_for(name)
        if source in RESET_TRANSITIONS[target]:
            assert store.reset_file(
                name, target, expected=source, reason="test reset", now=LATER, run_id="run-r"
            )
            record = store.get_file(name)
            assert record.state is target and record.attempts == 0
            assert record.lease_owner is None and record.next_attempt_at is None
            last = store.transitions_for(name)[-1]
            assert (last.from_state, last.to_state, last.at) == (source, target, LATER)
            assert (last.run_id, last.reason) == ("run-r", "test reset")
        else:
            with pytest.raises(IllegalTransition):
                store.reset_file(name, target, expected=source, reason="test", now=LATER)
            assert store.get_file(name).state is source
            assert store.transitions_for(name) == trail


def test_a_stale_reset_is_not_applied_and_a_reason_is_required(make_store):
    store = make_store()
    put_in_state(store, "a.fts", FileState.READY)
    assert not store.reset_file(
        "a.fts", FileState.READY, expected=FileState.PROCESSED, reason="x", now=LATER
    )
    with pytest.raises(ValueError, match="reason"):
        store.reset_file(
            "a.fts", FileState.DISCOVERED, expected=FileState.READY, reason="", now=LATER
        )
    assert store.get_file("a.fts").state is FileState.READY


def test_a_reset_to_discovered_brings_a_pruned_raw_file_back_into_view(make_store):
    store = make_store()
    assert store.register_files([archive_file("p.fts")], now=T0) == ["p.fts"]
    for state in path_to(FileState.PROCESSED):
        extra = {"raw_path": "/raw/p.fts"} if state is FileState.DOWNLOADED else {}
        assert store.transition("p.fts", state, now=T0, reason="setup", **extra)
    store.mark_raw_pruned(["p.fts"], now=LATER)
    assert [r.name for r in store.raw_on_disk()] == []
    assert store.reset_file(
        "p.fts", FileState.DISCOVERED, expected=FileState.PROCESSED, reason="refetch", now=LATER
    )
    assert [r.name for r in store.raw_on_disk()] == ["p.fts"]
    # the download step claims it like any DISCOVERED file
    claimed = store.claim(target=FileState.DOWNLOADING, owner="w", now=LATER)
    assert [r.name for r in claimed] == ["p.fts"]
