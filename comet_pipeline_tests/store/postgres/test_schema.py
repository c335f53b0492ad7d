"""The PostgreSQL engine itself: migrations (once, even when opened concurrently), the schema
mirroring SQLite's, times as timestamptz, the indexes behind claims and time queries,
read-only sessions, errors that name the database, the protocol's signatures."""

from __future__ import annotations

import inspect
import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.rows import dict_row

from comet_pipeline.domain import FileState
from comet_pipeline.store import SQLiteStore, StoreError
from comet_pipeline.store.postgres import (
    CHRONOLOGICAL_FILES_SQL,
    CHRONOLOGICAL_FRAMES_SQL,
    SCHEMA_VERSION,
    PostgresStore,
    migrate,
)
from comet_pipeline.store.postgres.files import _CLAIM_SQL, claimable
from comet_pipeline.store.postgres.schema import schema_version
from comet_pipeline_tests.store._helpers import T0, archive_file, many_files


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def columns(url: str) -> dict[str, dict[str, str]]:
    """table -> column -> data type, for the store's tables."""
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name != 'schema_migrations'"
        ).fetchall()
    found: dict[str, dict[str, str]] = {}
    for r in rows:
        found.setdefault(r["table_name"], {})[r["column_name"]] = r["data_type"]
    return found


def test_a_fresh_database_migrates_once_and_again_is_a_noop(postgres_database):
    with connect(postgres_database) as conn:
        assert schema_version(conn) == 0
        assert migrate(conn) == SCHEMA_VERSION
        assert migrate(conn) == 0
        versions = [r["version"] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))
    PostgresStore(postgres_database).close()  # opening migrates again: nothing to do
    with connect(postgres_database) as conn:
        assert schema_version(conn) == SCHEMA_VERSION


def test_concurrent_first_opens_apply_each_step_once(postgres_database):
    """Four sessions open a fresh database at the same moment: the advisory lock lets one
    migrate; the others wait, re-read the version and find nothing to do."""
    barrier = threading.Barrier(4)
    applied: list[int] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            with connect(postgres_database) as conn:
                barrier.wait(timeout=30)
                applied.append(migrate(conn))
        except BaseException as err:  # reported below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(applied) == [0, 0, 0, SCHEMA_VERSION]


def test_a_newer_schema_is_refused(postgres_database):
    PostgresStore(postgres_database).close()
    with connect(postgres_database) as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this code"):
        PostgresStore(postgres_database)


def test_a_read_only_open_never_migrates(postgres_database):
    with pytest.raises(StoreError, match="holds no lifecycle store yet.*write access"):
        PostgresStore(postgres_database, read_only=True)
    with connect(postgres_database) as conn:
        assert schema_version(conn) == 0  # nothing was created


def test_read_only_sessions_are_refused_writes_by_the_server(postgres_database):
    writable = PostgresStore(postgres_database)
    writable.register_files([archive_file("a.fts")], now=T0)
    reader = PostgresStore(postgres_database, read_only=True)
    assert reader.get_file("a.fts").state == FileState.DISCOVERED
    with pytest.raises(StoreError, match="read-only"):
        reader.register_files([archive_file("b.fts")], now=T0)
    # past the store's own check, the session itself refuses
    with reader._connection() as conn:
        setting = conn.execute("SHOW default_transaction_read_only").fetchone()
        assert next(iter(setting.values())) == "on"
    with pytest.raises(StoreError, match="read-only transaction"), reader._connection() as conn:
        conn.execute("DELETE FROM files")
    assert writable.known_names(["a.fts"]) == {"a.fts"}
    reader.close()
    writable.close()


def test_an_unreachable_server_is_one_store_error_without_the_password():
    with pytest.raises(StoreError) as err:
        PostgresStore("postgresql://comet:s3cret@127.0.0.1:1/comet?connect_timeout=2")
    assert "postgresql://comet@127.0.0.1:1/comet" in str(err.value)
    assert "s3cret" not in str(err.value)


def test_the_schema_mirrors_sqlites_tables_and_columns(tmp_path, postgres_database):
    """Step 1 is SQLite's end state: a SQLite step not mirrored here fails this test."""
    sqlite = SQLiteStore(tmp_path / "lifecycle.db")
    want = {
        table: set(sqlite.db[table].columns_dict)
        for table in sqlite.db.table_names()
        if table != "sqlite_sequence"
    }
    sqlite.close()
    PostgresStore(postgres_database).close()
    got = {table: set(cols) for table, cols in columns(postgres_database).items()}
    assert got == want


def test_every_time_is_a_timestamptz_and_comes_back_utc(postgres_database):
    store = PostgresStore(postgres_database)
    time_columns = {
        (table, col)
        for table, cols in columns(postgres_database).items()
        for col, kind in cols.items()
        if kind == "timestamp with time zone"
    }
    expected = {
        (table, col)
        for table, cols in columns(postgres_database).items()
        for col in cols
        if col.endswith("_at") or col in ("at", "bot", "eot", "slot_bot")
    }
    assert time_columns == expected and ("files", "observed_at") in time_columns
    eastern = timezone(timedelta(hours=-5))
    observed = datetime(2025, 3, 1, 7, 30, 15, 123456, tzinfo=eastern)
    store.register_files([archive_file("tz.fts", observed)], now=observed)
    with connect(postgres_database) as conn:
        raw = conn.execute(
            "SELECT to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS t"
            " FROM files"
        ).fetchone()
    assert raw["t"] == "2025-03-01 12:30:15.123456"
    record = store.get_file("tz.fts")
    assert record.observed_at == observed and record.observed_at.utcoffset() == timedelta(0)
    store.close()


def _plan(url: str, sql: str, params: dict) -> str:
    """EXPLAIN with sequential scans priced out: which index the query can use."""
    with connect(url) as conn, conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("ANALYZE")
        return "\n".join(
            next(iter(r.values())) for r in conn.execute(f"EXPLAIN {sql}", params).fetchall()
        )


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (CHRONOLOGICAL_FILES_SQL, "idx_files_detector_observed"),
        (CHRONOLOGICAL_FRAMES_SQL, "idx_frames_detector_observed_name"),
        (
            _CLAIM_SQL.format(where=claimable(FileState.DOWNLOADING), limit="LIMIT 10"),
            "idx_files_claimable",
        ),
    ],
)
def test_claims_and_time_queries_use_their_indexes(postgres_database, sql, index):
    """A claim over a backlog reads the claimable index in order and stops at its LIMIT
    (no sort of every waiting file); time queries are range scans."""
    store = PostgresStore(postgres_database)
    store.register_files(many_files(200), now=T0)
    params = {
        "detector": "c2",
        "start": T0,
        "end": T0 + timedelta(days=1),
        "now": T0,
        "target": "DOWNLOADING",
        "owner": "w",
        "expires": T0,
        "run_id": "r",
        "reason": "x",
    }
    plan = _plan(postgres_database, sql, params)
    assert index in plan, plan
    assert "Seq Scan on files" not in plan and "Seq Scan on frames" not in plan, plan
    store.close()


def test_the_postgres_engine_implements_every_method_of_the_protocol():
    from comet_pipeline.store.base import LifecycleStore as Protocol_  # noqa: N813

    names = [n for n in vars(Protocol_) if not n.startswith("_")]
    assert len(names) >= 30
    for name in names:
        want = inspect.signature(getattr(Protocol_, name))
        got = inspect.signature(getattr(PostgresStore, name))
        assert got == want, name
