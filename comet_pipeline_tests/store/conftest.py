"""Every engine of the lifecycle store, behind one fixture: the behavioural tests in this
folder are written once, against :class:`LifecycleStore`, and run on each engine here.
A further engine adds one entry to ``ENGINES``.

PostgreSQL: one real server per test session (``postgres_server``, started only when a
PostgreSQL test runs), and a fresh database for every store a test makes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from comet_pipeline.store import LifecycleStore, SQLiteStore
from comet_pipeline.store.postgres import PostgresStore
from comet_pipeline_tests.postgres_server import PostgresServer, start_server

StoreFactory = Callable[..., LifecycleStore]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (see ``postgres_server.py``)."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server) -> str:
    """A database migrated once, that each store's database is copied from (copying it is
    faster than migrating each one)."""
    url = postgres_server.new_database()
    PostgresStore(url).close()
    return url.rsplit("/", 1)[1]


@pytest.fixture
def postgres_database(postgres_server) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)


def _sqlite(request: pytest.FixtureRequest, number: int, **options: Any) -> LifecycleStore:
    tmp_path = request.getfixturevalue("tmp_path")
    return SQLiteStore(tmp_path / f"lifecycle-{number}.db", **options)


def _postgres(request: pytest.FixtureRequest, number: int, **options: Any) -> LifecycleStore:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.new_database(template=request.getfixturevalue("postgres_template"))
    request.addfinalizer(lambda: server.drop_database(url))
    return PostgresStore(url, **options)


#: engine name -> ``(request, number, **options)`` -> a fresh, empty store
ENGINES: dict[str, Callable[..., LifecycleStore]] = {"sqlite": _sqlite, "postgres": _postgres}


@pytest.fixture(params=sorted(ENGINES))
def make_store(request) -> Iterator[StoreFactory]:
    """``make_store(**options)``: a fresh, empty store of the engine under test (a new one
    on every call), with a seeded backoff RNG unless one is given."""
    engine = ENGINES[request.param]
    made: list[LifecycleStore] = []

    def make(**options: Any) -> LifecycleStore:
        options.setdefault("rng", random.Random(42))
        store = engine(request, len(made), **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store) -> LifecycleStore:
    return make_store()
