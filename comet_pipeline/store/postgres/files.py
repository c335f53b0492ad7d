"""Files: registration, the guarded compare-and-swap lifecycle, leases, backoff, the audit trail.

The same contract as the SQLite engine, with PostgreSQL's row locks where SQLite takes its
file-wide write lock: a guarded move reads the row ``FOR UPDATE`` and then applies one
compare-and-swap ``UPDATE ... WHERE name = %s AND state = %s`` plus its audit row, in one
transaction, so racing runs (threads, processes, hosts) each see the file as the previous
winner left it and exactly one wins. A claim is a single statement: pick the claimable rows
``FOR UPDATE SKIP LOCKED`` (rows another claimer holds are passed over, not waited for),
move them, and audit them. These statements stay plain SQL on purpose: they are the guard.

``attempts`` counts tries of the current phase: it restarts at 0 when a download succeeds
(DOWNLOADED), so processing gets its own ``max_attempts``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from comet_pipeline.domain import (
    ArchiveFile,
    Detector,
    FileRecord,
    FileState,
    FileTransition,
    to_iso,
    utc,
)
from comet_pipeline.domain.states import (
    LEASED_FILE_STATES,
    RETRY_STATES,
)
from comet_pipeline.domain.text import bounded
from comet_pipeline.store.errors import IllegalTransition, UnknownFile
from comet_pipeline.store.postgres.connection import Conn, PostgresConnection
from comet_pipeline.store.postgres.rows import Row, Where, ts
from comet_pipeline.store.postgres.slots import slot_row_for_arrival
from comet_pipeline.store.rules import (
    RESET_FIELDS,
    TIME_FIELDS,
    backoff_delay,
    may_apply,
    reset_sources,
    transition_sources,
)

# The chronological query; a test runs EXPLAIN on it to prove it is an index range scan.
CHRONOLOGICAL_FILES_SQL = (
    "SELECT * FROM files WHERE detector = %(detector)s"
    " AND observed_at >= %(start)s AND observed_at < %(end)s ORDER BY observed_at, name"
)

_LEASED = [str(s) for s in LEASED_FILE_STATES]
_RETRYING = [str(s) for s in RETRY_STATES]

# One claim, one statement: pick (oldest first, skipping rows another claimer has locked),
# move, audit. {where} holds only the claimable states as literals (so the partial index
# idx_files_claimable applies) and the caller's filters as parameters.
_CLAIM_SQL = """
WITH picked AS (
    SELECT name, state FROM files WHERE {where}
    ORDER BY observed_at, name {limit} FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE files AS f SET state = %(target)s, lease_owner = %(owner)s,
        lease_expires_at = %(expires)s, updated_at = %(now)s
    FROM picked WHERE f.name = picked.name AND f.state = picked.state
    RETURNING f.*, picked.state AS from_state
), audit AS (
    INSERT INTO transitions (file, from_state, to_state, at, run_id, reason)
    SELECT name, from_state, %(target)s, %(now)s, %(run_id)s, %(reason)s FROM moved
)
SELECT * FROM moved ORDER BY observed_at, name
"""


def claimable(target: FileState) -> str:
    """What a claim into ``target`` may pick: fresh files, and failed ones whose retry is due
    (``%(now)s``). The states are our own constants, written as literals so the planner
    can see the partial index ``idx_files_claimable`` covers them."""
    fresh = FileState.DISCOVERED if target == FileState.DOWNLOADING else FileState.READY
    failed = next(s for s, t in RETRY_STATES.items() if t == target)
    return f"(state = '{fresh.value}' OR (state = '{failed.value}' AND next_attempt_at <= %(now)s))"


def file_record(row: Row) -> FileRecord:
    return FileRecord(
        name=row["name"],
        detector=Detector(row["detector"]),
        observed_at=row["observed_at"],
        state=FileState(row["state"]),
        arrived_at=row["arrived_at"],
        exptime=row["exptime"],
        naxis1=row["naxis1"],
        naxis2=row["naxis2"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        sha256=row["sha256"],
        raw_path=row["raw_path"],
        slot_bot=row["slot_bot"],
        skip_reason=row["skip_reason"],
    )


class FileTables(PostgresConnection):
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
        stamp = utc(now)
        inserted: list[str] = []
        with self._write() as conn:
            for f in files:
                observed, arrived = utc(f.observed_at), ts(f.arrived_at)
                slot_bot = None
                if arrived is not None:
                    slot = slot_row_for_arrival(conn, arrived, slot_grace)
                    slot_bot = None if slot is None else slot["bot"]
                reason = skipped.get(f.name)
                state = FileState.SKIPPED if reason is not None else FileState.DISCOVERED
                new = conn.execute(
                    "INSERT INTO files (name, detector, observed_at, arrived_at, exptime, naxis1,"
                    " naxis2, filter, polarizer, program, state, attempts, skip_reason, slot_bot,"
                    " created_at, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, %s)"
                    " ON CONFLICT (name) DO NOTHING",
                    (
                        f.name,
                        str(f.detector),
                        observed,
                        arrived,
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
                ).rowcount
                if new:
                    inserted.append(f.name)
                    self._audit(conn, f.name, None, state, stamp, run_id, reason or "discovered")
                elif arrived is not None:
                    conn.execute(
                        "UPDATE files SET arrived_at = coalesce(arrived_at, %(arrived)s),"
                        " slot_bot = coalesce(slot_bot, %(slot)s), updated_at = %(stamp)s"
                        " WHERE name = %(name)s AND (arrived_at IS NULL"
                        "  OR (slot_bot IS NULL AND %(slot)s::timestamptz IS NOT NULL))",
                        {"arrived": arrived, "slot": slot_bot, "stamp": stamp, "name": f.name},
                    )
        return inserted

    @staticmethod
    def _audit(
        conn: Conn,
        name: str,
        source: FileState | None,
        target: FileState,
        stamp: datetime,
        run_id: str | None,
        reason: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO transitions (file, from_state, to_state, at, run_id, reason)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
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
        with self._write() as conn:
            row = conn.execute(
                "SELECT state, lease_owner FROM files WHERE name = %s FOR UPDATE", (name,)
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
            return self._apply(conn, name, current, target, now, run_id, reason, fields)

    def _apply(
        self,
        conn: Conn,
        name: str,
        current: FileState,
        target: FileState,
        now: datetime,
        run_id: str | None,
        reason: str | None,
        fields: Mapping[str, Any],
    ) -> bool:
        """The CAS itself (the caller holds the row lock, in its write transaction)."""
        values: dict[str, Any] = {k: (ts(v) if k in TIME_FIELDS else v) for k, v in fields.items()}
        stamp = utc(now)
        if target in LEASED_FILE_STATES:
            values.setdefault("lease_owner", run_id)
            values.setdefault("lease_expires_at", stamp + self.lease)
        elif current in LEASED_FILE_STATES:
            values["lease_owner"] = None  # leaving a leased state releases the lease
            values["lease_expires_at"] = None
        if target == FileState.DOWNLOADED:
            values.setdefault("attempts", 0)  # a new phase: processing gets its own budget
            values.setdefault("next_attempt_at", None)
        if target in (FileState.PROCESSED, FileState.ABANDONED, FileState.READY):
            values.setdefault("next_attempt_at", None)
        assignments = "".join(f", {k} = %({k})s" for k in values)
        moved = conn.execute(
            f"UPDATE files SET state = %(target)s, updated_at = %(stamp)s{assignments}"
            " WHERE name = %(name)s AND state = %(current)s",
            {
                **values,
                "target": str(target),
                "stamp": stamp,
                "name": name,
                "current": str(current),
            },
        ).rowcount
        if moved != 1:
            return False
        self._audit(conn, name, current, target, stamp, run_id, reason)
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
        with self._write() as conn:
            row = conn.execute(
                "SELECT state FROM files WHERE name = %s FOR UPDATE", (name,)
            ).fetchone()
            if row is None:
                raise UnknownFile(name)
            if FileState(row["state"]) != expected:
                return False  # the file moved on since the caller looked
            if not self._apply(conn, name, expected, target, now, run_id, reason, RESET_FIELDS):
                return False
            if target == FileState.DISCOVERED:
                conn.execute("UPDATE files SET raw_pruned_at = NULL WHERE name = %s", (name,))
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
        due. Each file is claimed by exactly one caller, across threads and processes:
        rows another claimer has locked are skipped, so claimers never wait on each other."""
        if target not in LEASED_FILE_STATES:
            raise ValueError(f"claim target must be one of {sorted(LEASED_FILE_STATES)}")
        stamp = utc(now)
        where = Where().add(claimable(target)).window(detector, start, end)
        if names is not None:
            where.add("name = ANY(%(names)s)", names=[str(n) for n in names])
        params: dict[str, Any] = {
            **where.params,
            "target": str(target),
            "owner": owner,
            "now": stamp,
            "expires": stamp + (lease if lease is not None else self.lease),
            "run_id": run_id or owner,
            "reason": f"claimed by {owner}",
        }
        bound = ""
        if limit is not None:
            bound = "LIMIT %(limit)s"
            params["limit"] = int(limit)
        with self._write_one() as conn:
            rows = conn.execute(_CLAIM_SQL.format(where=where.sql, limit=bound), params).fetchall()
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
        with self._write() as conn:
            row = conn.execute("SELECT * FROM files WHERE name = %s FOR UPDATE", (name,)).fetchone()
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
        conn: Conn,
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
            retry_at = utc(now) + self.backoff_delay(attempts)
            fields = {"attempts": attempts, "last_error": error, "next_attempt_at": retry_at}
            reason = f"attempt {attempts} failed: {error}"
        self._apply(conn, row["name"], current, target, now, run_id, reason, fields)
        return target

    def recover_expired_leases(self, now: datetime, run_id: str | None = None) -> list[str]:
        """Fail every leased file whose lease expired before ``now`` (its worker died or
        hung), counting the attempt exactly as ``fail`` does. Returns the names.

        The rows are locked as they are read (a renewal in flight is waited for and then
        re-checked), so a lease renewed meanwhile is not taken."""
        recovered: list[str] = []
        with self._write() as conn:
            for row in _expired_leases(conn, utc(now), lock=True):
                expired = row["lease_expires_at"]
                error = (
                    f"lease of {row['lease_owner']} expired at {to_iso(expired)}"
                    f" while {row['state']}"
                )
                self._fail_locked(conn, row, error, now, run_id, permanent=False)
                recovered.append(row["name"])
        return recovered

    def renew_lease(
        self, name: str, *, owner: str, now: datetime, lease: timedelta | None = None
    ) -> bool:
        """Extend the lease ``owner`` holds on ``name`` to ``now + lease`` (the store's lease
        if None); False when the file is no longer leased by ``owner``. Guarded like every
        other write; the expiry only ever moves forward. No audit row: the state stays."""
        expires = utc(now) + (lease if lease is not None else self.lease)
        with self._write_one() as conn:
            renewed = conn.execute(
                "UPDATE files SET lease_expires_at = greatest(lease_expires_at, %s)"
                " WHERE name = %s AND lease_owner = %s AND state = ANY(%s)",
                (expires, name, owner, _LEASED),
            ).rowcount
        return renewed == 1

    # -- file queries ------------------------------------------------------------------------

    def get_file(self, name: str) -> FileRecord | None:
        with self._read_one() as conn:
            row = conn.execute("SELECT * FROM files WHERE name = %s", (name,)).fetchone()
        return None if row is None else file_record(row)

    def files_between(
        self,
        detector: Detector | str,
        start: datetime,
        end: datetime,
        states: Iterable[FileState] | None = None,
    ) -> list[FileRecord]:
        """Files of ``detector`` observed in [start, end), in time order (index range scan)."""
        params = {"detector": str(detector), "start": ts(start), "end": ts(end)}
        with self._read_one() as conn:
            rows = conn.execute(CHRONOLOGICAL_FILES_SQL, params).fetchall()
        wanted = None if states is None else {str(s) for s in states}
        return [file_record(r) for r in rows if wanted is None or r["state"] in wanted]

    def retry_due(self, now: datetime, detector: Detector | str | None = None) -> list[FileRecord]:
        """Failed files whose backoff has elapsed (never ABANDONED ones), oldest due first."""
        where = Where().add(
            "state = ANY(%(states)s) AND next_attempt_at <= %(now)s",
            states=_RETRYING,
            now=ts(now),
        )
        if detector is not None:
            where.add("detector = %(detector)s", detector=str(detector))
        with self._read_one() as conn:
            rows = conn.execute(
                f"SELECT * FROM files WHERE {where.sql} ORDER BY next_attempt_at, name",
                where.params,
            ).fetchall()
        return [file_record(r) for r in rows]

    def stuck_files(self, now: datetime) -> list[FileRecord]:
        """Leased files whose lease has expired (what ``recover_expired_leases`` would fail)."""
        with self._read_one() as conn:
            rows = _expired_leases(conn, utc(now), lock=False)
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
        with self._read_one() as conn:
            rows = conn.execute(
                f"SELECT state, count(*) AS n FROM files WHERE {where.sql} GROUP BY state",
                where.params,
            ).fetchall()
        counts = dict.fromkeys(FileState, 0)
        counts.update({FileState(r["state"]): int(r["n"]) for r in rows})
        return counts

    def count_arrivals(
        self, start: datetime, end: datetime, detector: Detector | str | None = None
    ) -> int:
        """Files that arrived on the server in [start, end] (both ends inclusive, like a
        slot window [bot, eot + grace])."""
        where = Where().add(
            "arrived_at >= %(start)s AND arrived_at <= %(end)s", start=ts(start), end=ts(end)
        )
        if detector is not None:
            where.add("detector = %(detector)s", detector=str(detector))
        with self._read_one() as conn:
            row = conn.execute(
                f"SELECT count(*) AS n FROM files WHERE {where.sql}", where.params
            ).fetchone()
        return 0 if row is None else int(row["n"])

    def known_names(self, names: Iterable[str]) -> set[str]:
        with self._read_one() as conn:
            rows = conn.execute(
                "SELECT name FROM files WHERE name = ANY(%s)", ([str(n) for n in names],)
            ).fetchall()
        return {r["name"] for r in rows}

    def transitions_for(self, name: str) -> list[FileTransition]:
        """The audit trail of one file, oldest first."""
        with self._read_one() as conn:
            rows = conn.execute(
                "SELECT * FROM transitions WHERE file = %s ORDER BY id", (name,)
            ).fetchall()
        return [
            FileTransition(
                id=r["id"],
                file=r["file"],
                from_state=None if r["from_state"] is None else FileState(r["from_state"]),
                to_state=FileState(r["to_state"]),
                at=r["at"],
                run_id=r["run_id"],
                reason=r["reason"],
            )
            for r in rows
        ]

    def transition_count(self) -> int:
        with self._read_one() as conn:
            row = conn.execute("SELECT count(*) AS n FROM transitions").fetchone()
        return 0 if row is None else int(row["n"])


def _expired_leases(conn: Conn, now: datetime, *, lock: bool) -> list[Row]:
    """Files in a leased state whose lease expired before ``now``, oldest first; ``lock``
    takes their row locks (in that order, so two sweepers cannot deadlock)."""
    return conn.execute(
        "SELECT * FROM files WHERE state = ANY(%s) AND lease_expires_at < %s"
        " ORDER BY observed_at, name" + (" FOR UPDATE" if lock else ""),
        (_LEASED, now),
    ).fetchall()
