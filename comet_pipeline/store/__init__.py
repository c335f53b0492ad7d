"""Repository layer: the SQLite lifecycle store (schema, guarded transitions, time queries)."""

from comet_pipeline.store.errors import IllegalTransition, StoreError, UnknownFile
from comet_pipeline.store.lifecycle import CHRONOLOGICAL_FILES_SQL, LifecycleStore
from comet_pipeline.store.schema import SCHEMA_VERSION, migrate

__all__ = [
    "CHRONOLOGICAL_FILES_SQL",
    "SCHEMA_VERSION",
    "IllegalTransition",
    "LifecycleStore",
    "StoreError",
    "UnknownFile",
    "migrate",
]
