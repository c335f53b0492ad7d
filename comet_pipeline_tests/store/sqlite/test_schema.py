"""The SQLite engine itself: pragmas, migrations step by step and from older files, the
indexes behind the time queries, text times at rest, the protocol's signatures."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from comet_pipeline.domain import FileState
from comet_pipeline.store import SCHEMA_VERSION, SQLiteStore, StoreError, migrate
from comet_pipeline.store.sqlite import CHRONOLOGICAL_FILES_SQL, CHRONOLOGICAL_FRAMES_SQL
from comet_pipeline.store.sqlite.schema import MIGRATIONS, connect, user_version
from comet_pipeline_tests.store._helpers import T0, archive_file, many_files


@pytest.fixture
def store(tmp_path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "lifecycle.db")


def schema_of(path) -> list[tuple]:
    conn = connect(str(path))
    try:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        conn.close()


def test_pragmas_and_migration_twice_is_a_noop(tmp_path, store):
    path = tmp_path / "lifecycle.db"
    conn = connect(str(path))
    assert user_version(conn) == SCHEMA_VERSION >= 2
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    before = [tuple(r) for r in schema_of(path)]
    assert migrate(conn) == 0
    assert migrate(conn) == 0
    assert user_version(conn) == SCHEMA_VERSION
    conn.close()
    SQLiteStore(path).close()  # reopening migrates again: still nothing to do
    assert [tuple(r) for r in schema_of(path)] == before
    tables = set(store.db.table_names())
    assert {"slots", "files", "frames", "transitions", "candidates", "detections"} <= tables
    index_names = {i.name for i in store.db["files"].indexes}
    assert {"idx_files_detector_observed", "idx_files_state_next_attempt"} <= index_names


def test_fresh_file_migrates_step_by_step(tmp_path):
    conn = connect(str(tmp_path / "x.db"))
    assert user_version(conn) == 0
    assert migrate(conn) == SCHEMA_VERSION
    assert user_version(conn) == SCHEMA_VERSION
    conn.close()


def test_store_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "future.db"
    conn = connect(str(path))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(path)


def test_an_older_database_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.db"
    conn = connect(str(path))
    for version, step in enumerate(MIGRATIONS[:2], start=1):
        for statement in step:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO files (name, detector, observed_at, state, created_at, updated_at)"
        " VALUES ('old.fts', 'c2', ?, 'READY', ?, ?)",
        (T0.isoformat(timespec="microseconds"),) * 3,
    )
    conn.close()
    store = SQLiteStore(path)
    assert user_version(store.db.conn) == SCHEMA_VERSION
    assert store.get_file("old.fts").state == FileState.READY
    assert "idx_files_arrived" in {i.name for i in store.db["files"].indexes}


def test_the_sqlite_engine_implements_every_method_of_the_protocol():
    """mypy checks it where an SQLiteStore is used as a LifecycleStore; this checks the
    signatures themselves, so a second engine can be held to the same face."""
    import inspect

    from comet_pipeline.store.base import LifecycleStore as Protocol_  # noqa: N813

    names = [n for n in vars(Protocol_) if not n.startswith("_")]
    assert len(names) >= 30
    for name in names:
        want = inspect.signature(getattr(Protocol_, name))
        got = inspect.signature(getattr(SQLiteStore, name))
        assert got == want, name


def test_times_are_fixed_width_utc_text_at_rest(store):
    eastern = timezone(timedelta(hours=-5))
    observed = datetime(2025, 3, 1, 7, 30, 15, 123456, tzinfo=eastern)
    store.register_files([archive_file("tz.fts", observed)], now=observed)
    raw = store.db.execute("SELECT observed_at, created_at FROM files").fetchone()
    assert raw[0] == "2025-03-01T12:30:15.123456+00:00"
    assert raw[1].endswith("+00:00")


def test_upserting_known_slots_writes_nothing(store):
    from comet_pipeline.domain import Slot

    slots = [
        Slot(T0 + timedelta(hours=h), T0 + timedelta(hours=h, minutes=90), "DSS-14")
        for h in range(3)
    ]
    store.upsert_slots(slots, T0)
    rows = store.db.execute("SELECT * FROM slots ORDER BY bot").fetchall()
    store.upsert_slots(slots, T0 + timedelta(hours=1))
    assert store.db.execute("SELECT * FROM slots ORDER BY bot").fetchall() == rows


@pytest.mark.parametrize(
    ("sql", "params", "index"),
    [
        (
            CHRONOLOGICAL_FILES_SQL,
            {"detector": "c2", "start": "a", "end": "b"},
            "idx_files_detector_observed",
        ),
        (
            CHRONOLOGICAL_FRAMES_SQL,
            {"detector": "c2", "start": "a", "end": "b"},
            "idx_frames_detector_observed_name",
        ),
        (
            "SELECT count(*) FROM files WHERE arrived_at >= ? AND arrived_at <= ?",
            ("a", "b"),
            "idx_files_arrived",
        ),
        ("SELECT * FROM products WHERE frame = ?", ("a",), "sqlite_autoindex_products_1"),
    ],
)
def test_time_queries_are_index_range_scans(store, sql, params, index):
    store.register_files(many_files(50), now=T0)
    plan = store.explain(sql, params)
    assert any(index in line for line in plan), plan
    assert not any(line.startswith("SCAN") and "INDEX" not in line for line in plan), plan


def test_schema_4_frames_become_product_rows(tmp_path):
    """Migration 5 moves each frame path column into a products row, measures the file when
    it is still there, and keeps the frame's statistics and index."""
    path = tmp_path / "v4.db"
    conn = connect(str(path))
    for version, step in enumerate(MIGRATIONS[:4], start=1):
        for statement in step:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version}")
    stamp = T0.isoformat(timespec="microseconds")
    conn.execute(
        "INSERT INTO files (name, detector, observed_at, state, created_at, updated_at)"
        " VALUES ('old.fts', 'c2', ?, 'PROCESSED', ?, ?)",
        (stamp,) * 3,
    )
    cal = tmp_path / "old.cal.fits"
    cal.write_bytes(b"x" * 2880)
    conn.execute(
        "INSERT INTO frames (name, detector, observed_at, calibrated_path, png_path,"
        " median, stats_json, processed_at) VALUES ('old.fts', 'c2', ?, ?, '/gone.png', 3.5,"
        " ?, ?)",
        (stamp, str(cal), json.dumps({"star_count": 12.0}), stamp),
    )
    conn.close()
    store = SQLiteStore(path)
    assert user_version(store.db.conn) == SCHEMA_VERSION
    frame = store.frame("old.fts")
    assert frame is not None
    assert frame.path("calibrated") == str(cal) and frame.products["calibrated"].size_bytes == 2880
    assert frame.path("processed_png") == "/gone.png"
    assert frame.products["processed_png"].size_bytes is None
    assert frame.stats == {"median": 3.5, "star_count": 12.0}
    assert "calibrated_path" not in store.db.table("frames").columns_dict
    assert "idx_frames_detector_observed_name" in {i.name for i in store.db.table("frames").indexes}
