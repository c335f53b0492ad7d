"""One connection per database file and process, and the transactions every table module uses.

Thread-safe: a process shares one connection per file, used under a lock, one transaction at
a time. Process-safe: each process opens its own connection, and SQLite's write lock
(``BEGIN IMMEDIATE``) serialises writers across processes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from comet_pipeline.store.errors import DamagedStore, StoreError
from comet_pipeline.store.sqlite.schema import SCHEMA_VERSION, connect, migrate, user_version


@dataclass
class _Handle:
    """One process's connection to one database file, and the lock that serialises its use."""

    conn: sqlite3.Connection
    lock: threading.RLock
    db: sqlite_utils.Database


# One connection per (file, process). Keyed by pid so a forked child (Dagster's multiprocess
# executor) never touches the connection it inherited; it opens its own on first use. An
# inherited handle is left alone (not closed): closing it in the child could disturb the
# parent's locks.
_HANDLES: dict[tuple[str, int, bool], _Handle] = {}
_HANDLES_LOCK = threading.Lock()


def _reset_lock_in_child() -> None:
    # Another parent thread may have held the lock at fork time; the child gets a fresh one.
    global _HANDLES_LOCK
    _HANDLES_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_in_child)


#: What a person can do about a damaged file (the CLI and the step say it in one line).
DAMAGED_HINT = (
    "restore it from a backup, or move it aside and run `comet-pipeline store rebuild` "
    "to re-register the files on disk"
)


def _handle_for(path: str, read_only: bool) -> _Handle:
    key = (path, os.getpid(), read_only)
    with _HANDLES_LOCK:
        handle = _HANDLES.get(key)
        if handle is None:
            conn = _open_checked(path, read_only)
            handle = _Handle(conn, threading.RLock(), sqlite_utils.Database(conn))
            _HANDLES[key] = handle
        return handle


def _open_checked(path: str, read_only: bool) -> sqlite3.Connection:
    """Open, migrate (unless read-only) and check the file: every way it can be unusable
    becomes one StoreError naming the file, raised here rather than mid-step."""
    if read_only and not os.path.exists(path):
        raise StoreError(f"no lifecycle store at {path}")
    try:
        conn = connect(path, read_only=read_only)
    except sqlite3.Error as err:
        raise DamagedStore(path, f"cannot open it: {err}", DAMAGED_HINT) from err
    try:
        if not read_only:
            migrate(conn)
        found = user_version(conn)
        check = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.Error as err:
        conn.close()
        raise DamagedStore(path, str(err), DAMAGED_HINT) from err
    if check != "ok":
        conn.close()
        raise DamagedStore(path, f"integrity check failed: {check}", DAMAGED_HINT)
    if found > SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"{path}: schema version {found} is newer than this code ({SCHEMA_VERSION})"
        )
    if found < SCHEMA_VERSION:  # only when read-only: a writable open migrated it above
        conn.close()
        raise StoreError(
            f"{path}: schema version {found} is older than this code ({SCHEMA_VERSION});"
            " open it once with write access to migrate it"
        )
    return conn


class SQLiteConnection:
    """The base every table module builds on: the file, its connection, its transactions."""

    path: Path
    read_only: bool
    _key: str

    def _open(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = os.path.realpath(self.path)
        self._handle()  # create + migrate + check now, so errors surface at construction

    def _handle(self) -> _Handle:
        return _handle_for(self._key, self.read_only)

    @property
    def db(self) -> sqlite_utils.Database:
        """This process's sqlite-utils view of the database (introspection, ad-hoc reads)."""
        return self._handle().db

    @contextmanager
    def _write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock up front, so a
        read-then-update inside it cannot interleave with another writer."""
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only: nothing can be written")
        handle = self._handle()
        with handle.lock:
            handle.conn.execute("BEGIN IMMEDIATE")
            try:
                yield handle.db
            except BaseException:
                handle.conn.execute("ROLLBACK")
                raise
            handle.conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite_utils.Database]:
        """A consistent snapshot for multi-statement reads (WAL: never blocks writers)."""
        handle = self._handle()
        with handle.lock:
            handle.conn.execute("BEGIN")
            try:
                yield handle.db
            finally:
                handle.conn.execute("COMMIT")

    def close(self) -> None:
        """Close this process's connection to the file (others reopen on next use)."""
        key = (self._key, os.getpid(), self.read_only)
        with _HANDLES_LOCK:
            handle = _HANDLES.pop(key, None)
        if handle is not None:
            with handle.lock:
                handle.conn.close()

    def explain(self, sql: str, params: dict[str, Any] | Sequence[Any] = ()) -> list[str]:
        """The EXPLAIN QUERY PLAN detail lines of ``sql`` (to prove a query uses an index)."""
        with self._read() as db:
            return [row["detail"] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
