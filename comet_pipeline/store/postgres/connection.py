"""Connections to one PostgreSQL database, and the transactions every table module uses.

Thread-safe: each store keeps a small pool per process (``psycopg_pool``); a thread takes a
connection for one transaction and gives it back. Process-safe: row locks (``SELECT ... FOR
UPDATE``, claims with ``SKIP LOCKED``) serialise writers of the same rows across processes,
where SQLite takes one write lock for the whole file.

Fork-safe: a pool is keyed by the process id, so a forked child (Dagster's multiprocess
executor, the race tests) opens its own and never touches its parent's: psycopg does not
end a connection it collects in a process other than the one that opened it, so the
parent's sessions outlive the child.

Every session runs with ``TimeZone=UTC`` (times come out as aware UTC datetimes); a
read-only store's sessions also with ``default_transaction_read_only=on``, so the server
itself refuses a write.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import Connection
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from comet_pipeline.store.errors import StoreError
from comet_pipeline.store.location import redact
from comet_pipeline.store.postgres.schema import SCHEMA_VERSION, migrate, schema_version

Conn = Connection[DictRow]

#: Errors that mean "the database cannot be used now" (unreachable, shut down, a pool
#: exhausted, a write refused to a read-only session): StoreError to callers, never psycopg's.
UNAVAILABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.errors.ReadOnlySqlTransaction,
)

#: Seconds to wait for the server when connecting, unless the URL says otherwise.
CONNECT_TIMEOUT_S = 10

_LOCK = threading.Lock()
#: Every pool opened and not yet closed, with its process: held here until ``close()`` or
#: exit, because a pool merely dropped (a CLI command's store) would be collected in
#: whichever thread let go of it last, possibly one of its own workers, which cannot stop
#: itself. At exit this process's pools are closed, ending their sessions politely.
_OPEN_POOLS: dict[int, tuple[int, ConnectionPool[Conn]]] = {}


#: A pooled connection idle longer than this is pinged before it is handed out, so one the
#: server dropped meanwhile (a restart) is replaced rather than failing a step; a busy one
#: is not, which would cost a round trip per call.
IDLE_CHECK_S = 30.0
_LAST_USED: weakref.WeakKeyDictionary[Conn, float] = weakref.WeakKeyDictionary()


def _check_if_idle(conn: Conn) -> None:
    last = _LAST_USED.get(conn)
    if last is not None and time.monotonic() - last > IDLE_CHECK_S:
        ConnectionPool.check_connection(conn)


def _reset_lock_in_child() -> None:
    # Another parent thread may have held the lock at fork time; the child gets a fresh one.
    global _LOCK
    _LOCK = threading.Lock()


def _close_pools_at_exit() -> None:
    for pid, pool in list(_OPEN_POOLS.values()):
        if pid == os.getpid():
            pool.close(timeout=5)


os.register_at_fork(after_in_child=_reset_lock_in_child)
atexit.register(_close_pools_at_exit)


def session_conninfo(url: str, *, read_only: bool) -> str:
    """``url`` as libpq connection parameters, plus the session settings the store needs
    (after any ``options`` the URL gives, so these win)."""
    params: dict[str, Any] = conninfo_to_dict(url)
    settings = ["-c TimeZone=UTC"]
    if read_only:
        settings.append("-c default_transaction_read_only=on")
    params["options"] = " ".join([params.get("options") or "", *settings]).strip()
    params.setdefault("application_name", "comet_pipeline")
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    return make_conninfo("", **params)


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


class PostgresConnection:
    """The base every table module builds on: the database, its pools, its transactions."""

    location: str
    read_only: bool
    _conninfo: str
    _pool_size: int
    _pools: dict[int, ConnectionPool[Conn]]

    def _open(self, url: str, *, read_only: bool = False, pool_size: int = 4) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self.location = redact(url)
        self.read_only = read_only
        self._conninfo = session_conninfo(url, read_only=read_only)
        self._pool_size = pool_size
        self._pools = {}
        self._check()  # connect + migrate + check now, so errors surface at construction

    def _check(self) -> None:
        """Migrate (unless read-only) and check the version, on a connection of its own."""
        try:
            with psycopg.connect(self._conninfo, row_factory=dict_row, autocommit=True) as conn:
                if not self.read_only:
                    migrate(conn)
                found = schema_version(conn)
        except psycopg.Error as err:
            raise StoreError(f"lifecycle store {self.location}: {one_line(err)}") from err
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.location}: schema version {found} is newer than this code"
                f" ({SCHEMA_VERSION})"
            )
        if found < SCHEMA_VERSION:  # only when read-only: a writable open migrated it above
            what = "holds no lifecycle store yet" if found == 0 else f"is at schema {found}"
            raise StoreError(
                f"{self.location} {what} (this code needs {SCHEMA_VERSION}): open it once with"
                " write access (`comet-pipeline init`) to migrate it"
            )

    def _pool(self) -> ConnectionPool[Conn]:
        pid = os.getpid()
        with _LOCK:
            pool = self._pools.get(pid)
            if pool is None:
                pool = ConnectionPool(
                    self._conninfo,
                    connection_class=Conn,
                    kwargs={"row_factory": dict_row, "autocommit": True},
                    # connections are made on demand and kept while used (idle ones go
                    # after ten minutes): a CLI command opens one, a busy worker a few
                    min_size=0,
                    max_size=self._pool_size,
                    check=_check_if_idle,
                    name=f"comet-store-{pid}",
                    open=True,
                )
                self._pools[pid] = pool
                _OPEN_POOLS[id(pool)] = (pid, pool)
            return pool

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        try:
            with self._pool().connection() as conn:
                try:
                    yield conn
                finally:
                    _LAST_USED[conn] = time.monotonic()
        except UNAVAILABLE as err:
            raise StoreError(f"lifecycle store {self.location}: {one_line(err)}") from err

    @contextmanager
    def _read_one(self) -> Iterator[Conn]:
        """For one statement, a snapshot on its own: no BEGIN/COMMIT round trips."""
        with self._connection() as conn:
            yield conn

    @contextmanager
    def _write_one(self) -> Iterator[Conn]:
        """For one statement, atomic on its own (a claim is one): no BEGIN/COMMIT round trips."""
        if self.read_only:
            raise StoreError(f"{self.location} is open read-only: nothing can be written")
        with self._connection() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Conn]:
        """One read-committed write transaction. A read-then-update inside it locks the row
        first (``FOR UPDATE``), so it cannot interleave with another writer of that row."""
        if self.read_only:
            raise StoreError(f"{self.location} is open read-only: nothing can be written")
        with self._connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Conn]:
        """A consistent snapshot for multi-statement reads (never blocks writers)."""
        with self._connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield conn
            except BaseException:
                if not conn.broken:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close this process's pool for this store (the next use opens a new one)."""
        with _LOCK:
            pool = self._pools.pop(os.getpid(), None)
            if pool is not None:
                _OPEN_POOLS.pop(id(pool), None)
        if pool is not None:
            pool.close()
