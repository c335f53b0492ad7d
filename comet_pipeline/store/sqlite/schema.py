"""Schema of the lifecycle database as an ordered list of migration steps.

Step ``i`` (1-based) brings ``PRAGMA user_version`` from ``i - 1`` to ``i``. Steps are
append-only: never edit a released step, add a new one. Early steps are SQL text; later ones
are functions over a sqlite-utils ``Database`` (``create``, ``transform``, ``insert_all``). Each step runs in its own
``BEGIN IMMEDIATE`` transaction that re-reads the version, so two processes opening a
fresh file at once cannot both apply it, and running the migration again is a no-op.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

BUSY_TIMEOUT_MS = 30_000

#: The frame path columns of schema 4 and the product (``imaging.products`` name) each held.
_PATH_COLUMNS = {
    "calibrated_path": "calibrated",
    "background_path": "processed",
    "difference_path": "difference",
    "png_path": "processed_png",
    "preview_path": "preview",
    "thumbnail_path": "thumbnail",
    "difference_png_path": "difference_png",
}


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _products_table(db: sqlite_utils.Database) -> None:
    """5: a frame's products become rows (frame, product, path, bytes) instead of a column
    each, so a new product needs no schema change; frames say which background they used."""
    rows = [
        {"frame": r["name"], "product": product, "path": r[column], "bytes": _size(r[column])}
        for r in db.table("frames").rows
        for column, product in _PATH_COLUMNS.items()
        if r[column]
    ]
    db.table("frames").transform(drop=set(_PATH_COLUMNS))
    db.table("frames").add_column("background_kind", str)
    db.table("frames").add_column("background_frames", int)
    db.table("products").create(
        {"frame": str, "product": str, "path": str, "bytes": int},
        pk=("frame", "product"),
        foreign_keys=[("frame", "frames", "name")],
        not_null={"path"},
    )
    db.table("products").insert_all(rows)


Step = tuple[str, ...] | Callable[[sqlite_utils.Database], None]

MIGRATIONS: tuple[Step, ...] = (
    # 1: the lifecycle: slots, files, frames, the audit trail.
    (
        """CREATE TABLE slots (
            bot TEXT PRIMARY KEY,
            eot TEXT NOT NULL,
            antenna TEXT NOT NULL,
            state TEXT NOT NULL,
            source TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE files (
            name TEXT PRIMARY KEY,
            detector TEXT NOT NULL,
            observed_at TEXT NOT NULL,
            arrived_at TEXT,
            exptime REAL,
            naxis1 INTEGER,
            naxis2 INTEGER,
            filter TEXT,
            polarizer TEXT,
            program TEXT,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            skip_reason TEXT,
            lease_owner TEXT,
            lease_expires_at TEXT,
            sha256 TEXT,
            raw_path TEXT,
            slot_bot TEXT REFERENCES slots(bot),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX idx_files_detector_observed ON files(detector, observed_at)",
        "CREATE INDEX idx_files_state_next_attempt ON files(state, next_attempt_at)",
        "CREATE INDEX idx_files_slot ON files(slot_bot)",
        """CREATE TABLE frames (
            name TEXT PRIMARY KEY REFERENCES files(name),
            detector TEXT NOT NULL,
            observed_at TEXT NOT NULL,
            calibrated_path TEXT NOT NULL,
            background_path TEXT,
            difference_path TEXT,
            png_path TEXT,
            preview_path TEXT,
            thumbnail_path TEXT,
            difference_png_path TEXT,
            median REAL,
            noise_sigma REAL,
            masked_fraction REAL,
            saturated_fraction REAL,
            missing_blocks INTEGER,
            stats_json TEXT NOT NULL DEFAULT '{}',
            processed_at TEXT NOT NULL
        )""",
        "CREATE INDEX idx_frames_detector_observed ON frames(detector, observed_at)",
        """CREATE TABLE transitions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            file TEXT NOT NULL REFERENCES files(name),
            from_state TEXT,
            to_state TEXT NOT NULL,
            at TEXT NOT NULL,
            run_id TEXT,
            reason TEXT
        )""",
        "CREATE INDEX idx_transitions_file ON transitions(file, id)",
        """CREATE TABLE slot_transitions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            bot TEXT NOT NULL REFERENCES slots(bot),
            from_state TEXT,
            to_state TEXT NOT NULL,
            at TEXT NOT NULL,
            reason TEXT
        )""",
        "CREATE INDEX idx_slot_transitions_bot ON slot_transitions(bot, id)",
    ),
    # 2: comet candidates and the detections that make up their tracks.
    (
        """CREATE TABLE candidates (
            id TEXT PRIMARY KEY,
            detector TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            n_frames INTEGER NOT NULL DEFAULT 0,
            score REAL,
            snr REAL,
            speed_px_per_hour REAL,
            direction_deg REAL,
            status TEXT NOT NULL DEFAULT 'new',
            report_text TEXT,
            cutout_path TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX idx_candidates_detector_seen ON candidates(detector, first_seen_at)",
        """CREATE TABLE detections (
            id INTEGER PRIMARY KEY,
            candidate_id TEXT NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
            file TEXT NOT NULL REFERENCES files(name),
            observed_at TEXT NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            flux REAL,
            snr REAL,
            UNIQUE(candidate_id, file)
        )""",
        "CREATE INDEX idx_detections_file ON detections(file)",
    ),
    # 3: slot reconciliation counts arrivals in a downlink window.
    ("CREATE INDEX idx_files_arrived ON files(arrived_at)",),
    # 4: a candidate that is a known object (a planet) says which: "known: venus".
    ("ALTER TABLE candidates ADD COLUMN known TEXT",),
    _products_table,
    # 6: hunters' verdicts on candidates (audited like transitions, and kept when a
    # candidate row is merged away), and the viewer's bearer tokens (hashes only).
    (
        """CREATE TABLE candidate_reviews (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            candidate_id TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            by TEXT NOT NULL,
            at TEXT NOT NULL,
            note TEXT
        )""",
        "CREATE INDEX idx_candidate_reviews_candidate ON candidate_reviews(candidate_id, id)",
        """CREATE TABLE api_tokens (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )""",
    ),
    # 7: a page of frames is ordered by (observed_at, name); with the name in the index the
    # page is read in index order, with no sort of the range first.
    (
        "CREATE INDEX idx_frames_detector_observed_name ON frames(detector, observed_at, name)",
        # IF EXISTS: sqlite-utils before 3.38 dropped indexes in migration 5's transform()
        "DROP INDEX IF EXISTS idx_frames_detector_observed",
    ),
    # 8: a frame's roll (CROTA1), so a viewer can map display pixels to the array's.
    ("ALTER TABLE frames ADD COLUMN roll_deg REAL",),
    # 9: and its array size, so a viewer maps the (1024 px) display to a binned array too.
    (
        "ALTER TABLE frames ADD COLUMN naxis1 INTEGER",
        "ALTER TABLE frames ADD COLUMN naxis2 INTEGER",
    ),
    # 10: retention removes files but not their rows: a product (or a raw file) knows when
    # it was pruned, so it is not served, hunted or counted, and re-processing remakes it.
    (
        "ALTER TABLE products ADD COLUMN pruned_at TEXT",
        "ALTER TABLE files ADD COLUMN raw_pruned_at TEXT",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """Open ``path`` the way the store needs it: autocommit (we issue BEGIN ourselves),
    WAL so readers never block the writer, a long busy timeout, foreign keys enforced.

    ``read_only`` opens an existing file without writing anything to it or beside it, so a
    read-only home can still be inspected (``status``, ``frames``)."""
    if read_only:
        conn = _connect_read_only(path)
    else:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not read_only:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _connect_read_only(path: str) -> sqlite3.Connection:
    uri = Path(path).resolve().as_uri()

    def open_uri(mode: str) -> sqlite3.Connection:
        return sqlite3.connect(
            f"{uri}?{mode}",
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )

    conn = open_uri("mode=ro")
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL database in a directory we cannot write has no -shm to share; nobody can
        # write there either, so reading it as immutable is safe.
        conn.close()
        conn = open_uri("immutable=1")
    return conn


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing steps; return the number applied (0 when already current)."""
    applied = 0
    while user_version(conn) < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = user_version(conn)  # re-read under the write lock
            if version >= SCHEMA_VERSION:
                conn.execute("COMMIT")
                break
            step = MIGRATIONS[version]
            if callable(step):
                step(sqlite_utils.Database(conn))
            else:
                for statement in step:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
            applied += 1
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied
