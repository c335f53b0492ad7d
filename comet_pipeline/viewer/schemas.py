"""The API's response bodies: typed, so the OpenAPI page documents each field and a change
of shape is a type error here rather than a surprise in the page's JavaScript."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from comet_pipeline.domain import CandidateStatus, Detector, FileState, SlotState
from comet_pipeline.viewer.job_schemas import DagsterHealth


class FieldProblem(BaseModel):
    where: str = Field(description="e.g. 'query.since' or 'path.name'")
    message: str


class Problem(BaseModel):
    """Every error body: the status again and one line a person can act on."""

    status: int
    message: str
    fields: list[FieldProblem] = Field(
        default_factory=list, description="one entry per bad parameter (422 only)"
    )


class StoreHealth(BaseModel):
    reachable: bool
    location: str
    schema_version: int | None = Field(description="the store's schema, when it could be read")
    error: str | None = Field(description="why it is not reachable, in one line")


class NewestFrame(BaseModel):
    detector: Detector
    name: str | None
    observed_at: datetime | None
    age_minutes: float | None = Field(description="minutes between that observation and now")


class Health(BaseModel):
    checked_at: datetime
    store: StoreHealth
    files_by_state: dict[FileState, int]
    newest_frames: list[NewestFrame]
    dagster: DagsterHealth = Field(description="the Dagster webserver, its sensors and schedules")


class SlotOut(BaseModel):
    bot: datetime = Field(description="begin of track (the slot's key)")
    eot: datetime = Field(description="end of track")
    antenna: str
    state: SlotState
    source: str = Field(description="'schedule', or 'nominal' when the schedule was not read")


class SlotDay(BaseModel):
    day: date
    slots: list[SlotOut]


class FrameSummary(BaseModel):
    name: str
    detector: Detector
    observed_at: datetime
    roll_deg: float | None = Field(
        description="CROTA1: beyond ±90° the PNGs show the array turned 180° (flipped left-right"
        " relative to an unrolled frame); null for frames processed before it was kept"
    )
    naxis1: int | None = Field(
        description="the array's width: 1024, or 512/256 when binned (the PNGs are 1024 px,"
        " so a display pixel is naxis1/1024 array pixels); null for older frames"
    )
    naxis2: int | None = Field(description="the array's height, as naxis1")
    url: str = Field(description="this frame's detail")
    products: dict[str, str] = Field(description="product name -> file URL")


class FramePage(BaseModel):
    items: list[FrameSummary]
    next_cursor: str | None = Field(
        description="pass as ?cursor= for the next page; null on the last page"
    )


class ProductLink(BaseModel):
    name: str
    url: str
    content_type: str
    size_bytes: int | None
    description: str


class FrameTimes(BaseModel):
    observed_at: datetime
    arrived_at: datetime | None = Field(description="on the archive server")
    processed_at: datetime | None = Field(description="when the pipeline finished the frame")
    arrival_latency_minutes: float | None = Field(description="arrived - observed")
    processing_latency_minutes: float | None = Field(description="processed - observed")


class FrameDetail(BaseModel):
    name: str
    detector: Detector
    state: FileState | None = Field(description="the file's lifecycle state")
    times: FrameTimes
    stats: dict[str, float]
    background_kind: str | None
    background_frames: int | None
    products: list[ProductLink]


class CandidateSummary(BaseModel):
    id: str
    detector: str
    first_seen_at: datetime
    last_seen_at: datetime
    n_frames: int
    score: float | None
    snr: float | None
    speed_px_per_hour: float | None
    direction_deg: float | None
    status: CandidateStatus
    known: str | None = Field(description="a known object's label: shown, never a comet")
    url: str


class CandidateList(BaseModel):
    items: list[CandidateSummary] = Field(description="best score first")


class DetectionOut(BaseModel):
    """One detection, in FITS array pixels (0-based; x = column, y = row)."""

    file: str
    observed_at: datetime
    x: float
    y: float
    flux: float | None
    snr: float | None
    frame_url: str


class LightCurve(BaseModel):
    """Columns, one entry per detection in time order: ready to plot."""

    observed_at: list[datetime]
    flux: list[float | None]
    snr: list[float | None]


class ReviewOut(BaseModel):
    """One verdict, as the store audited it."""

    from_status: CandidateStatus | None
    status: CandidateStatus
    by: str = Field(description="the token's name, or 'hunt' when a merge carried it over")
    at: datetime
    note: str | None


class ReviewIn(BaseModel):
    """A hunter's verdict on a candidate."""

    model_config = {"extra": "forbid"}

    status: CandidateStatus
    note: str | None = Field(default=None, max_length=2000, description="why, optionally")


class CandidateDetail(CandidateSummary):
    updated_at: datetime | None
    report_text: str | None
    cutout_url: str | None = Field(description="null until the cutout strip exists on disk")
    detections: list[DetectionOut]
    light_curve: LightCurve
    reviews: list[ReviewOut] = Field(description="verdicts given so far, oldest first")
