"""The SQLite engine: connection handling, schema and migrations, one module per aggregate
(slots, files and transitions, frames and products, candidates), put together in ``store``."""

from comet_pipeline.store.sqlite.files import CHRONOLOGICAL_FILES_SQL
from comet_pipeline.store.sqlite.frames import CHRONOLOGICAL_FRAMES_SQL
from comet_pipeline.store.sqlite.schema import SCHEMA_VERSION, migrate
from comet_pipeline.store.sqlite.store import SQLiteStore

__all__ = [
    "CHRONOLOGICAL_FILES_SQL",
    "CHRONOLOGICAL_FRAMES_SQL",
    "SCHEMA_VERSION",
    "SQLiteStore",
    "migrate",
]
