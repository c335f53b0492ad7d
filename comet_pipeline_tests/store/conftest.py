"""Every engine of the lifecycle store, behind one fixture: the behavioural tests in this
folder are written once, against :class:`LifecycleStore`, and run on each engine here.
A second engine adds one entry to ``ENGINES``."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from comet_pipeline.store import LifecycleStore, SQLiteStore

StoreFactory = Callable[..., LifecycleStore]


def _sqlite(tmp_path: Path, number: int, **options: Any) -> LifecycleStore:
    return SQLiteStore(tmp_path / f"lifecycle-{number}.db", **options)


ENGINES: dict[str, Callable[..., LifecycleStore]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(ENGINES))
def make_store(request, tmp_path) -> StoreFactory:
    """``make_store(**options)``: a fresh, empty store of the engine under test (a new one
    on every call), with a seeded backoff RNG unless one is given."""
    engine = ENGINES[request.param]
    made: list[LifecycleStore] = []

    def make(**options: Any) -> LifecycleStore:
        options.setdefault("rng", random.Random(42))
        store = engine(tmp_path, len(made), **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store) -> LifecycleStore:
    return make_store()
