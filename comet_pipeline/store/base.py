"""The store's public face: what every caller annotates, whatever engine is behind it.

The SQLite engine (:class:`comet_pipeline.store.sqlite.SQLiteStore`, on sqlite-utils) is the
embedded default; a second engine implements the same protocol and runs the same
behavioural tests (``comet_pipeline_tests/store``, parametrized over engines). Typed domain
records cross this boundary both ways; no SQL, rows or connections do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from comet_pipeline.domain import (
    ArchiveFile,
    CandidateRecord,
    CandidateReview,
    CandidateStatus,
    DetectionRecord,
    Detector,
    DiskUsage,
    FileRecord,
    FileState,
    FileTransition,
    Frame,
    Slot,
    SlotState,
    SlotTransition,
    StoredProduct,
    StoredRaw,
    StoreSummary,
)


class LifecycleStore(Protocol):
    """Slots, files and their guarded lifecycle, frames, candidates: one store."""

    def close(self) -> None:
        """Close this process's connection to the file (others reopen on next use)."""

    def upsert_slots(self, slots: Iterable[Slot], now: datetime) -> int:
        """Insert new slots (in their given state); refresh eot/antenna/source of known ones
        without touching their state. Returns the number of new slots.
        """

    def slots_between(self, start: datetime, end: datetime) -> list[Slot]:
        """Slots whose begin-of-track lies in [start, end), in time order."""

    def get_slot(self, bot: datetime) -> Slot | None: ...

    def set_slot_state(
        self, bot: datetime, target: SlotState, *, reason: str, now: datetime
    ) -> bool:
        """Move a slot along SLOT_TRANSITIONS. False when it is already in ``target``."""

    def slot_for_arrival(self, arrived_at: datetime, grace: timedelta) -> Slot | None:
        """The slot whose window [bot, eot + grace] holds ``arrived_at`` (latest bot wins)."""

    def slot_transitions_for(self, bot: datetime) -> list[SlotTransition]: ...

    def register_files(
        self,
        files: Iterable[ArchiveFile],
        *,
        now: datetime,
        run_id: str | None = None,
        skipped: Mapping[str, str] | None = None,
        slot_grace: timedelta = timedelta(minutes=30),
    ) -> list[str]:
        """Insert files not yet known (DISCOVERED, or SKIPPED with ``skipped[name]`` as the reason)
        with an initial audit row; return the names inserted. A known file keeps its state; it
        only gains an arrival time and slot link it lacked.
        """

    def transition(
        self,
        name: str,
        target: FileState,
        *,
        now: datetime,
        run_id: str | None = None,
        reason: str | None = None,
        expected: FileState | None = None,
        owner: str | None = None,
        **fields: Any,  # noqa: ANN401  column values (text, numbers, datetimes), checked against TRANSITION_FIELDS
    ) -> bool:
        """Compare-and-swap ``name`` into ``target``; append the audit row; True if applied."""

    def reset_file(
        self,
        name: str,
        target: FileState,
        *,
        expected: FileState,
        reason: str,
        now: datetime,
        run_id: str | None = None,
    ) -> bool:
        """Send ``name`` back (RESET_TRANSITIONS: to READY to be processed again, to DISCOVERED
        to be fetched again) if it still is in ``expected``: one compare-and-swap plus its
        audit row, ``reason`` required. Clears the retry budget and any lease; a reset to
        DISCOVERED also forgets that retention pruned the raw file (the download brings it
        back). False when the file moved on; IllegalTransition for a pair not in the table.
        """

    def claim(
        self,
        *,
        target: FileState,
        owner: str,
        now: datetime,
        detector: Detector | str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        names: Iterable[str] | None = None,
        limit: int | None = None,
        lease: timedelta | None = None,
        run_id: str | None = None,
    ) -> list[FileRecord]:
        """Atomically lease claimable files into DOWNLOADING or PROCESSING, oldest observation
        first: fresh ones (DISCOVERED / READY) and failed ones whose retry is due. Each file is
        claimed by exactly one caller, across threads and processes.
        """

    def backoff_delay(self, attempts: int) -> timedelta:
        """Delay before retry number ``attempts`` (1-based): base * 2**(n-1), capped, then scaled
        by a random factor in [1 - jitter, 1 + jitter] so retries do not stampede.
        """

    def fail(
        self,
        name: str,
        error: str,
        *,
        now: datetime,
        run_id: str | None = None,
        permanent: bool = False,
        expected: FileState | None = None,
        owner: str | None = None,
    ) -> FileState | None:
        """Record a failed download or processing attempt; return the resulting state."""

    def renew_lease(
        self, name: str, *, owner: str, now: datetime, lease: timedelta | None = None
    ) -> bool:
        """Extend the lease ``owner`` holds on ``name`` (still DOWNLOADING or PROCESSING) to
        ``now + lease`` (the store's lease if None), so a long download keeps its file; False
        when ``owner`` no longer holds it. No audit row: the state does not change.
        """

    def recover_expired_leases(self, now: datetime, run_id: str | None = None) -> list[str]:
        """Fail every leased file whose lease expired before ``now`` (its worker died or hung),
        counting the attempt exactly as ``fail`` does. Returns the names.
        """

    def get_file(self, name: str) -> FileRecord | None: ...

    def files_between(
        self,
        detector: Detector | str,
        start: datetime,
        end: datetime,
        states: Iterable[FileState] | None = None,
    ) -> list[FileRecord]:
        """Files of ``detector`` observed in [start, end), in time order (index range scan)."""

    def retry_due(self, now: datetime, detector: Detector | str | None = None) -> list[FileRecord]:
        """Failed files whose backoff has elapsed (never ABANDONED ones), oldest due first."""

    def stuck_files(self, now: datetime) -> list[FileRecord]:
        """Leased files whose lease has expired (what ``recover_expired_leases`` would fail)."""

    def counts_by_state(
        self,
        detector: Detector | str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[FileState, int]:
        """Number of files in every state (zeros included), optionally for a detector and an
        observation window [start, end).
        """

    def count_arrivals(
        self, start: datetime, end: datetime, detector: Detector | str | None = None
    ) -> int:
        """Files that arrived on the server in [start, end] (both ends inclusive, like a slot
        window [bot, eot + grace]).
        """

    def known_names(self, names: Iterable[str]) -> set[str]: ...

    def transitions_for(self, name: str) -> list[FileTransition]:
        """The audit trail of one file, oldest first."""

    def transition_count(self) -> int: ...

    def record_frame(self, frame: Frame, now: datetime) -> None:
        """Insert or replace the statistics of a processed file; its products become exactly
        ``frame.products``."""

    def complete_processing(
        self,
        frame: Frame,
        *,
        owner: str,
        now: datetime,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """PROCESSING -> PROCESSED and the frame row, in one transaction, for the lease holder."""

    def frames_between(
        self, detector: Detector | str, start: datetime, end: datetime
    ) -> list[Frame]: ...

    def frames_page(
        self,
        detector: Detector | str,
        start: datetime,
        end: datetime,
        *,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Frame]:
        """Up to ``limit`` frames of ``detector`` observed in [start, end), ordered by
        (observed_at, name), strictly past the key ``after`` (the last frame of the previous
        page). Keyset pagination: a deep page costs what the first does (an index range scan,
        no OFFSET) and frames written meanwhile never shift or repeat a page. ``newest_first``
        walks the same range backwards (the newest frame, a player opening on the latest).
        """

    def frame(self, name: str) -> Frame | None: ...

    def upsert_candidate(self, candidate: CandidateRecord, *, now: datetime | None = None) -> None:
        """Insert or update a candidate by its stable ``id``; ``updated_at`` is ``now``."""

    def delete_candidates(self, ids: Iterable[str]) -> int:
        """Drop candidates (and, by cascade, their detections), e.g. ones merged into another."""

    def replace_detections(self, candidate_id: str, rows: Iterable[DetectionRecord]) -> int:
        """Make ``rows`` the candidate's whole track."""

    def candidates(
        self,
        detector: Detector | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[CandidateRecord]:
        """Candidates whose track overlaps [since, until), by first sighting."""

    def detections_for(self, candidate_id: str) -> list[DetectionRecord]: ...

    def candidate(self, candidate_id: str) -> CandidateRecord | None: ...

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
        """Set a hunter's verdict and audit it (a ``candidate_reviews`` row) in one
        transaction; UnknownCandidate when there is no such candidate. With ``expected``,
        only if the status still is that (compare-and-set; else VerdictChanged).
        ``upsert_candidate`` never changes the status of an existing candidate."""

    def reviews_for(self, candidate_id: str) -> list[CandidateReview]:
        """The candidate's verdicts, oldest first (kept after the candidate is merged away)."""

    def create_token(self, name: str, token_hash: str, *, now: datetime) -> None:
        """Keep a viewer token's hash (never the token); a name in use is a StoreError."""

    def revoke_token(self, name: str, *, now: datetime) -> bool: ...

    def token_name(self, token_hash: str) -> str | None:
        """The live token with this hash, by name; None if unknown or revoked."""

    def token_names(self) -> list[str]: ...

    def prunable_products(
        self, products: Sequence[str], before: datetime, *, limit: int = 10_000
    ) -> list[StoredProduct]:
        """Unpruned files of ``products`` of frames observed before ``before``, oldest first,
        never a frame on the track of a candidate that is not rejected."""

    def mark_products_pruned(self, items: Iterable[tuple[str, str]], *, now: datetime) -> int:
        """(frame, product) files removed from disk: the rows stay, marked; a frame then
        lists them in ``Frame.pruned``, not ``Frame.products``."""

    def prunable_raw(self, before: datetime, *, limit: int = 10_000) -> list[StoredRaw]:
        """Raw files of PROCESSED files observed before ``before``, needed by no candidate."""

    def mark_raw_pruned(self, names: Iterable[str], *, now: datetime) -> int: ...

    def disk_usage(self) -> list[DiskUsage]:
        """Files and bytes per detector and product still on disk (pruned ones left out)."""

    def raw_on_disk(self) -> list[StoredRaw]:
        """Every raw file the store believes is on disk."""

    def summary(self) -> StoreSummary:
        """Counts for ``comet-pipeline status``."""
