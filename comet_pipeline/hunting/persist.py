"""Candidates <-> the store's ``candidates`` / ``detections`` rows (plain dicts, no store import).

The Dagster asset reads the recent candidates of a detector back as :class:`Candidate`
(so a new window can be folded into them with stable ids) and writes the ones a hunt created
or updated. Column names follow ``store.lifecycle.CANDIDATE_COLUMNS`` / ``DETECTION_COLUMNS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG, build_candidate
from comet_pipeline.hunting.model import Candidate, Detection


def candidate_row(
    candidate: Candidate, *, cutout_path: str | None = None, status: str = "new"
) -> dict[str, Any]:
    """The ``upsert_candidate`` mapping of a candidate (times stay datetimes)."""
    return {
        "id": candidate.id,
        "detector": candidate.detector,
        "first_seen_at": candidate.first_seen,
        "last_seen_at": candidate.last_seen,
        "n_frames": candidate.n_frames,
        "score": round(candidate.score, 4),
        "snr": round(candidate.snr, 3),
        "speed_px_per_hour": round(candidate.speed, 3),
        "direction_deg": round(candidate.direction, 2),
        "status": status,
        "report_text": candidate.report,
        "cutout_path": cutout_path,
        "known": candidate.known,
    }


def detection_rows(candidate: Candidate) -> list[dict[str, Any]]:
    """The ``replace_detections`` rows: file name, time, x, y (FITS array px), flux, snr."""
    return [
        {
            "file": d.name,
            "observed_at": d.observed_at,
            "x": round(d.x, 3),
            "y": round(d.y, 3),
            "flux": round(d.flux, 3),
            "snr": round(d.snr, 3),
        }
        for d in candidate.detections
    ]


def candidate_from_rows(
    row: Mapping[str, Any],
    detections: Sequence[Mapping[str, Any]],
    *,
    sun: tuple[float, float],
    image_size: int = 1024,
    roll_deg: float = 0.0,
    config: HuntConfig = DEFAULT_CONFIG,
) -> Candidate:
    """Rebuild a stored candidate (its id kept) so new windows can be merged into it."""
    dets = [
        Detection(
            name=str(d["file"]),
            observed_at=d["observed_at"],
            x=float(d["x"]),
            y=float(d["y"]),
            flux=float(d.get("flux") or 0.0),
            snr=float(d.get("snr") or 0.0),
        )
        for d in detections
    ]
    return build_candidate(
        str(row["detector"]),
        dets,
        sun=sun,
        config=config,
        image_size=image_size,
        cid=str(row["id"]),
        known=row.get("known") or None,
        roll_deg=roll_deg,
    )
