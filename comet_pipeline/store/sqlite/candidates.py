"""Comet candidates and the detections that make up their tracks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from comet_pipeline.domain import (
    CandidateRecord,
    CandidateReview,
    CandidateStatus,
    DetectionRecord,
    Detector,
    from_iso,
    to_iso,
    utcnow,
)
from comet_pipeline.domain.text import bounded
from comet_pipeline.store.errors import StoreError, UnknownCandidate, VerdictChanged
from comet_pipeline.store.rules import CANDIDATE_COLUMNS, CANDIDATE_TIMES, HUNT_COLUMNS
from comet_pipeline.store.sqlite.connection import SQLiteConnection
from comet_pipeline.store.sqlite.rows import Row, Where, dt, json_list


def candidate_record(row: Row) -> CandidateRecord:
    values = {k: row[k] for k in CANDIDATE_COLUMNS}
    for key in CANDIDATE_TIMES:
        values[key] = dt(values[key])
    values["status"] = CandidateStatus(values["status"])
    return CandidateRecord(**values)


def review_record(row: Row) -> CandidateReview:
    return CandidateReview(
        candidate_id=row["candidate_id"],
        from_status=CandidateStatus(row["from_status"]) if row["from_status"] else None,
        to_status=CandidateStatus(row["to_status"]),
        by=row["by"],
        at=from_iso(row["at"]),
        note=row["note"],
    )


_UPSERT_SQL = (
    f"INSERT INTO candidates ({', '.join(CANDIDATE_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in CANDIDATE_COLUMNS)}) "
    f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in HUNT_COLUMNS)}"
)
#: A note longer than this is clipped (with its length said), like every stored text.
NOTE_CHARS = 2000


def detection_record(row: Row) -> DetectionRecord:
    return DetectionRecord(
        file=row["file"],
        observed_at=from_iso(row["observed_at"]),
        x=float(row["x"]),
        y=float(row["y"]),
        flux=row["flux"],
        snr=row["snr"],
    )


class CandidateTables(SQLiteConnection):
    """``candidates`` and ``detections`` (which go with their candidate, by cascade)."""

    def upsert_candidate(self, candidate: CandidateRecord, *, now: datetime | None = None) -> None:
        """Insert or update a candidate by its stable ``id``; ``updated_at`` is ``now``.

        An existing candidate keeps its status: a verdict is changed only by
        :meth:`review_candidate`, so a rejected track found again stays rejected."""
        values: dict[str, object] = {c: getattr(candidate, c) for c in CANDIDATE_COLUMNS}
        values["updated_at"] = candidate.updated_at or (now if now is not None else utcnow())
        values["status"] = CandidateStatus(candidate.status).value
        for key in CANDIDATE_TIMES:
            value = values[key]
            if isinstance(value, datetime):
                values[key] = to_iso(value)
        with self._write() as db:
            db.execute(_UPSERT_SQL, values)

    def candidate(self, candidate_id: str) -> CandidateRecord | None:
        with self._read() as db:
            rows = list(db.table("candidates").rows_where("id = ?", [candidate_id]))
        return candidate_record(rows[0]) if rows else None

    def review_candidate(
        self,
        candidate_id: str,
        status: CandidateStatus,
        *,
        by: str,
        now: datetime,
        note: str | None = None,
        expected: CandidateStatus | None = None,
    ) -> CandidateRecord:
        """Give a candidate a verdict and audit it (from, to, who, when, note) in one
        transaction. The same verdict again is recorded too: a note may be the point.
        ``expected``: write only if the status still is that (else VerdictChanged)."""
        status = CandidateStatus(status)
        note = bounded(note.strip(), NOTE_CHARS) if note and note.strip() else None
        with self._write() as db:
            row = db.execute(
                "SELECT status FROM candidates WHERE id = ?", (candidate_id,)
            ).fetchone()
            if row is None:
                raise UnknownCandidate(candidate_id)
            if expected is not None and row["status"] != CandidateStatus(expected).value:
                raise VerdictChanged(candidate_id, CandidateStatus(expected), row["status"])
            db.execute(
                "UPDATE candidates SET status = ?, updated_at = ? WHERE id = ?",
                (status.value, to_iso(now), candidate_id),
            )
            db.execute(
                "INSERT INTO candidate_reviews (candidate_id, from_status, to_status, by, at, note)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (candidate_id, row["status"], status.value, by, to_iso(now), note),
            )
            updated = db.execute(
                "SELECT * FROM candidates WHERE id = ?", (candidate_id,)
            ).fetchone()
        return candidate_record(updated)

    def reviews_for(self, candidate_id: str) -> list[CandidateReview]:
        with self._read() as db:
            rows = list(
                db.table("candidate_reviews").rows_where(
                    "candidate_id = ?", [candidate_id], order_by="id"
                )
            )
        return [review_record(r) for r in rows]

    def create_token(self, name: str, token_hash: str, *, now: datetime) -> None:
        """Keep a token's hash under ``name``; a name in use (even revoked) is refused."""
        with self._write() as db:
            if db.execute("SELECT 1 FROM api_tokens WHERE name = ?", (name,)).fetchone():
                raise StoreError(f"a token named {name!r} exists already; pick another name")
            db.execute(
                "INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?)",
                (name, token_hash, to_iso(now)),
            )

    def revoke_token(self, name: str, *, now: datetime) -> bool:
        """Revoke the token ``name``; False when there is no such live token."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (to_iso(now), name),
            )
            return cursor.rowcount == 1

    def token_name(self, token_hash: str) -> str | None:
        """The name of the live token with this hash (the hash column is unique, indexed)."""
        with self._read() as db:
            row = db.execute(
                "SELECT name FROM api_tokens WHERE hash = ? AND revoked_at IS NULL",
                (token_hash,),
            ).fetchone()
        return None if row is None else str(row["name"])

    def token_names(self) -> list[str]:
        """The live tokens' names, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT name FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at, name"
            ).fetchall()
        return [str(r["name"]) for r in rows]

    def delete_candidates(self, ids: Iterable[str]) -> int:
        """Drop candidates (and, by cascade, their detections), e.g. ones merged into another."""
        ids = list(ids)
        if not ids:
            return 0
        with self._write() as db:
            cursor = db.execute(
                "DELETE FROM candidates WHERE id IN (SELECT value FROM json_each(?))",
                (json_list(ids),),
            )
            return int(cursor.rowcount)

    def replace_detections(self, candidate_id: str, rows: Iterable[DetectionRecord]) -> int:
        """Make ``rows`` the candidate's whole track."""
        records = [
            {
                "candidate_id": candidate_id,
                "file": r.file,
                "observed_at": to_iso(r.observed_at),
                "x": float(r.x),
                "y": float(r.y),
                "flux": r.flux,
                "snr": r.snr,
            }
            for r in rows
        ]
        with self._write() as db:
            db.execute("DELETE FROM detections WHERE candidate_id = ?", (candidate_id,))
            db.table("detections").insert_all(records)
        return len(records)

    def candidates(
        self,
        detector: Detector | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CandidateRecord]:
        """Candidates whose track overlaps [since, until), by first sighting."""
        where = Where().window(detector, since, until, after="last_seen_at", before="first_seen_at")
        with self._read() as db:
            rows = list(
                db.table("candidates").rows_where(
                    where.sql, where.params, order_by="first_seen_at, id"
                )
            )
        return [candidate_record(r) for r in rows]

    def detections_for(self, candidate_id: str) -> list[DetectionRecord]:
        with self._read() as db:
            rows = list(
                db.table("detections").rows_where(
                    "candidate_id = ?", [candidate_id], order_by="observed_at, id"
                )
            )
        return [detection_record(r) for r in rows]
