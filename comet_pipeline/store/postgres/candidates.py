"""Comet candidates, the detections that make up their tracks, verdicts, the viewer's tokens."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from comet_pipeline.domain import (
    CandidateRecord,
    CandidateReview,
    CandidateStatus,
    DetectionRecord,
    Detector,
    utc,
    utcnow,
)
from comet_pipeline.domain.text import bounded
from comet_pipeline.store.errors import StoreError, UnknownCandidate, VerdictChanged
from comet_pipeline.store.postgres.connection import PostgresConnection
from comet_pipeline.store.postgres.rows import Row, Where
from comet_pipeline.store.rules import CANDIDATE_COLUMNS, CANDIDATE_TIMES, HUNT_COLUMNS

_UPSERT_SQL = (
    f"INSERT INTO candidates ({', '.join(CANDIDATE_COLUMNS)}) "
    f"VALUES ({', '.join(f'%({c})s' for c in CANDIDATE_COLUMNS)}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in HUNT_COLUMNS)}"
)
#: A note longer than this is clipped (with its length said), like every stored text.
NOTE_CHARS = 2000


def candidate_record(row: Row) -> CandidateRecord:
    values = {k: row[k] for k in CANDIDATE_COLUMNS}
    values["status"] = CandidateStatus(values["status"])
    return CandidateRecord(**values)


def review_record(row: Row) -> CandidateReview:
    return CandidateReview(
        candidate_id=row["candidate_id"],
        from_status=CandidateStatus(row["from_status"]) if row["from_status"] else None,
        to_status=CandidateStatus(row["to_status"]),
        by=row["by"],
        at=row["at"],
        note=row["note"],
    )


def detection_record(row: Row) -> DetectionRecord:
    return DetectionRecord(
        file=row["file"],
        observed_at=row["observed_at"],
        x=float(row["x"]),
        y=float(row["y"]),
        flux=row["flux"],
        snr=row["snr"],
    )


class CandidateTables(PostgresConnection):
    """``candidates`` and ``detections`` (which go with their candidate, by cascade),
    ``candidate_reviews`` and ``api_tokens``."""

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
                values[key] = utc(value)
        with self._write_one() as conn:
            conn.execute(_UPSERT_SQL, values)

    def candidate(self, candidate_id: str) -> CandidateRecord | None:
        with self._read_one() as conn:
            row = conn.execute("SELECT * FROM candidates WHERE id = %s", (candidate_id,)).fetchone()
        return None if row is None else candidate_record(row)

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
        transaction, the row locked meanwhile. The same verdict again is recorded too: a note
        may be the point. ``expected``: write only if the status still is that (else
        VerdictChanged)."""
        status = CandidateStatus(status)
        note = bounded(note.strip(), NOTE_CHARS) if note and note.strip() else None
        stamp = utc(now)
        with self._write() as conn:
            row = conn.execute(
                "SELECT status FROM candidates WHERE id = %s FOR UPDATE", (candidate_id,)
            ).fetchone()
            if row is None:
                raise UnknownCandidate(candidate_id)
            if expected is not None and row["status"] != CandidateStatus(expected).value:
                raise VerdictChanged(candidate_id, CandidateStatus(expected), row["status"])
            updated = conn.execute(
                "UPDATE candidates SET status = %s, updated_at = %s WHERE id = %s RETURNING *",
                (status.value, stamp, candidate_id),
            ).fetchone()
            conn.execute(
                'INSERT INTO candidate_reviews (candidate_id, from_status, to_status, "by", at,'
                " note) VALUES (%s, %s, %s, %s, %s, %s)",
                (candidate_id, row["status"], status.value, by, stamp, note),
            )
        if updated is None:  # cannot happen: the row is locked
            raise UnknownCandidate(candidate_id)
        return candidate_record(updated)

    def reviews_for(self, candidate_id: str) -> list[CandidateReview]:
        with self._read_one() as conn:
            rows = conn.execute(
                "SELECT * FROM candidate_reviews WHERE candidate_id = %s ORDER BY id",
                (candidate_id,),
            ).fetchall()
        return [review_record(r) for r in rows]

    def create_token(self, name: str, token_hash: str, *, now: datetime) -> None:
        """Keep a token's hash under ``name``; a name in use (even revoked) is refused."""
        with self._write_one() as conn:
            created = conn.execute(
                "INSERT INTO api_tokens (name, hash, created_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (name) DO NOTHING",
                (name, token_hash, utc(now)),
            ).rowcount
        if not created:
            raise StoreError(f"a token named {name!r} exists already; pick another name")

    def revoke_token(self, name: str, *, now: datetime) -> bool:
        """Revoke the token ``name``; False when there is no such live token."""
        with self._write_one() as conn:
            revoked = conn.execute(
                "UPDATE api_tokens SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL",
                (utc(now), name),
            ).rowcount
        return revoked == 1

    def token_name(self, token_hash: str) -> str | None:
        """The name of the live token with this hash (the hash column is unique, indexed)."""
        with self._read_one() as conn:
            row = conn.execute(
                "SELECT name FROM api_tokens WHERE hash = %s AND revoked_at IS NULL",
                (token_hash,),
            ).fetchone()
        return None if row is None else str(row["name"])

    def token_names(self) -> list[str]:
        """The live tokens' names, oldest first."""
        with self._read_one() as conn:
            rows = conn.execute(
                "SELECT name FROM api_tokens WHERE revoked_at IS NULL ORDER BY created_at, name"
            ).fetchall()
        return [str(r["name"]) for r in rows]

    def delete_candidates(self, ids: Iterable[str]) -> int:
        """Drop candidates (and, by cascade, their detections), e.g. ones merged into another."""
        listed = [str(i) for i in ids]
        if not listed:
            return 0
        with self._write_one() as conn:
            return conn.execute("DELETE FROM candidates WHERE id = ANY(%s)", (listed,)).rowcount

    def replace_detections(self, candidate_id: str, rows: Iterable[DetectionRecord]) -> int:
        """Make ``rows`` the candidate's whole track."""
        records = [
            (candidate_id, r.file, utc(r.observed_at), float(r.x), float(r.y), r.flux, r.snr)
            for r in rows
        ]
        with self._write() as conn:
            conn.execute("DELETE FROM detections WHERE candidate_id = %s", (candidate_id,))
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO detections (candidate_id, file, observed_at, x, y, flux, snr)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s)",
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
        where = Where().window(detector, since, until, after="last_seen_at", before="first_seen_at")
        with self._read_one() as conn:
            rows = conn.execute(
                f"SELECT * FROM candidates WHERE {where.sql} ORDER BY first_seen_at, id",
                where.params,
            ).fetchall()
        return [candidate_record(r) for r in rows]

    def detections_for(self, candidate_id: str) -> list[DetectionRecord]:
        with self._read_one() as conn:
            rows = conn.execute(
                "SELECT * FROM detections WHERE candidate_id = %s ORDER BY observed_at, id",
                (candidate_id,),
            ).fetchall()
        return [detection_record(r) for r in rows]
