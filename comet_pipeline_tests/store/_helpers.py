"""Builders shared by the store and domain tests (and the spawned race workers)."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

from comet_pipeline.domain import ArchiveFile, Detector, FileState
from comet_pipeline.domain.states import FILE_TRANSITIONS
from comet_pipeline.store import LifecycleStore

T0 = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


def archive_file(
    name: str,
    observed_at: datetime = T0,
    *,
    detector: Detector = Detector.C2,
    arrived_at: datetime | None = None,
) -> ArchiveFile:
    return ArchiveFile(
        name=name,
        detector=detector,
        observed_at=observed_at,
        exptime=25.1,
        naxis1=1024,
        naxis2=1024,
        filter="Orange",
        polarizer="Clear",
        program="Normal",
        arrived_at=arrived_at,
    )


def many_files(n: int, *, start: datetime = T0, step: timedelta = timedelta(minutes=12)):
    return [archive_file(f"2{i:07d}.fts", start + i * step) for i in range(n)]


def path_to(target: FileState) -> list[FileState]:
    """Shortest legal path DISCOVERED -> ... -> target (excluding DISCOVERED)."""
    queue: deque[list[FileState]] = deque([[FileState.DISCOVERED]])
    seen = {FileState.DISCOVERED}
    while queue:
        path = queue.popleft()
        if path[-1] == target:
            return path[1:]
        for nxt in sorted(FILE_TRANSITIONS[path[-1]]):
            if nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    raise AssertionError(f"{target} unreachable from DISCOVERED")


def put_in_state(store: LifecycleStore, name: str, state: FileState, now: datetime = T0) -> None:
    """Register ``name`` and walk it, legally, into ``state``."""
    assert store.register_files([archive_file(name)], now=now) == [name]
    for step in path_to(state):
        assert store.transition(name, step, now=now, reason="setup") is True
    record = store.get_file(name)
    assert record is not None and record.state == state
