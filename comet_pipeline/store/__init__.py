"""Repository layer: the LifecycleStore protocol (base.py) and its SQLite engine (lifecycle.py:
schema, guarded transitions, leases, time queries, on sqlite-utils)."""

from comet_pipeline.store.base import LifecycleStore
from comet_pipeline.store.errors import IllegalTransition, StoreError, UnknownFile
from comet_pipeline.store.lifecycle import CHRONOLOGICAL_FILES_SQL, SQLiteStore
from comet_pipeline.store.schema import SCHEMA_VERSION, migrate

__all__ = [
    "CHRONOLOGICAL_FILES_SQL",
    "SCHEMA_VERSION",
    "IllegalTransition",
    "LifecycleStore",
    "SQLiteStore",
    "StoreError",
    "UnknownFile",
    "migrate",
]
