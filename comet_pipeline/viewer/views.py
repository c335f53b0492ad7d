"""Domain records to response bodies, and the URLs that tie them together."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from comet_pipeline.domain import (
    CandidateRecord,
    CandidateReview,
    DetectionRecord,
    FileRecord,
    FileState,
    FileTransition,
    Frame,
)
from comet_pipeline.imaging.products.registry import BY_NAME
from comet_pipeline.viewer.schemas import (
    CandidateDetail,
    CandidateSummary,
    DetectionOut,
    FrameDetail,
    FrameSummary,
    FrameTimes,
    LightCurve,
    ProductLink,
    ReviewOut,
)


def frame_url(name: str) -> str:
    return f"/api/frames/{quote(name, safe='')}"


def product_url(name: str, product: str) -> str:
    return f"/products/{quote(name, safe='')}/{quote(product, safe='')}"


def candidate_url(candidate_id: str) -> str:
    return f"/api/candidates/{quote(candidate_id, safe='')}"


def cutout_url(candidate_id: str) -> str:
    return f"/products/candidates/{quote(candidate_id, safe='')}/cutout"


def _minutes(later: datetime | None, earlier: datetime) -> float | None:
    return None if later is None else round((later - earlier).total_seconds() / 60, 3)


def frame_summary(frame: Frame) -> FrameSummary:
    return FrameSummary(
        name=frame.name,
        detector=frame.detector,
        observed_at=frame.observed_at,
        roll_deg=frame.roll_deg,
        naxis1=frame.naxis1,
        naxis2=frame.naxis2,
        url=frame_url(frame.name),
        products={p: product_url(frame.name, p) for p in frame.products if p in BY_NAME},
    )


def processed_at(transitions: list[FileTransition]) -> datetime | None:
    """When the file last became PROCESSED (the audit trail keeps it; the frame does not)."""
    times = [t.at for t in transitions if t.to_state is FileState.PROCESSED]
    return max(times) if times else None


def frame_detail(
    frame: Frame, record: FileRecord | None, transitions: list[FileTransition]
) -> FrameDetail:
    arrived = record.arrived_at if record is not None else None
    processed = processed_at(transitions)
    links = [
        ProductLink(
            name=name,
            url=product_url(frame.name, name),
            content_type=BY_NAME[name].content_type,
            size_bytes=item.size_bytes,
            description=BY_NAME[name].description,
        )
        for name, item in sorted(frame.products.items())
        if name in BY_NAME
    ]
    return FrameDetail(
        name=frame.name,
        detector=frame.detector,
        state=record.state if record is not None else None,
        times=FrameTimes(
            observed_at=frame.observed_at,
            arrived_at=arrived,
            processed_at=processed,
            arrival_latency_minutes=_minutes(arrived, frame.observed_at),
            processing_latency_minutes=_minutes(processed, frame.observed_at),
        ),
        stats=dict(frame.stats),
        background_kind=frame.background_kind,
        background_frames=frame.background_frames,
        products=links,
    )


def rank(candidates: list[CandidateRecord]) -> list[CandidateRecord]:
    """Best score first; unscored ones last; ties by first sighting, then id (stable pages)."""
    return sorted(
        candidates,
        key=lambda c: (c.score is None, -(c.score or 0.0), c.first_seen_at, c.id),
    )


def _summary_fields(c: CandidateRecord) -> dict[str, object]:
    return {
        "id": c.id,
        "detector": c.detector,
        "first_seen_at": c.first_seen_at,
        "last_seen_at": c.last_seen_at,
        "n_frames": c.n_frames,
        "score": c.score,
        "snr": c.snr,
        "speed_px_per_hour": c.speed_px_per_hour,
        "direction_deg": c.direction_deg,
        "status": c.status,
        "known": c.known,
        "url": candidate_url(c.id),
    }


def candidate_summary(c: CandidateRecord) -> CandidateSummary:
    return CandidateSummary.model_validate(_summary_fields(c))


def candidate_detail(
    c: CandidateRecord,
    detections: list[DetectionRecord],
    reviews: list[CandidateReview],
    *,
    has_cutout: bool,
) -> CandidateDetail:
    return CandidateDetail.model_validate(
        {
            **_summary_fields(c),
            "updated_at": c.updated_at,
            "report_text": c.report_text,
            "cutout_url": cutout_url(c.id) if has_cutout else None,
            "detections": [
                DetectionOut(
                    file=d.file,
                    observed_at=d.observed_at,
                    x=d.x,
                    y=d.y,
                    flux=d.flux,
                    snr=d.snr,
                    frame_url=frame_url(d.file),
                )
                for d in detections
            ],
            "reviews": [
                ReviewOut(
                    from_status=r.from_status, status=r.to_status, by=r.by, at=r.at, note=r.note
                )
                for r in reviews
            ],
            "light_curve": LightCurve(
                observed_at=[d.observed_at for d in detections],
                flux=[d.flux for d in detections],
                snr=[d.snr for d in detections],
            ),
        }
    )
