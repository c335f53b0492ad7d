"""Domain vocabulary: states, transitions, and records. Imports nothing of ours; no I/O."""

from comet_pipeline.domain.models import (
    ArchiveFile,
    CandidateRecord,
    CandidateReview,
    DetectionRecord,
    Detector,
    FileRecord,
    FileTransition,
    FitsInfo,
    Frame,
    ProductFile,
    Slot,
    SlotTransition,
    StoreSummary,
)
from comet_pipeline.domain.states import (
    FILE_TRANSITIONS,
    HUNT_REVIEWER,
    SLOT_TRANSITIONS,
    TERMINAL_FILE_STATES,
    CandidateStatus,
    FileState,
    SlotState,
)
from comet_pipeline.domain.timeutil import from_iso, to_iso, utc, utcnow

__all__ = [
    "FILE_TRANSITIONS",
    "HUNT_REVIEWER",
    "SLOT_TRANSITIONS",
    "TERMINAL_FILE_STATES",
    "ArchiveFile",
    "CandidateRecord",
    "CandidateReview",
    "CandidateStatus",
    "DetectionRecord",
    "Detector",
    "FileRecord",
    "FileState",
    "FileTransition",
    "FitsInfo",
    "Frame",
    "ProductFile",
    "Slot",
    "SlotState",
    "SlotTransition",
    "StoreSummary",
    "from_iso",
    "to_iso",
    "utc",
    "utcnow",
]
