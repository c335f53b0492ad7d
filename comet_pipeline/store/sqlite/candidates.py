"""Comet candidates and the detections that make up their tracks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from comet_pipeline.domain import (
    CandidateRecord,
    DetectionRecord,
    Detector,
    from_iso,
    to_iso,
    utcnow,
)
from comet_pipeline.store.sqlite.connection import SQLiteConnection
from comet_pipeline.store.sqlite.rows import Row, Where, dt, json_list

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


def candidate_record(row: Row) -> CandidateRecord:
    values = {k: row[k] for k in CANDIDATE_COLUMNS}
    for key in _CANDIDATE_TIMES:
        values[key] = dt(values[key])
    return CandidateRecord(**values)


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
        """Insert or update a candidate by its stable ``id``; ``updated_at`` is ``now``."""
        values: dict[str, object] = {c: getattr(candidate, c) for c in CANDIDATE_COLUMNS}
        values["updated_at"] = candidate.updated_at or (now if now is not None else utcnow())
        for key in _CANDIDATE_TIMES:
            value = values[key]
            if isinstance(value, datetime):
                values[key] = to_iso(value)
        with self._write() as db:
            db.table("candidates").upsert(values, pk="id")

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
