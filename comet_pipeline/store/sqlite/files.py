"""Files: registration, the guarded compare-and-swap lifecycle, leases, backoff, the audit trail.

Every state change is one compare-and-swap ``UPDATE ... WHERE name = ? AND state IN (...)``
plus an audit row, inside one ``BEGIN IMMEDIATE`` transaction, so concurrent runs (threads,
forked executor processes, separate ``dagster`` commands) can race on the same file and
exactly one wins. These statements stay plain SQL on purpose: they are the guard.

``attempts`` counts tries of the current phase: it restarts at 0 when a download succeeds
(DOWNLOADED), so processing gets its own ``max_attempts``.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from comet_pipeline.domain import (
    ArchiveFile,
    Detector,
    FileRecord,
    FileState,
    FileTransition,
    from_iso,
    to_iso,
)
from comet_pipeline.domain.states import (
    LEASED_FILE_STATES,
    RETRY_STATES,
)
from comet_pipeline.domain.text import bounded
from comet_pipeline.store.errors import IllegalTransition, UnknownFile
from comet_pipeline.store.rules import (
    RESET_FIELDS,
    TIME_FIELDS,
    backoff_delay,
    may_apply,
    reset_sources,
    transition_sources,
)
from comet_pipeline.store.sqlite.connection import SQLiteConnection
from comet_pipeline.store.sqlite.rows import Row, Where, dt, iso, json_list
from comet_pipeline.store.sqlite.slots import slot_row_for_arrival

# The chronological query; a test runs EXPLAIN QUERY PLAN on it to prove it is an index range scan.
CHRONOLOGICAL_FILES_SQL = (
    "SELECT * FROM files WHERE detector = :detector"
    " AND observed_at >= :start AND observed_at < :end ORDER BY observed_at, name"
)


def file_record(row: Row) -> FileRecord:
    return FileRecord(
        name=row["name"],
        detector=Detector(row["detector"]),
        observed_at=from_iso(row["observed_at"]),
        state=FileState(row["state"]),
        arrived_at=dt(row["arrived_at"]),
        exptime=row["exptime"],
        naxis1=row["naxis1"],
        naxis2=row["naxis2"],
        attempts=row["attempts"],
        next_attempt_at=dt(row["next_attempt_at"]),
        last_error=row["last_error"],
        lease_owner=row["lease_owner"],
        lease_expires_at=dt(row["lease_expires_at"]),
        sha256=row["sha256"],
        raw_path=row["raw_path"],
        slot_bot=dt(row["slot_bot"]),
        skip_reason=row["skip_reason"],
    )


class FileTables(SQLiteConnection):
    """``files`` and ``transitions``: every file's state and how it got there."""

    max_attempts: int
    backoff_base: timedelta
    backoff_cap: timedelta
    jitter: float
    rng: random.Random
    lease: timedelta

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
        with self._write() as db:
            for f in files:
                slot_bot = None
                if f.arrived_at is not None:
                    slot = slot_row_for_arrival(db, f.arrived_at, slot_grace)
                    slot_bot = None if slot is None else slot["bot"]
                reason = skipped.get(f.name)
                state = FileState.SKIPPED if reason is not None else FileState.DISCOVERED
                cursor = db.execute(
                    "INSERT OR IGNORE INTO files (name, detector, observed_at, arrived_at,"
                    " exptime, naxis1, naxis2, filter, polarizer, program, state, attempts,"
                    " skip_reason, slot_bot, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                    (
                        f.name,
                        str(f.detector),
                        to_iso(f.observed_at),
                        iso(f.arrived_at),
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
                    self._audit(db, f.name, None, state, stamp, run_id, reason or "discovered")
                elif f.arrived_at is not None:
                    db.execute(
                        "UPDATE files SET arrived_at = coalesce(arrived_at, ?),"
                        " slot_bot = coalesce(slot_bot, ?), updated_at = ?"
                        " WHERE name = ? AND (arrived_at IS NULL"
                        "  OR (slot_bot IS NULL AND ? IS NOT NULL))",
                        (iso(f.arrived_at), slot_bot, stamp, f.name, slot_bot),
                    )
        return inserted

    @staticmethod
    def _audit(
        db: sqlite_utils.Database,
        name: str,
        source: FileState | None,
        target: FileState,
        stamp: str,
        run_id: str | None,
        reason: str | None,
    ) -> None:
        db.execute(
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
        sources = transition_sources(name, target, expected, fields)
        with self._write() as db:
            row = db.execute(
                "SELECT state, lease_owner FROM files WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise UnknownFile(name)
            current = FileState(row["state"])
            if not may_apply(
                name,
                target,
                current,
                sources,
                expected=expected,
                owner=owner,
                lease_owner=row["lease_owner"],
            ):
                return False
            return self._apply(db, name, current, target, now, run_id, reason, fields)

    def _apply(
        self,
        db: sqlite_utils.Database,
        name: str,
        current: FileState,
        target: FileState,
        now: datetime,
        run_id: str | None,
        reason: str | None,
        fields: Mapping[str, Any],
    ) -> bool:
        """The CAS itself (caller holds the write transaction)."""
        values: dict[str, Any] = {k: (iso(v) if k in TIME_FIELDS else v) for k, v in fields.items()}
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
        cursor = db.execute(
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
        self._audit(db, name, current, target, stamp, run_id, reason)
        return True

    def reset_file(
        self,
        name: str,
        target: FileState,
        *,
        expected: FileState,
        reason: str,
        now: datetime,
        run_id: str | None = None,
    ) -> bool:
        """A reasoned reset along RESET_TRANSITIONS (see LifecycleStore.reset_file)."""
        reset_sources(name, target, expected, reason)
        with self._write() as db:
            row = db.execute("SELECT state FROM files WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise UnknownFile(name)
            if FileState(row["state"]) != expected:
                return False  # the file moved on since the caller looked
            if not self._apply(db, name, expected, target, now, run_id, reason, RESET_FIELDS):
                return False
            if target == FileState.DISCOVERED:
                db.execute("UPDATE files SET raw_pruned_at = NULL WHERE name = ?", (name,))
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
        where = Where()
        where.add(
            "(state = :fresh OR (state = :failed AND next_attempt_at <= :now))",
            fresh=str(fresh),
            failed=str(failed),
            now=stamp,
        )
        where.window(detector, start, end)
        if names is not None:
            where.add("name IN (SELECT value FROM json_each(:names))", names=json_list(names))
        params = where.params
        sql = f"SELECT name, state FROM files WHERE {where.sql} ORDER BY observed_at, name"
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = int(limit)
        expires = to_iso(now + (lease if lease is not None else self.lease))
        claimed: list[str] = []
        with self._write() as db:
            for row in db.execute(sql, params).fetchall():
                cursor = db.execute(
                    "UPDATE files SET state = ?, lease_owner = ?, lease_expires_at = ?,"
                    " updated_at = ? WHERE name = ? AND state = ?",
                    (str(target), owner, expires, stamp, row["name"], row["state"]),
                )
                if cursor.rowcount == 1:
                    claimed.append(row["name"])
                    self._audit(
                        db,
                        row["name"],
                        FileState(row["state"]),
                        target,
                        stamp,
                        run_id or owner,
                        f"claimed by {owner}",
                    )
            rows = db.execute(
                "SELECT * FROM files WHERE name IN (SELECT value FROM json_each(?))"
                " ORDER BY observed_at, name",
                (json_list(claimed),),
            ).fetchall()
        return [file_record(r) for r in rows]

    def backoff_delay(self, attempts: int) -> timedelta:
        """Delay before retry number ``attempts`` (see ``store.rules.backoff_delay``)."""
        return backoff_delay(attempts, self.backoff_base, self.backoff_cap, self.jitter, self.rng)

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
        with self._write() as db:
            row = db.execute("SELECT * FROM files WHERE name = ?", (name,)).fetchone()
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
            return self._fail_locked(db, row, error, now, run_id, permanent)

    def _fail_locked(
        self,
        db: sqlite_utils.Database,
        row: Row,
        error: str,
        now: datetime,
        run_id: str | None,
        permanent: bool,
    ) -> FileState:
        current = FileState(row["state"])
        attempts = int(row["attempts"]) + 1
        error = bounded(error)  # server text can be megabytes; the audit keeps a summary
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
        self._apply(db, row["name"], current, target, now, run_id, reason, fields)
        return target

    def recover_expired_leases(self, now: datetime, run_id: str | None = None) -> list[str]:
        """Fail every leased file whose lease expired before ``now`` (its worker died or
        hung), counting the attempt exactly as ``fail`` does. Returns the names."""
        stamp = to_iso(now)
        recovered: list[str] = []
        with self._write() as db:
            for row in _expired_leases(db, stamp):
                error = (
                    f"lease of {row['lease_owner']} expired at {row['lease_expires_at']}"
                    f" while {row['state']}"
                )
                self._fail_locked(db, row, error, now, run_id, permanent=False)
                recovered.append(row["name"])
        return recovered

    def renew_lease(
        self, name: str, *, owner: str, now: datetime, lease: timedelta | None = None
    ) -> bool:
        """Extend the lease ``owner`` holds on ``name`` to ``now + lease`` (the store's lease
        if None); False when the file is no longer leased by ``owner``.

        A long download renews its lease as bytes arrive, so lease recovery does not hand
        the file to another run while this one is still on it. Guarded like every other
        write (state and owner in the WHERE clause); the expiry only ever moves forward. No
        audit row: the state does not change.
        """
        expires = to_iso(now + (lease if lease is not None else self.lease))
        with self._write() as db:
            cursor = db.execute(
                "UPDATE files SET lease_expires_at = max(coalesce(lease_expires_at, ?), ?)"
                " WHERE name = ? AND lease_owner = ?"
                " AND state IN (SELECT value FROM json_each(?))",
                (expires, expires, name, owner, json_list(LEASED_FILE_STATES)),
            )
            return cursor.rowcount == 1

    # -- file queries ------------------------------------------------------------------------

    def get_file(self, name: str) -> FileRecord | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM files WHERE name = ?", (name,)).fetchone()
        return None if row is None else file_record(row)

    def files_between(
        self,
        detector: Detector | str,
        start: datetime,
        end: datetime,
        states: Iterable[FileState] | None = None,
    ) -> list[FileRecord]:
        """Files of ``detector`` observed in [start, end), in time order (index range scan)."""
        params = {"detector": str(detector), "start": to_iso(start), "end": to_iso(end)}
        with self._read() as db:
            rows = db.execute(CHRONOLOGICAL_FILES_SQL, params).fetchall()
        wanted = None if states is None else {str(s) for s in states}
        return [file_record(r) for r in rows if wanted is None or r["state"] in wanted]

    def retry_due(self, now: datetime, detector: Detector | str | None = None) -> list[FileRecord]:
        """Failed files whose backoff has elapsed (never ABANDONED ones), oldest due first."""
        sql = (
            "SELECT * FROM files WHERE state IN (SELECT value FROM json_each(?))"
            " AND next_attempt_at <= ?"
        )
        params: list[Any] = [json_list(RETRY_STATES), to_iso(now)]
        if detector is not None:
            sql += " AND detector = ?"
            params.append(str(detector))
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY next_attempt_at, name", params).fetchall()
        return [file_record(r) for r in rows]

    def stuck_files(self, now: datetime) -> list[FileRecord]:
        """Leased files whose lease has expired (what ``recover_expired_leases`` would fail)."""
        with self._read() as db:
            rows = _expired_leases(db, to_iso(now))
        return [file_record(r) for r in rows]

    def counts_by_state(
        self,
        detector: Detector | str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[FileState, int]:
        """Number of files in every state (zeros included), optionally for a detector and
        an observation window [start, end)."""
        where = Where().window(detector, start, end)
        with self._read() as db:
            rows = db.execute(
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
        with self._read() as db:
            return int(db.execute(sql, params).fetchone()[0])

    def known_names(self, names: Iterable[str]) -> set[str]:
        with self._read() as db:
            rows = db.execute(
                "SELECT name FROM files WHERE name IN (SELECT value FROM json_each(?))",
                (json_list(names),),
            ).fetchall()
        return {r["name"] for r in rows}

    def transitions_for(self, name: str) -> list[FileTransition]:
        """The audit trail of one file, oldest first."""
        with self._read() as db:
            rows = db.execute(
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
        with self._read() as db:
            return int(db.execute("SELECT count(*) FROM transitions").fetchone()[0])


def _expired_leases(db: sqlite_utils.Database, stamp: str) -> list[sqlite3.Row]:
    """Files in a leased state whose lease expired before ``stamp``, oldest first."""
    return db.execute(
        "SELECT * FROM files WHERE state IN (SELECT value FROM json_each(?))"
        " AND lease_expires_at < ? ORDER BY observed_at, name",
        (json_list(LEASED_FILE_STATES), stamp),
    ).fetchall()
