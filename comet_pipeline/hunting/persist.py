"""Candidates <-> the store's ``candidates`` / ``detections`` rows (no store import).

The hourly hunt reads the recent candidates of a detector back as :class:`Candidate` (so a
new window can be folded into them with stable ids) and writes the ones a hunt created or
updated, as the domain's typed records.
"""

from __future__ import annotations

from collections.abc import Sequence

from comet_pipeline.domain import CandidateRecord, CandidateStatus, DetectionRecord
from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG, build_candidate
from comet_pipeline.hunting.model import Candidate, Detection


def candidate_row(
    candidate: Candidate,
    *,
    cutout_path: str | None = None,
    status: CandidateStatus = CandidateStatus.NEW,
) -> CandidateRecord:
    """The store's record of a candidate (the store sets ``updated_at``)."""
    return CandidateRecord(
        id=candidate.id,
        detector=candidate.detector,
        first_seen_at=candidate.first_seen,
        last_seen_at=candidate.last_seen,
        n_frames=candidate.n_frames,
        score=round(candidate.score, 4),
        snr=round(candidate.snr, 3),
        speed_px_per_hour=round(candidate.speed, 3),
        direction_deg=round(candidate.direction, 2),
        status=status,
        report_text=candidate.report,
        cutout_path=cutout_path,
        known=candidate.known,
    )


def detection_rows(candidate: Candidate) -> list[DetectionRecord]:
    """The candidate's track: file name, time, x, y (FITS array px), flux, snr."""
    return [
        DetectionRecord(
            file=d.name,
            observed_at=d.observed_at,
            x=round(d.x, 3),
            y=round(d.y, 3),
            flux=round(d.flux, 3),
            snr=round(d.snr, 3),
        )
        for d in candidate.detections
    ]


def candidate_from_rows(
    row: CandidateRecord,
    detections: Sequence[DetectionRecord],
    *,
    sun: tuple[float, float],
    image_size: int = 1024,
    roll_deg: float = 0.0,
    config: HuntConfig = DEFAULT_CONFIG,
) -> Candidate:
    """Rebuild a stored candidate (its id kept) so new windows can be merged into it."""
    dets = [
        Detection(
            name=d.file,
            observed_at=d.observed_at,
            x=float(d.x),
            y=float(d.y),
            flux=float(d.flux or 0.0),
            snr=float(d.snr or 0.0),
        )
        for d in detections
    ]
    return build_candidate(
        row.detector,
        dets,
        sun=sun,
        config=config,
        image_size=image_size,
        cid=row.id,
        known=row.known or None,
        roll_deg=roll_deg,
    )
