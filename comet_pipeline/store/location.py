"""Where the lifecycle store lives, as one setting says: ``COMET_STORE_URL`` unset is the
SQLite file in COMET_HOME, ``postgresql://...`` a PostgreSQL database.

Engine-neutral on purpose: the front doors ask "is it there yet?" and "what do I call it in
a message?" without knowing which engine answers; ``comet_pipeline.store.open_store`` is
the one place that turns a location into an engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from comet_pipeline.settings import Settings

#: URL schemes that select the PostgreSQL engine (libpq accepts both).
POSTGRES_SCHEMES = ("postgresql", "postgres")

Engine = Literal["sqlite", "postgresql"]


def is_postgres_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in POSTGRES_SCHEMES


def redact(url: str) -> str:
    """``url`` without its password (in the user part or as ``?password=``), for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@dataclass(frozen=True)
class StoreLocation:
    """A SQLite file (``path``) or a PostgreSQL database (``url``): exactly one is set."""

    path: Path | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.url is None):
            raise ValueError("a store location is a SQLite path or a PostgreSQL URL, not both")

    @property
    def engine(self) -> Engine:
        return "sqlite" if self.url is None else "postgresql"

    @property
    def target(self) -> Path | str:
        """What an engine opens: the SQLite file, or the PostgreSQL URL."""
        return self.path if self.path is not None else str(self.url)

    def exists(self) -> bool:
        """Whether there is a store to open. A database server is asked when opened (a
        database that was never migrated is then refused to a read-only open)."""
        return self.path.exists() if self.path is not None else True

    def __str__(self) -> str:
        return str(self.path) if self.url is None else redact(self.url)


def store_location(where: Settings | StoreLocation | str | os.PathLike[str]) -> StoreLocation:
    """The store that ``where`` names: settings (their ``store_url``, else the home's
    SQLite file), a ``postgresql://`` URL, or a SQLite file's path."""
    if isinstance(where, StoreLocation):
        return where
    if isinstance(where, Settings):
        if where.store_url:
            return StoreLocation(url=where.store_url)
        return StoreLocation(path=where.layout.lifecycle_db)
    text = os.fspath(where)
    if is_postgres_url(text):
        return StoreLocation(url=text)
    return StoreLocation(path=Path(text))
