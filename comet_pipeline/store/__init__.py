"""Repository layer: the LifecycleStore protocol (base.py) every caller annotates, and its
engines: SQLite (sqlite/: one file in COMET_HOME, on sqlite-utils) and PostgreSQL
(postgres/: psycopg 3), each with its schema and migrations and one module per aggregate.

``open_store`` is the one place that maps the setting (``COMET_STORE_URL``, see
``location.py``) to an engine; the front doors open stores through it. It lives here, in
the package's face, because only the face and the engine packages may name an engine.
"""

from __future__ import annotations

import os
from typing import Any

from comet_pipeline.settings import Settings
from comet_pipeline.store.base import LifecycleStore
from comet_pipeline.store.errors import (
    DamagedStore,
    IllegalTransition,
    StoreError,
    UnknownCandidate,
    UnknownFile,
    VerdictChanged,
)
from comet_pipeline.store.location import StoreLocation, store_location
from comet_pipeline.store.sqlite import (
    CHRONOLOGICAL_FILES_SQL,
    SCHEMA_VERSION,
    SQLiteStore,
    migrate,
)


def open_store(
    where: Settings | StoreLocation | str | os.PathLike[str],
    *,
    read_only: bool = False,
    **options: Any,  # noqa: ANN401  the engines' shared options: max_attempts, lease, rng, ...
) -> LifecycleStore:
    """The lifecycle store ``where`` names (see ``store_location``): settings with
    ``store_url`` set or a ``postgresql://`` URL open PostgreSQL, anything else the SQLite
    file. ``read_only`` refuses every write (SQLite: the file opened read-only; PostgreSQL:
    sessions with ``default_transaction_read_only = on``)."""
    location = store_location(where)
    if location.url is not None:
        # imported here, so a SQLite deployment never loads psycopg
        from comet_pipeline.store.postgres import PostgresStore

        return PostgresStore(location.url, read_only=read_only, **options)
    assert location.path is not None  # a location is exactly one of the two
    return SQLiteStore(location.path, read_only=read_only, **options)


__all__ = [
    "CHRONOLOGICAL_FILES_SQL",
    "SCHEMA_VERSION",
    "DamagedStore",
    "IllegalTransition",
    "LifecycleStore",
    "SQLiteStore",
    "StoreError",
    "StoreLocation",
    "UnknownCandidate",
    "UnknownFile",
    "VerdictChanged",
    "migrate",
    "open_store",
    "store_location",
]
