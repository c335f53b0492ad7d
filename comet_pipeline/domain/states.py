"""Slot and file lifecycles, with the allowed transitions written as data.

The store enforces these with compare-and-swap updates; keeping them here as plain data
means the rules are read in one place and tested exhaustively.
"""

from __future__ import annotations

from enum import StrEnum


class SlotState(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    DONE = "DONE"
    MISSED = "MISSED"


class FileState(StrEnum):
    DISCOVERED = "DISCOVERED"
    DOWNLOADING = "DOWNLOADING"
    DOWNLOADED = "DOWNLOADED"
    READY = "READY"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
    PROCESSING_FAILED = "PROCESSING_FAILED"
    SKIPPED = "SKIPPED"
    ABANDONED = "ABANDONED"


class CandidateStatus(StrEnum):
    """A hunter's verdict on a candidate; ``new`` until someone gives one. A verdict sticks:
    the hourly hunt updates the track, never the verdict."""

    NEW = "new"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    REPORTED = "reported"


#: Who a verdict carried over by a merge is "by" in the audit (no token may take this name).
HUNT_REVIEWER = "hunt"


SLOT_TRANSITIONS: dict[SlotState, frozenset[SlotState]] = {
    # A slot whose window is already over when we first see it may skip ACTIVE.
    SlotState.PENDING: frozenset({SlotState.ACTIVE, SlotState.DONE, SlotState.MISSED}),
    SlotState.ACTIVE: frozenset({SlotState.DONE, SlotState.MISSED}),
    # A late arrival inside [BOT, EOT + grace] proves the pass happened after all.
    SlotState.MISSED: frozenset({SlotState.DONE}),
    SlotState.DONE: frozenset(),
}

FILE_TRANSITIONS: dict[FileState, frozenset[FileState]] = {
    FileState.DISCOVERED: frozenset({FileState.DOWNLOADING, FileState.SKIPPED}),
    FileState.DOWNLOADING: frozenset(
        {FileState.DOWNLOADED, FileState.DOWNLOAD_FAILED, FileState.ABANDONED}
    ),
    FileState.DOWNLOAD_FAILED: frozenset({FileState.DOWNLOADING, FileState.ABANDONED}),
    FileState.DOWNLOADED: frozenset({FileState.READY}),
    FileState.READY: frozenset({FileState.PROCESSING}),
    FileState.PROCESSING: frozenset(
        {FileState.PROCESSED, FileState.PROCESSING_FAILED, FileState.ABANDONED}
    ),
    FileState.PROCESSING_FAILED: frozenset({FileState.PROCESSING, FileState.ABANDONED}),
    FileState.PROCESSED: frozenset(),
    FileState.SKIPPED: frozenset(),
    FileState.ABANDONED: frozenset(),
}

TERMINAL_FILE_STATES: frozenset[FileState] = frozenset(
    state for state, targets in FILE_TRANSITIONS.items() if not targets
)

LEASED_FILE_STATES: dict[FileState, FileState] = {
    # state that holds a lease -> state an expired lease falls back to
    FileState.DOWNLOADING: FileState.DOWNLOAD_FAILED,
    FileState.PROCESSING: FileState.PROCESSING_FAILED,
}

RETRY_STATES: dict[FileState, FileState] = {
    # failed state -> state a retry claims it into
    FileState.DOWNLOAD_FAILED: FileState.DOWNLOADING,
    FileState.PROCESSING_FAILED: FileState.PROCESSING,
}


#: Administrative resets outside the ingest flow (``LifecycleStore.reset_file``): a file's
#: products or raw bytes went bad on disk, or a range is re-processed with another recipe.
#: Kept apart from FILE_TRANSITIONS so PROCESSED stays terminal for the pipeline itself: only
#: an explicit, reasoned reset (scan, bulk re-processing) sends a file back. Never from a
#: leased state (a worker holds it) or a terminal SKIPPED / ABANDONED one.
RESET_TRANSITIONS: dict[FileState, frozenset[FileState]] = {
    # re-process from the raw file on disk
    FileState.READY: frozenset({FileState.PROCESSED, FileState.PROCESSING_FAILED}),
    # fetch the raw file again (missing or its sha256 no longer matches), then process
    FileState.DISCOVERED: frozenset(
        {
            FileState.DOWNLOADED,
            FileState.READY,
            FileState.PROCESSED,
            FileState.PROCESSING_FAILED,
        }
    ),
}


def sources_of(target: FileState) -> frozenset[FileState]:
    """Every state from which ``target`` may be reached (the CAS guard's IN list)."""
    return frozenset(s for s, targets in FILE_TRANSITIONS.items() if target in targets)
