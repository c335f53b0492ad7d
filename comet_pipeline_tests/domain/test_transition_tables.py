"""Both state machines, exhaustively, through the store: every allowed move succeeds and is
audited; every other move is refused and leaves no trace."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from comet_pipeline.domain import FileState, Slot, SlotState
from comet_pipeline.domain.states import FILE_TRANSITIONS, SLOT_TRANSITIONS, sources_of
from comet_pipeline.store import IllegalTransition, LifecycleStore, SQLiteStore
from comet_pipeline_tests.store._helpers import T0, put_in_state


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> LifecycleStore:
    return SQLiteStore(tmp_path_factory.mktemp("domain") / "lifecycle.db")


FILE_PAIRS = list(itertools.product(FileState, FileState))
SLOT_PAIRS = list(itertools.product(SlotState, SlotState))


def test_tables_cover_every_state():
    assert set(FILE_TRANSITIONS) == set(FileState)
    assert set(SLOT_TRANSITIONS) == set(SlotState)
    # the lifecycle the architecture draws
    assert FileState.DOWNLOADING in FILE_TRANSITIONS[FileState.DOWNLOAD_FAILED]
    assert FileState.PROCESSING in FILE_TRANSITIONS[FileState.PROCESSING_FAILED]
    for terminal in (FileState.PROCESSED, FileState.SKIPPED, FileState.ABANDONED):
        assert not FILE_TRANSITIONS[terminal]
    assert sources_of(FileState.DOWNLOADING) == {FileState.DISCOVERED, FileState.DOWNLOAD_FAILED}


@pytest.mark.parametrize(("source", "target"), FILE_PAIRS, ids=lambda s: str(s))
def test_file_transition(store: LifecycleStore, source: FileState, target: FileState):
    name = f"f_{source}_{target}.fts"
    put_in_state(store, name, source)
    before = store.transitions_for(name)
    now = T0 + timedelta(hours=1)
    if target in FILE_TRANSITIONS[source]:
        assert store.transition(name, target, now=now, run_id="run-1", reason="test") is True
        assert store.get_file(name).state == target
        after = store.transitions_for(name)
        assert len(after) == len(before) + 1
        last = after[-1]
        assert (last.from_state, last.to_state, last.at) == (source, target, now)
        assert last.run_id == "run-1"
    else:
        with pytest.raises(IllegalTransition) as err:
            store.transition(name, target, now=now)
        assert name in str(err.value) and str(source) in str(err.value)
        assert str(target) in str(err.value)
        assert store.get_file(name).state == source
        assert store.transitions_for(name) == before


@pytest.mark.parametrize(("source", "target"), FILE_PAIRS, ids=lambda s: str(s))
def test_file_transition_with_expected(store: LifecycleStore, source: FileState, target: FileState):
    """The CAS path: pinning the right source behaves as above."""
    name = f"e_{source}_{target}.fts"
    put_in_state(store, name, source)
    now = T0 + timedelta(hours=1)
    if target in FILE_TRANSITIONS[source]:
        assert store.transition(name, target, now=now, expected=source) is True
        assert store.get_file(name).state == target
    else:
        with pytest.raises(IllegalTransition):
            store.transition(name, target, now=now, expected=source)
        assert store.get_file(name).state == source


@pytest.mark.parametrize(("source", "target"), SLOT_PAIRS, ids=lambda s: str(s))
def test_slot_transition(store: LifecycleStore, source: SlotState, target: SlotState):
    index = list(SlotState).index(source) * 10 + list(SlotState).index(target)
    bot = T0 + timedelta(days=index)
    assert store.upsert_slots([Slot(bot, bot + timedelta(hours=1), "DSS-14", source)], T0) == 1
    before = store.slot_transitions_for(bot)
    if source == target:
        assert store.set_slot_state(bot, target, reason="noop", now=T0) is False
        assert store.slot_transitions_for(bot) == before
    elif target in SLOT_TRANSITIONS[source]:
        assert store.set_slot_state(bot, target, reason="test", now=T0) is True
        assert store.get_slot(bot).state == target
        last = store.slot_transitions_for(bot)[-1]
        assert (last.from_state, last.to_state, last.reason) == (source, target, "test")
    else:
        with pytest.raises(IllegalTransition) as err:
            store.set_slot_state(bot, target, reason="test", now=T0)
        assert str(source) in str(err.value) and str(target) in str(err.value)
        assert store.get_slot(bot).state == source
        assert store.slot_transitions_for(bot) == before
