"""The PostgreSQL engine (psycopg 3): connections and pools, schema and migrations, one
module per aggregate (slots, files and transitions, frames and products, candidates,
retention), put together in ``store``. Chosen by ``COMET_STORE_URL=postgresql://...``."""

from comet_pipeline.store.postgres.files import CHRONOLOGICAL_FILES_SQL
from comet_pipeline.store.postgres.frames import CHRONOLOGICAL_FRAMES_SQL
from comet_pipeline.store.postgres.schema import SCHEMA_VERSION, migrate
from comet_pipeline.store.postgres.store import PostgresStore

__all__ = [
    "CHRONOLOGICAL_FILES_SQL",
    "CHRONOLOGICAL_FRAMES_SQL",
    "SCHEMA_VERSION",
    "PostgresStore",
    "migrate",
]
