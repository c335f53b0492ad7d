"""Repository layer: the LifecycleStore protocol (base.py) every caller annotates, and its
SQLite engine (sqlite/: schema and migrations, one module per aggregate, on sqlite-utils)."""

from comet_pipeline.store.base import LifecycleStore
from comet_pipeline.store.errors import (
    DamagedStore,
    IllegalTransition,
    StoreError,
    UnknownCandidate,
    UnknownFile,
    VerdictChanged,
)
from comet_pipeline.store.sqlite import (
    CHRONOLOGICAL_FILES_SQL,
    SCHEMA_VERSION,
    SQLiteStore,
    migrate,
)

__all__ = [
    "CHRONOLOGICAL_FILES_SQL",
    "SCHEMA_VERSION",
    "DamagedStore",
    "IllegalTransition",
    "LifecycleStore",
    "SQLiteStore",
    "StoreError",
    "UnknownCandidate",
    "UnknownFile",
    "VerdictChanged",
    "migrate",
]
