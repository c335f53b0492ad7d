"""Records that cross layers. Frozen dataclasses; times are aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from comet_pipeline.domain.states import CandidateStatus, FileState, SlotState


class Detector(StrEnum):
    C2 = "c2"
    C3 = "c3"

    @property
    def label(self) -> str:
        return self.value.upper()

    @property
    def telescope_digit(self) -> str:
        """First digit of an archive file name (2 = C2, 3 = C3)."""
        return self.value[1]


@dataclass(frozen=True)
class Slot:
    """One DSN downlink pass, keyed by its begin-of-track time."""

    bot: datetime
    eot: datetime
    antenna: str
    state: SlotState = SlotState.PENDING
    source: str = "schedule"  # "schedule" or "nominal" (fallback pattern)


@dataclass(frozen=True)
class ArchiveFile:
    """One image as an archive index describes it (before we hold its bytes)."""

    name: str
    detector: Detector
    observed_at: datetime
    exptime: float
    naxis1: int
    naxis2: int
    filter: str = ""
    polarizer: str = ""
    program: str = ""
    arrived_at: datetime | None = None

    @property
    def day_dir(self) -> str:
        """The archive's ``YYMMDD`` folder: the observation date (UTC)."""
        return self.observed_at.strftime("%y%m%d")


@dataclass(frozen=True)
class FileRecord:
    """A file as the lifecycle store holds it."""

    name: str
    detector: Detector
    observed_at: datetime
    state: FileState
    arrived_at: datetime | None = None
    exptime: float | None = None
    naxis1: int | None = None
    naxis2: int | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    sha256: str | None = None
    raw_path: str | None = None
    slot_bot: datetime | None = None
    skip_reason: str | None = None

    def as_archive_file(self) -> ArchiveFile:
        """The index view of this file, e.g. to verify a download against it."""
        return ArchiveFile(
            name=self.name,
            detector=self.detector,
            observed_at=self.observed_at,
            exptime=self.exptime or 0.0,
            naxis1=self.naxis1 or 0,
            naxis2=self.naxis2 or 0,
            arrived_at=self.arrived_at,
        )


@dataclass(frozen=True)
class ProductFile:
    """One file of a frame's products, as the store keeps it (``products`` table)."""

    path: str
    size_bytes: int | None = None  # None: not measured (rows migrated from an older schema)


@dataclass(frozen=True)
class Frame:
    """A processed file: its products by registry name (``imaging.products``) and statistics.

    The imaging pipeline returns it, the store keeps it, the hunter and the viewer read it.
    """

    name: str
    detector: Detector
    observed_at: datetime
    products: dict[str, ProductFile] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    background_kind: str | None = None  # "rolling", or a fallback: "self" / "radial"
    background_frames: int | None = None  # earlier frames the rolling background used
    # CROTA1 of the header: near 180 the PNGs are the array turned (see imaging.orientation);
    # None for frames processed before the store kept it
    roll_deg: float | None = None
    # the array's size (a binned frame is 512 or 256 on a side; its PNGs are shown at 1024)
    naxis1: int | None = None
    naxis2: int | None = None
    # products retention removed from disk, and when (re-processing makes them again)
    pruned: dict[str, datetime] = field(default_factory=dict)

    def path(self, product: str) -> str | None:
        """The file of ``product`` (a registry name), or None when this frame has none."""
        item = self.products.get(product)
        return None if item is None else item.path


@dataclass(frozen=True)
class StoredProduct:
    """One product file on disk, as retention weighs it."""

    frame: str
    detector: Detector
    observed_at: datetime
    product: str
    path: str
    size_bytes: int | None


@dataclass(frozen=True)
class StoredRaw:
    """One downloaded raw file on disk, as retention weighs it."""

    name: str
    detector: Detector
    observed_at: datetime
    path: str


@dataclass(frozen=True)
class DiskUsage:
    """What one product of one detector holds on disk (pruned files not counted)."""

    detector: Detector
    product: str
    files: int
    size_bytes: int


@dataclass(frozen=True)
class FileTransition:
    """One audited move of a file (``transitions``): None ``from_state`` = registration."""

    id: int
    file: str
    from_state: FileState | None
    to_state: FileState
    at: datetime
    run_id: str | None
    reason: str | None


@dataclass(frozen=True)
class SlotTransition:
    """One audited move of a downlink slot (``slot_transitions``)."""

    bot: datetime
    from_state: SlotState | None
    to_state: SlotState
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class CandidateRecord:
    """A comet candidate as the store keeps it (the hunter's Candidate, flattened)."""

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
    report_text: str | None
    cutout_path: str | None
    known: str | None = None  # "known: <planet>": shown, never a new candidate or spam
    updated_at: datetime | None = None  # set by the store when written


@dataclass(frozen=True)
class CandidateReview:
    """One verdict given to a candidate: who (a token's name, or "hunt" when a merge carried
    it over), when, from what, and why (the optional note). Kept even if the row goes."""

    candidate_id: str
    from_status: CandidateStatus | None
    to_status: CandidateStatus
    by: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class DetectionRecord:
    """One detection of a stored candidate: FITS array pixels (x = column, y = row)."""

    file: str
    observed_at: datetime
    x: float
    y: float
    flux: float | None = None
    snr: float | None = None


@dataclass(frozen=True)
class FitsInfo:
    """A LASCO FITS header normalised across level 0.5 and level 1.

    Pixel positions are 0-based FITS array coordinates (x = column, y = row), the
    project's reference frame; the header's 1-based CRPIX is converted on the way in.
    """

    observed_at: datetime
    detector: Detector
    exptime: float  # seconds
    naxis1: int
    naxis2: int
    binning: int  # pixels summed per side (1 = full resolution)
    offset: float  # bias, DN
    sun_x: float  # 0-based column of Sun centre
    sun_y: float  # 0-based row of Sun centre
    plate_scale: float  # arcsec per pixel, as binned
    roll_deg: float  # CROTA, degrees
    filter: str
    polarizer: str
    program: str
    n_missing: int  # missing (zero) pixels, DATAZER or NMISSING
    level: str  # "0.5" or "1"
    filename: str = ""


@dataclass(frozen=True)
class StoreSummary:
    """The counts ``comet-pipeline status`` prints: where the store is and what it holds."""

    location: str
    slots_by_state: dict[SlotState, int]
    files_by_detector_state: dict[Detector, dict[FileState, int]]
    totals: dict[str, int]  # rows per table: slots, files, frames, transitions, candidates

    @property
    def empty(self) -> bool:
        return self.totals.get("slots", 0) == 0 and self.totals.get("files", 0) == 0
