"""Schema of the lifecycle database on PostgreSQL, as an ordered list of migration steps.

Step ``i`` (1-based) brings the database from version ``i - 1`` to ``i``; ``schema_migrations``
holds one row per step applied. Steps are append-only: never edit a released step, add one.
Step 1 is the SQLite schema's end state (its version 10) in PostgreSQL's types: times are
``timestamptz``, ids identities, statistics ``jsonb``; names and ids sort byte-wise
(``COLLATE "C"``, as SQLite's text does), so both engines order pages alike. A test
compares the two schemas' tables and columns, so a SQLite step not mirrored here fails.

Each step runs in its own transaction under a transaction-level advisory lock, and re-reads
the version once it holds it: two processes opening a fresh database at once cannot both
apply a step, and migrating again is a no-op. PostgreSQL's DDL is transactional, so a step
that fails leaves nothing half-done.
"""

from __future__ import annotations

from psycopg import Connection
from psycopg.rows import DictRow

from comet_pipeline.domain import FileState

#: The advisory lock migrations take (any constant; advisory locks are per database).
MIGRATION_LOCK = 0x636F6D6574  # "comet"

#: States a claim picks from: the partial index below holds only these rows, so a claim is
#: an ordered index scan that stops at its LIMIT however many files are done.
_CLAIMABLE = ", ".join(
    f"'{s.value}'"
    for s in (
        FileState.DISCOVERED,
        FileState.READY,
        FileState.DOWNLOAD_FAILED,
        FileState.PROCESSING_FAILED,
    )
)

Step = tuple[str, ...]

MIGRATIONS: tuple[Step, ...] = (
    # 1: the SQLite schema's end state (its steps 1-10): slots, files and their audit,
    # frames and their products (retention marks what it pruned), candidates with their
    # detections and verdicts, the viewer's token hashes.
    (
        """CREATE TABLE slots (
            bot timestamptz PRIMARY KEY,
            eot timestamptz NOT NULL,
            antenna text NOT NULL,
            state text NOT NULL,
            source text NOT NULL,
            updated_at timestamptz NOT NULL
        )""",
        """CREATE TABLE files (
            name text COLLATE "C" PRIMARY KEY,
            detector text NOT NULL,
            observed_at timestamptz NOT NULL,
            arrived_at timestamptz,
            exptime double precision,
            naxis1 integer,
            naxis2 integer,
            filter text,
            polarizer text,
            program text,
            state text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz,
            last_error text,
            skip_reason text,
            lease_owner text,
            lease_expires_at timestamptz,
            sha256 text,
            raw_path text,
            slot_bot timestamptz REFERENCES slots(bot),
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            raw_pruned_at timestamptz
        )""",
        "CREATE INDEX idx_files_detector_observed ON files(detector, observed_at)",
        "CREATE INDEX idx_files_state_next_attempt ON files(state, next_attempt_at)",
        "CREATE INDEX idx_files_slot ON files(slot_bot)",
        "CREATE INDEX idx_files_arrived ON files(arrived_at)",
        f"CREATE INDEX idx_files_claimable ON files(observed_at, name) WHERE state IN ({_CLAIMABLE})",
        """CREATE TABLE frames (
            name text COLLATE "C" PRIMARY KEY REFERENCES files(name),
            detector text NOT NULL,
            observed_at timestamptz NOT NULL,
            median double precision,
            noise_sigma double precision,
            masked_fraction double precision,
            saturated_fraction double precision,
            missing_blocks integer,
            stats_json jsonb NOT NULL DEFAULT '{}',
            processed_at timestamptz NOT NULL,
            background_kind text,
            background_frames integer,
            roll_deg double precision,
            naxis1 integer,
            naxis2 integer
        )""",
        "CREATE INDEX idx_frames_detector_observed_name ON frames(detector, observed_at, name)",
        """CREATE TABLE products (
            frame text COLLATE "C" NOT NULL REFERENCES frames(name),
            product text COLLATE "C" NOT NULL,
            path text NOT NULL,
            bytes bigint,
            pruned_at timestamptz,
            PRIMARY KEY (frame, product)
        )""",
        """CREATE TABLE transitions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            file text COLLATE "C" NOT NULL REFERENCES files(name),
            from_state text,
            to_state text NOT NULL,
            at timestamptz NOT NULL,
            run_id text,
            reason text
        )""",
        "CREATE INDEX idx_transitions_file ON transitions(file, id)",
        """CREATE TABLE slot_transitions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            bot timestamptz NOT NULL REFERENCES slots(bot),
            from_state text,
            to_state text NOT NULL,
            at timestamptz NOT NULL,
            reason text
        )""",
        "CREATE INDEX idx_slot_transitions_bot ON slot_transitions(bot, id)",
        """CREATE TABLE candidates (
            id text COLLATE "C" PRIMARY KEY,
            detector text NOT NULL,
            first_seen_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL,
            n_frames integer NOT NULL DEFAULT 0,
            score double precision,
            snr double precision,
            speed_px_per_hour double precision,
            direction_deg double precision,
            status text NOT NULL DEFAULT 'new',
            report_text text,
            cutout_path text,
            updated_at timestamptz NOT NULL,
            known text
        )""",
        "CREATE INDEX idx_candidates_detector_seen ON candidates(detector, first_seen_at)",
        """CREATE TABLE detections (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            candidate_id text COLLATE "C" NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
            file text COLLATE "C" NOT NULL REFERENCES files(name),
            observed_at timestamptz NOT NULL,
            x double precision NOT NULL,
            y double precision NOT NULL,
            flux double precision,
            snr double precision,
            UNIQUE (candidate_id, file)
        )""",
        "CREATE INDEX idx_detections_file ON detections(file)",
        """CREATE TABLE candidate_reviews (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            candidate_id text COLLATE "C" NOT NULL,
            from_status text,
            to_status text NOT NULL,
            "by" text NOT NULL,
            at timestamptz NOT NULL,
            note text
        )""",
        "CREATE INDEX idx_candidate_reviews_candidate ON candidate_reviews(candidate_id, id)",
        """CREATE TABLE api_tokens (
            name text COLLATE "C" PRIMARY KEY,
            hash text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        )""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""

Conn = Connection[DictRow]


def schema_version(conn: Conn) -> int:
    """The version the database is at (0: never migrated, no version table yet)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS present").fetchone()
    if row is None or not row["present"]:
        return 0
    found = conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").fetchone()
    return 0 if found is None else int(found["v"])


def migrate(conn: Conn) -> int:
    """Apply the missing steps; return the number applied (0 when already current)."""
    applied = 0
    while True:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(_VERSION_TABLE)  # under the lock: concurrent creates would clash
            version = schema_version(conn)  # re-read under the lock
            if version >= SCHEMA_VERSION:
                return applied
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version + 1,))
        applied += 1
