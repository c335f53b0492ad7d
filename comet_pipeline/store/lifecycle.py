"""The lifecycle store: slots, files, frames and their guarded state changes in SQLite.

Every state change is one compare-and-swap ``UPDATE ... WHERE name = ? AND state IN (...)``
plus an audit row, inside one ``BEGIN IMMEDIATE`` transaction, so concurrent runs (threads,
forked executor processes, separate ``dagster`` commands) can race on the same file and
exactly one wins. Times are aware UTC datetimes in Python and fixed-width ISO text at rest,
so text order is time order and range queries use the indexes.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from comet_pipeline.domain import (
    ArchiveFile,
    CandidateRecord,
    DetectionRecord,
    Detector,
    FileRecord,
    FileState,
    FileTransition,
    Frame,
    Slot,
    SlotState,
    SlotTransition,
    from_iso,
    to_iso,
    utcnow,
)
from comet_pipeline.domain.states import (
    FILE_TRANSITIONS,
    LEASED_FILE_STATES,
    RETRY_STATES,
    SLOT_TRANSITIONS,
    sources_of,
)
from comet_pipeline.store.errors import IllegalTransition, StoreError, UnknownFile
from comet_pipeline.store.schema import SCHEMA_VERSION, connect, migrate, user_version

# The chronological query; a test runs EXPLAIN QUERY PLAN on it to prove it is an index range scan.
CHRONOLOGICAL_FILES_SQL = (
    "SELECT * FROM files WHERE detector = :detector"
    " AND observed_at >= :start AND observed_at < :end ORDER BY observed_at, name"
)
CHRONOLOGICAL_FRAMES_SQL = (
    "SELECT * FROM frames WHERE detector = :detector"
    " AND observed_at >= :start AND observed_at < :end ORDER BY observed_at, name"
)

# Keyword fields ``transition`` may set alongside the state.
TRANSITION_FIELDS = frozenset(
    {
        "sha256",
        "raw_path",
        "last_error",
        "lease_owner",
        "lease_expires_at",
        "next_attempt_at",
        "attempts",
    }
)
_TIME_FIELDS = frozenset({"lease_expires_at", "next_attempt_at"})

# Frame statistics that get their own column (queryable); anything else goes to stats_json.
FRAME_STAT_COLUMNS = ("median", "noise_sigma", "masked_fraction", "saturated_fraction")
_FRAME_INT_STATS = ("missing_blocks",)
_FRAME_PATHS = (
    "calibrated_path",
    "background_path",
    "difference_path",
    "png_path",
    "preview_path",
    "thumbnail_path",
    "difference_png_path",
)

CANDIDATE_COLUMNS = (
    "id",
    "detector",
    "first_seen_at",
    "last_seen_at",
    "n_frames",
    "score",
    "snr",
    "speed_px_per_hour",
    "direction_deg",
    "status",
    "report_text",
    "cutout_path",
    "updated_at",
    "known",
)
_CANDIDATE_TIMES = ("first_seen_at", "last_seen_at", "updated_at")


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
_HANDLES: dict[tuple[str, int], _Handle] = {}
_HANDLES_LOCK = threading.Lock()


def _reset_lock_in_child() -> None:
    # Another parent thread may have held the lock at fork time; the child gets a fresh one.
    global _HANDLES_LOCK
    _HANDLES_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_in_child)


def _handle_for(path: str) -> _Handle:
    key = (path, os.getpid())
    with _HANDLES_LOCK:
        handle = _HANDLES.get(key)
        if handle is None:
            conn = connect(path)
            migrate(conn)
            found = user_version(conn)
            if found != SCHEMA_VERSION:
                conn.close()
                raise StoreError(
                    f"{path}: schema version {found} is newer than this code ({SCHEMA_VERSION})"
                )
            handle = _Handle(conn, threading.RLock(), sqlite_utils.Database(conn))
            _HANDLES[key] = handle
        return handle


def _iso(value: datetime | None) -> str | None:
    return None if value is None else to_iso(value)


def _dt(text: str | None) -> datetime | None:
    return None if text is None else from_iso(text)


def _json_list(values: Iterable[str]) -> str:
    return json.dumps([str(v) for v in values])


def _file_record(row: sqlite3.Row) -> FileRecord:
    return FileRecord(
        name=row["name"],
        detector=Detector(row["detector"]),
        observed_at=from_iso(row["observed_at"]),
        state=FileState(row["state"]),
        arrived_at=_dt(row["arrived_at"]),
        exptime=row["exptime"],
        naxis1=row["naxis1"],
        naxis2=row["naxis2"],
        attempts=row["attempts"],
        next_attempt_at=_dt(row["next_attempt_at"]),
        last_error=row["last_error"],
        lease_owner=row["lease_owner"],
        lease_expires_at=_dt(row["lease_expires_at"]),
        sha256=row["sha256"],
        raw_path=row["raw_path"],
        slot_bot=_dt(row["slot_bot"]),
        skip_reason=row["skip_reason"],
    )


def _slot(row: sqlite3.Row) -> Slot:
    return Slot(
        bot=from_iso(row["bot"]),
        eot=from_iso(row["eot"]),
        antenna=row["antenna"],
        state=SlotState(row["state"]),
        source=row["source"],
    )


def _frame(row: sqlite3.Row) -> Frame:
    stats: dict[str, float] = dict(json.loads(row["stats_json"] or "{}"))
    for column in (*FRAME_STAT_COLUMNS, *_FRAME_INT_STATS):
        if row[column] is not None:
            stats[column] = row[column]
    return Frame(
        name=row["name"],
        detector=Detector(row["detector"]),
        observed_at=from_iso(row["observed_at"]),
        stats=stats,
        **{p: row[p] for p in _FRAME_PATHS},
    )


@dataclass
class _Where:
    """A WHERE clause grown from optional filters, with named parameters."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> None:  # noqa: ANN401  SQLite parameter values
        self.clauses.append(clause)
        self.params.update(params)

    def window(
        self,
        detector: Detector | str | None,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "observed_at",
        before: str = "observed_at",
    ) -> _Where:
        """Filters every time query shares: a detector, ``after >= start``, ``before < end``."""
        if detector is not None:
            self.add("detector = :detector", detector=str(detector))
        if start is not None:
            self.add(f"{after} >= :start", start=to_iso(start))
        if end is not None:
            self.add(f"{before} < :end", end=to_iso(end))
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "1"


def _candidate(row: sqlite3.Row) -> CandidateRecord:
    values = {k: row[k] for k in CANDIDATE_COLUMNS}
    for key in _CANDIDATE_TIMES:
        values[key] = _dt(values[key])
    return CandidateRecord(**values)


def _detection(row: sqlite3.Row) -> DetectionRecord:
    return DetectionRecord(
        file=row["file"],
        observed_at=from_iso(row["observed_at"]),
        x=float(row["x"]),
        y=float(row["y"]),
        flux=row["flux"],
        snr=row["snr"],
    )


class SQLiteStore:
    """Repository over ``lifecycle.db``; plain Python (the Dagster layer wraps it in a resource).

    Thread-safe: a process shares one connection per file, used under a lock, one
    transaction at a time. Process-safe: each process opens its own connection and SQLite's
    write lock (``BEGIN IMMEDIATE``) serialises writers across processes.

    ``attempts`` counts tries of the current phase: it restarts at 0 when a download
    succeeds (DOWNLOADED), so processing gets its own ``max_attempts``.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        max_attempts: int = 5,
        backoff_base: timedelta = timedelta(minutes=2),
        backoff_cap: timedelta = timedelta(hours=1),
        jitter: float = 0.25,
        rng: random.Random | None = None,
        lease: timedelta = timedelta(minutes=10),
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        self.path = Path(path)
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.jitter = jitter
        self.rng = rng if rng is not None else random.Random()
        self.lease = lease
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._key = os.path.realpath(self.path)
        self._handle()  # create + migrate now, so errors surface at construction

    # -- connection and transactions -------------------------------------------------------

    def _handle(self) -> _Handle:
        return _handle_for(self._key)

    @property
    def db(self) -> sqlite_utils.Database:
        """This process's sqlite-utils view of the database (introspection, ad-hoc reads)."""
        return self._handle().db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE takes the write lock up front, so a
        read-then-update inside it cannot interleave with another writer."""
        handle = self._handle()
        with handle.lock:
            handle.conn.execute("BEGIN IMMEDIATE")
            try:
                yield handle.conn
            except BaseException:
                handle.conn.execute("ROLLBACK")
                raise
            handle.conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for multi-statement reads (WAL: never blocks writers)."""
        handle = self._handle()
        with handle.lock:
            handle.conn.execute("BEGIN")
            try:
                yield handle.conn
            finally:
                handle.conn.execute("COMMIT")

    def close(self) -> None:
        """Close this process's connection to the file (others reopen on next use)."""
        key = (self._key, os.getpid())
        with _HANDLES_LOCK:
            handle = _HANDLES.pop(key, None)
        if handle is not None:
            with handle.lock:
                handle.conn.close()

    def explain(self, sql: str, params: Mapping[str, Any] | Sequence[Any] = ()) -> list[str]:
        """The EXPLAIN QUERY PLAN detail lines of ``sql`` (to prove a query uses an index)."""
        with self._read() as conn:
            return [row["detail"] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]

    # -- slots -------------------------------------------------------------------------------

    def upsert_slots(self, slots: Iterable[Slot], now: datetime) -> int:
        """Insert new slots (in their given state); refresh eot/antenna/source of known ones
        without touching their state. Returns the number of new slots."""
        stamp = to_iso(now)
        new = 0
        with self._write() as conn:
            for slot in slots:
                bot, eot = to_iso(slot.bot), to_iso(slot.eot)
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO slots (bot, eot, antenna, state, source, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (bot, eot, slot.antenna, str(slot.state), slot.source, stamp),
                )
                if cursor.rowcount:
                    new += 1
                    conn.execute(
                        "INSERT INTO slot_transitions (bot, from_state, to_state, at, reason)"
                        " VALUES (?, NULL, ?, ?, 'registered')",
                        (bot, str(slot.state), stamp),
                    )
                else:
                    conn.execute(
                        "UPDATE slots SET eot = ?, antenna = ?, source = ?, updated_at = ?"
                        " WHERE bot = ? AND (eot != ? OR antenna != ? OR source != ?)",
                        (
                            eot,
                            slot.antenna,
                            slot.source,
                            stamp,
                            bot,
                            eot,
                            slot.antenna,
                            slot.source,
                        ),
                    )
        return new

    def slots_between(self, start: datetime, end: datetime) -> list[Slot]:
        """Slots whose begin-of-track lies in [start, end), in time order."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM slots WHERE bot >= ? AND bot < ? ORDER BY bot",
                (to_iso(start), to_iso(end)),
            ).fetchall()
        return [_slot(r) for r in rows]

    def get_slot(self, bot: datetime) -> Slot | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM slots WHERE bot = ?", (to_iso(bot),)).fetchone()
        return None if row is None else _slot(row)

    def set_slot_state(
        self, bot: datetime, target: SlotState, *, reason: str, now: datetime
    ) -> bool:
        """Move a slot along SLOT_TRANSITIONS. False when it is already in ``target``."""
        key = to_iso(bot)
        with self._write() as conn:
            row = conn.execute("SELECT state FROM slots WHERE bot = ?", (key,)).fetchone()
            if row is None:
                raise StoreError(f"unknown slot with begin-of-track {key}")
            current = SlotState(row["state"])
            if current == target:
                return False
            if target not in SLOT_TRANSITIONS[current]:
                raise IllegalTransition(f"slot {key}", current, target)
            cursor = conn.execute(
                "UPDATE slots SET state = ?, updated_at = ? WHERE bot = ? AND state = ?",
                (str(target), to_iso(now), key, str(current)),
            )
            if cursor.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; be explicit anyway
                return False
            conn.execute(
                "INSERT INTO slot_transitions (bot, from_state, to_state, at, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, str(current), str(target), to_iso(now), reason),
            )
        return True

    def slot_for_arrival(self, arrived_at: datetime, grace: timedelta) -> Slot | None:
        """The slot whose window [bot, eot + grace] holds ``arrived_at`` (latest bot wins)."""
        with self._read() as conn:
            row = self._slot_for_arrival(conn, arrived_at, grace)
        return None if row is None else _slot(row)

    @staticmethod
    def _slot_for_arrival(
        conn: sqlite3.Connection, arrived_at: datetime, grace: timedelta
    ) -> sqlite3.Row | None:
        return conn.execute(
            "SELECT * FROM slots WHERE bot <= ? AND eot >= ? ORDER BY bot DESC LIMIT 1",
            (to_iso(arrived_at), to_iso(arrived_at - grace)),
        ).fetchone()

    def slot_transitions_for(self, bot: datetime) -> list[SlotTransition]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM slot_transitions WHERE bot = ? ORDER BY id", (to_iso(bot),)
            ).fetchall()
        return [
            SlotTransition(
                bot=from_iso(r["bot"]),
                from_state=None if r["from_state"] is None else SlotState(r["from_state"]),
                to_state=SlotState(r["to_state"]),
                at=from_iso(r["at"]),
                reason=r["reason"],
            )
            for r in rows
        ]

    # -- file registration -------------------------------------------------------------------

    def register_files(
        self,
        files: Iterable[ArchiveFile],
        *,
        now: datetime,
        run_id: str | None = None,
        skipped: Mapping[str, str] | None = None,
        slot_grace: timedelta = timedelta(minutes=30),
    ) -> list[str]:
        """Insert files not yet known (DISCOVERED, or SKIPPED with ``skipped[name]`` as the
        reason) with an initial audit row; return the names inserted. A known file keeps
        its state; it only gains an arrival time and slot link it lacked."""
        skipped = skipped or {}
        stamp = to_iso(now)
        inserted: list[str] = []
        with self._write() as conn:
            for f in files:
                slot_bot = None
                if f.arrived_at is not None:
                    slot = self._slot_for_arrival(conn, f.arrived_at, slot_grace)
                    slot_bot = None if slot is None else slot["bot"]
                reason = skipped.get(f.name)
                state = FileState.SKIPPED if reason is not None else FileState.DISCOVERED
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO files (name, detector, observed_at, arrived_at,"
                    " exptime, naxis1, naxis2, filter, polarizer, program, state, attempts,"
                    " skip_reason, slot_bot, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                    (
                        f.name,
                        str(f.detector),
                        to_iso(f.observed_at),
                        _iso(f.arrived_at),
                        f.exptime,
                        f.naxis1,
                        f.naxis2,
                        f.filter,
                        f.polarizer,
                        f.program,
                        str(state),
                        reason,
                        slot_bot,
                        stamp,
                        stamp,
                    ),
                )
                if cursor.rowcount:
                    inserted.append(f.name)
                    self._audit(conn, f.name, None, state, stamp, run_id, reason or "discovered")
                elif f.arrived_at is not None:
                    conn.execute(
                        "UPDATE files SET arrived_at = coalesce(arrived_at, ?),"
                        " slot_bot = coalesce(slot_bot, ?), updated_at = ?"
                        " WHERE name = ? AND (arrived_at IS NULL"
                        "  OR (slot_bot IS NULL AND ? IS NOT NULL))",
                        (_iso(f.arrived_at), slot_bot, stamp, f.name, slot_bot),
                    )
        return inserted

    @staticmethod
    def _audit(
        conn: sqlite3.Connection,
        name: str,
        source: FileState | None,
        target: FileState,
        stamp: str,
        run_id: str | None,
        reason: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO transitions (file, from_state, to_state, at, run_id, reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, None if source is None else str(source), str(target), stamp, run_id, reason),
        )

    # -- guarded transitions -----------------------------------------------------------------

    def transition(
        self,
        name: str,
        target: FileState,
        *,
        now: datetime,
        run_id: str | None = None,
        reason: str | None = None,
        expected: FileState | None = None,
        owner: str | None = None,
        **fields: Any,  # noqa: ANN401  column values (text, numbers, datetimes), checked against TRANSITION_FIELDS
    ) -> bool:
        """Compare-and-swap ``name`` into ``target``; append the audit row; True if applied.

        ``expected`` pins the source state; ``owner`` additionally requires the caller to
        hold the lease. A caller whose belief is stale (the file moved on, or another
        worker now holds the lease) gets False ("not applied"). Without ``expected``, a
        file in a state from which ``target`` is forbidden raises IllegalTransition, as
        does an ``expected -> target`` pair the table forbids.
        """
        unknown = set(fields) - TRANSITION_FIELDS
        if unknown:
            raise TypeError(f"transition() got unsupported fields: {sorted(unknown)}")
        if expected is not None and target not in FILE_TRANSITIONS[expected]:
            raise IllegalTransition(f"file {name!r}", expected, target, "expected source")
        sources = frozenset({expected}) if expected is not None else sources_of(target)
        with self._write() as conn:
            row = conn.execute(
                "SELECT state, lease_owner FROM files WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise UnknownFile(name)
            current = FileState(row["state"])
            if current not in sources:
                if expected is None:
                    raise IllegalTransition(f"file {name!r}", current, target)
                return False  # the file moved on since the caller looked: lost the race
            if owner is not None and row["lease_owner"] != owner:
                return False  # someone else holds the lease now
            return self._apply(conn, name, current, target, now, run_id, reason, fields)

    def _apply(
        self,
        conn: sqlite3.Connection,
        name: str,
        current: FileState,
        target: FileState,
        now: datetime,
        run_id: str | None,
        reason: str | None,
        fields: Mapping[str, Any],
    ) -> bool:
        """The CAS itself (caller holds the write transaction)."""
        values: dict[str, Any] = {
            k: (_iso(v) if k in _TIME_FIELDS else v) for k, v in fields.items()
        }
        if target in LEASED_FILE_STATES:
            values.setdefault("lease_owner", run_id)
            values.setdefault("lease_expires_at", to_iso(now + self.lease))
        elif current in LEASED_FILE_STATES:
            values["lease_owner"] = None  # leaving a leased state releases the lease
            values["lease_expires_at"] = None
        if target == FileState.DOWNLOADED:
            values.setdefault("attempts", 0)  # a new phase: processing gets its own budget
            values.setdefault("next_attempt_at", None)
        if target in (FileState.PROCESSED, FileState.ABANDONED, FileState.READY):
            values.setdefault("next_attempt_at", None)
        stamp = to_iso(now)
        assignments = "".join(f", {k} = :{k}" for k in values)
        cursor = conn.execute(
            f"UPDATE files SET state = :target, updated_at = :stamp{assignments}"
            " WHERE name = :name AND state = :current",
            {
                **values,
                "target": str(target),
                "stamp": stamp,
                "name": name,
                "current": str(current),
            },
        )
        if cursor.rowcount != 1:
            return False
        self._audit(conn, name, current, target, stamp, run_id, reason)
        return True

    # -- leases, failures, retries -----------------------------------------------------------

    def claim(
        self,
        *,
        target: FileState,
        owner: str,
        now: datetime,
        detector: Detector | str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        names: Iterable[str] | None = None,
        limit: int | None = None,
        lease: timedelta | None = None,
        run_id: str | None = None,
    ) -> list[FileRecord]:
        """Atomically lease claimable files into DOWNLOADING or PROCESSING, oldest
        observation first: fresh ones (DISCOVERED / READY) and failed ones whose retry is
        due. Each file is claimed by exactly one caller, across threads and processes."""
        if target not in LEASED_FILE_STATES:
            raise ValueError(f"claim target must be one of {sorted(LEASED_FILE_STATES)}")
        fresh = FileState.DISCOVERED if target == FileState.DOWNLOADING else FileState.READY
        failed = next(s for s, t in RETRY_STATES.items() if t == target)
        stamp = to_iso(now)
        where = _Where()
        where.add(
            "(state = :fresh OR (state = :failed AND next_attempt_at <= :now))",
            fresh=str(fresh),
            failed=str(failed),
            now=stamp,
        )
        where.window(detector, start, end)
        if names is not None:
            where.add("name IN (SELECT value FROM json_each(:names))", names=_json_list(names))
        params = where.params
        sql = f"SELECT name, state FROM files WHERE {where.sql} ORDER BY observed_at, name"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = int(limit)
        expires = to_iso(now + (lease if lease is not None else self.lease))
        claimed: list[str] = []
        with self._write() as conn:
            for row in conn.execute(sql, params).fetchall():
                cursor = conn.execute(
                    "UPDATE files SET state = ?, lease_owner = ?, lease_expires_at = ?,"
                    " updated_at = ? WHERE name = ? AND state = ?",
                    (str(target), owner, expires, stamp, row["name"], row["state"]),
                )
                if cursor.rowcount == 1:
                    claimed.append(row["name"])
                    self._audit(
                        conn,
                        row["name"],
                        FileState(row["state"]),
                        target,
                        stamp,
                        run_id or owner,
                        f"claimed by {owner}",
                    )
            rows = conn.execute(
                "SELECT * FROM files WHERE name IN (SELECT value FROM json_each(?))"
                " ORDER BY observed_at, name",
                (_json_list(claimed),),
            ).fetchall()
        return [_file_record(r) for r in rows]

    def backoff_delay(self, attempts: int) -> timedelta:
        """Delay before retry number ``attempts`` (1-based): base * 2**(n-1), capped, then
        scaled by a random factor in [1 - jitter, 1 + jitter] so retries do not stampede."""
        exponent = max(attempts - 1, 0)
        nominal = min(self.backoff_cap, self.backoff_base * (2 ** min(exponent, 62)))
        factor = 1.0 + self.rng.uniform(-self.jitter, self.jitter)
        return nominal * factor

    def fail(
        self,
        name: str,
        error: str,
        *,
        now: datetime,
        run_id: str | None = None,
        permanent: bool = False,
        expected: FileState | None = None,
        owner: str | None = None,
    ) -> FileState | None:
        """Record a failed download or processing attempt; return the resulting state.

        DOWNLOADING -> DOWNLOAD_FAILED and PROCESSING -> PROCESSING_FAILED with attempts + 1
        and a backed-off ``next_attempt_at``; ABANDONED (straight from the leased state,
        keeping ``error``) once attempts reach ``max_attempts`` or when ``permanent``.
        With ``expected``/``owner`` a stale caller gets None (not applied) instead of an error.
        """
        if expected is not None and expected not in LEASED_FILE_STATES:
            raise ValueError(f"fail(expected=...) must be one of {sorted(LEASED_FILE_STATES)}")
        with self._write() as conn:
            row = conn.execute("SELECT * FROM files WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownFile(name)
            current = FileState(row["state"])
            if expected is not None and current != expected:
                return None  # moved on since the caller looked (e.g. its lease was recovered)
            if owner is not None and row["lease_owner"] != owner:
                return None  # someone else holds the lease now
            if current not in LEASED_FILE_STATES:
                raise IllegalTransition(
                    f"file {name!r}", current, "a *_FAILED state", "only a leased file can fail"
                )
            return self._fail_locked(conn, row, error, now, run_id, permanent)

    def _fail_locked(
        self,
        conn: sqlite3.Connection,
        row: sqlite3.Row,
        error: str,
        now: datetime,
        run_id: str | None,
        permanent: bool,
    ) -> FileState:
        current = FileState(row["state"])
        attempts = int(row["attempts"]) + 1
        if permanent or attempts >= self.max_attempts:
            target = FileState.ABANDONED
            why = "permanent failure" if permanent else f"gave up after {attempts} attempts"
            fields: dict[str, Any] = {"attempts": attempts, "last_error": error}
            reason = f"{why}: {error}"
        else:
            target = LEASED_FILE_STATES[current]
            retry_at = now + self.backoff_delay(attempts)
            fields = {"attempts": attempts, "last_error": error, "next_attempt_at": retry_at}
            reason = f"attempt {attempts} failed: {error}"
        self._apply(conn, row["name"], current, target, now, run_id, reason, fields)
        return target

    def recover_expired_leases(self, now: datetime, run_id: str | None = None) -> list[str]:
        """Fail every leased file whose lease expired before ``now`` (its worker died or
        hung), counting the attempt exactly as ``fail`` does. Returns the names."""
        stamp = to_iso(now)
        recovered: list[str] = []
        with self._write() as conn:
            for row in _expired_leases(conn, stamp):
                error = (
                    f"lease of {row['lease_owner']} expired at {row['lease_expires_at']}"
                    f" while {row['state']}"
                )
                self._fail_locked(conn, row, error, now, run_id, permanent=False)
                recovered.append(row["name"])
        return recovered

    # -- file queries ------------------------------------------------------------------------

    def get_file(self, name: str) -> FileRecord | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM files WHERE name = ?", (name,)).fetchone()
        return None if row is None else _file_record(row)

    def files_between(
        self,
        detector: Detector | str,
        start: datetime,
        end: datetime,
        states: Iterable[FileState] | None = None,
    ) -> list[FileRecord]:
        """Files of ``detector`` observed in [start, end), in time order (index range scan)."""
        params = {"detector": str(detector), "start": to_iso(start), "end": to_iso(end)}
        with self._read() as conn:
            rows = conn.execute(CHRONOLOGICAL_FILES_SQL, params).fetchall()
        wanted = None if states is None else {str(s) for s in states}
        return [_file_record(r) for r in rows if wanted is None or r["state"] in wanted]

    def retry_due(self, now: datetime, detector: Detector | str | None = None) -> list[FileRecord]:
        """Failed files whose backoff has elapsed (never ABANDONED ones), oldest due first."""
        sql = (
            "SELECT * FROM files WHERE state IN (SELECT value FROM json_each(?))"
            " AND next_attempt_at <= ?"
        )
        params: list[Any] = [_json_list(RETRY_STATES), to_iso(now)]
        if detector is not None:
            sql += " AND detector = ?"
            params.append(str(detector))
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY next_attempt_at, name", params).fetchall()
        return [_file_record(r) for r in rows]

    def stuck_files(self, now: datetime) -> list[FileRecord]:
        """Leased files whose lease has expired (what ``recover_expired_leases`` would fail)."""
        with self._read() as conn:
            rows = _expired_leases(conn, to_iso(now))
        return [_file_record(r) for r in rows]

    def counts_by_state(
        self,
        detector: Detector | str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[FileState, int]:
        """Number of files in every state (zeros included), optionally for a detector and
        an observation window [start, end)."""
        where = _Where().window(detector, start, end)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT state, count(*) AS n FROM files WHERE {where.sql} GROUP BY state",
                where.params,
            ).fetchall()
        counts = dict.fromkeys(FileState, 0)
        counts.update({FileState(r["state"]): r["n"] for r in rows})
        return counts

    def count_arrivals(
        self, start: datetime, end: datetime, detector: Detector | str | None = None
    ) -> int:
        """Files that arrived on the server in [start, end] (both ends inclusive, like a
        slot window [bot, eot + grace])."""
        sql = "SELECT count(*) FROM files WHERE arrived_at >= ? AND arrived_at <= ?"
        params = [to_iso(start), to_iso(end)]
        if detector is not None:
            sql += " AND detector = ?"
            params.append(str(detector))
        with self._read() as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    def known_names(self, names: Iterable[str]) -> set[str]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT name FROM files WHERE name IN (SELECT value FROM json_each(?))",
                (_json_list(names),),
            ).fetchall()
        return {r["name"] for r in rows}

    def transitions_for(self, name: str) -> list[FileTransition]:
        """The audit trail of one file, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM transitions WHERE file = ? ORDER BY id", (name,)
            ).fetchall()
        return [
            FileTransition(
                id=r["id"],
                file=r["file"],
                from_state=None if r["from_state"] is None else FileState(r["from_state"]),
                to_state=FileState(r["to_state"]),
                at=from_iso(r["at"]),
                run_id=r["run_id"],
                reason=r["reason"],
            )
            for r in rows
        ]

    def transition_count(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT count(*) FROM transitions").fetchone()[0])

    # -- frames ------------------------------------------------------------------------------

    def record_frame(self, frame: Frame, now: datetime) -> None:
        """Insert or replace the products and statistics of a processed file."""
        with self._write() as conn:
            self._upsert_frame(conn, frame, now)

    def complete_processing(
        self,
        frame: Frame,
        *,
        owner: str,
        now: datetime,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """PROCESSING -> PROCESSED and the frame row, in one transaction, for the lease holder.

        A worker whose lease expired (and whose file another run may be processing) gets
        False and writes nothing, so a stale run never overwrites a newer frame row.
        """
        with self._write() as conn:
            row = conn.execute(
                "SELECT state, lease_owner FROM files WHERE name = ?", (frame.name,)
            ).fetchone()
            if row is None:
                raise UnknownFile(frame.name)
            if row["state"] != FileState.PROCESSING.value or row["lease_owner"] != owner:
                return False
            applied = self._apply(
                conn,
                frame.name,
                FileState.PROCESSING,
                FileState.PROCESSED,
                now,
                run_id,
                reason,
                {},
            )
            if applied:
                self._upsert_frame(conn, frame, now)
            return applied

    @staticmethod
    def _upsert_frame(conn: sqlite3.Connection, frame: Frame, now: datetime) -> None:
        stats = dict(frame.stats)
        columns: dict[str, Any] = {
            "name": frame.name,
            "detector": str(frame.detector),
            "observed_at": to_iso(frame.observed_at),
            **{p: getattr(frame, p) for p in _FRAME_PATHS},
            **{c: stats.pop(c, None) for c in (*FRAME_STAT_COLUMNS, *_FRAME_INT_STATS)},
            "stats_json": json.dumps(stats, sort_keys=True),
            "processed_at": to_iso(now),
        }
        names = ", ".join(columns)
        placeholders = ", ".join(f":{c}" for c in columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "name")
        conn.execute(
            f"INSERT INTO frames ({names}) VALUES ({placeholders})"
            f" ON CONFLICT(name) DO UPDATE SET {updates}",
            columns,
        )

    def frames_between(
        self, detector: Detector | str, start: datetime, end: datetime
    ) -> list[Frame]:
        params = {"detector": str(detector), "start": to_iso(start), "end": to_iso(end)}
        with self._read() as conn:
            rows = conn.execute(CHRONOLOGICAL_FRAMES_SQL, params).fetchall()
        return [_frame(r) for r in rows]

    def frame(self, name: str) -> Frame | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM frames WHERE name = ?", (name,)).fetchone()
        return None if row is None else _frame(row)

    # -- candidates --------------------------------------------------------------------------

    def upsert_candidate(self, candidate: CandidateRecord, *, now: datetime | None = None) -> None:
        """Insert or update a candidate by its stable ``id``; ``updated_at`` is ``now``."""
        values: dict[str, object] = {c: getattr(candidate, c) for c in CANDIDATE_COLUMNS}
        values["updated_at"] = candidate.updated_at or (now if now is not None else utcnow())
        for key in _CANDIDATE_TIMES:
            if isinstance(values.get(key), datetime):
                values[key] = to_iso(values[key])  # type: ignore[arg-type]  # checked just above
        names = ", ".join(values)
        placeholders = ", ".join(f":{c}" for c in values)
        updates = ", ".join(f"{c} = excluded.{c}" for c in values if c != "id")
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO candidates ({names}) VALUES ({placeholders})"
                f" ON CONFLICT(id) DO UPDATE SET {updates}",
                values,
            )

    def delete_candidates(self, ids: Iterable[str]) -> int:
        """Drop candidates (and, by cascade, their detections), e.g. ones merged into another."""
        ids = list(ids)
        if not ids:
            return 0
        with self._write() as conn:
            cur = conn.executemany("DELETE FROM candidates WHERE id = ?", [(i,) for i in ids])
            return cur.rowcount

    def replace_detections(self, candidate_id: str, rows: Iterable[DetectionRecord]) -> int:
        """Make ``rows`` the candidate's whole track."""
        records = [
            (candidate_id, r.file, to_iso(r.observed_at), float(r.x), float(r.y), r.flux, r.snr)
            for r in rows
        ]
        with self._write() as conn:
            conn.execute("DELETE FROM detections WHERE candidate_id = ?", (candidate_id,))
            conn.executemany(
                "INSERT INTO detections (candidate_id, file, observed_at, x, y, flux, snr)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                records,
            )
        return len(records)

    def candidates(
        self,
        detector: Detector | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CandidateRecord]:
        """Candidates whose track overlaps [since, until), by first sighting."""
        where = _Where().window(
            detector, since, until, after="last_seen_at", before="first_seen_at"
        )
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT * FROM candidates WHERE {where.sql} ORDER BY first_seen_at, id",
                where.params,
            ).fetchall()
        return [_candidate(r) for r in rows]

    def detections_for(self, candidate_id: str) -> list[DetectionRecord]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM detections WHERE candidate_id = ? ORDER BY observed_at, id",
                (candidate_id,),
            ).fetchall()
        return [_detection(r) for r in rows]

    # -- overview ----------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Counts for ``comet-pipeline status``: plain str/int, JSON-able."""
        with self._read() as conn:
            slots = {
                r["state"]: r["n"]
                for r in conn.execute("SELECT state, count(*) AS n FROM slots GROUP BY state")
            }
            files: dict[str, dict[str, int]] = {}
            for r in conn.execute(
                "SELECT detector, state, count(*) AS n FROM files GROUP BY detector, state"
            ):
                files.setdefault(r["detector"], {})[r["state"]] = r["n"]
            totals = {
                table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in ("slots", "files", "frames", "transitions", "candidates")
            }
        return {
            "path": str(self.path),
            "slots_by_state": slots,
            "files_by_detector_state": files,
            "totals": totals,
            "empty": totals["slots"] == 0 and totals["files"] == 0,
        }


def _expired_leases(conn: sqlite3.Connection, stamp: str) -> list[sqlite3.Row]:
    """Files in a leased state whose lease expired before ``stamp``, oldest first."""
    return conn.execute(
        "SELECT * FROM files WHERE state IN (SELECT value FROM json_each(?))"
        " AND lease_expires_at < ? ORDER BY observed_at, name",
        (_json_list(LEASED_FILE_STATES), stamp),
    ).fetchall()
