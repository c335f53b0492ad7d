"""Hunting successive overlapping windows of one detector, as the hourly asset does.

Keeps the frames of the current window and their source lists (each frame is searched once
however many windows contain it) and folds each window's candidates into the running set,
so a comet seen by many windows stays one candidate with one id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType

from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG, HuntCache, hunt, rebuild
from comet_pipeline.hunting.identity import MergeResult, merge_candidates
from comet_pipeline.hunting.model import Candidate, HuntFrame
from comet_pipeline.hunting.sources import SourceList
from comet_pipeline.hunting.stats import HuntStats


def hunt_and_merge(
    frames: Sequence[HuntFrame],
    *,
    detector: str,
    existing: Sequence[Candidate] = (),
    config: HuntConfig = DEFAULT_CONFIG,
    cache: HuntCache | None = None,
    stats: HuntStats | None = None,
) -> MergeResult:
    """Hunt one window and fold the finds into ``existing`` (stable ids).

    Returns (all candidates, the ones this window created or updated: what to write back,
    ids absorbed into another candidate: what to delete).
    This is the whole job of the hourly asset, given the window's frames and the recent
    candidates of the detector from the store.
    """
    found = hunt(frames, detector=detector, config=config, cache=cache, stats=stats)
    return merge_candidates(existing, found, lambda base, dets: rebuild(base, dets, config))


class SlidingHunter:
    """Frames in time order via :meth:`add`; :meth:`hunt_until` hunts the window ending then.

    ``merge_horizon_hours``: candidates last seen longer ago than this before a window's start
    are final and no longer compared with new finds.
    """

    def __init__(
        self,
        detector: str,
        *,
        config: HuntConfig = DEFAULT_CONFIG,
        window_hours: float = 6.0,
        merge_horizon_hours: float = 4.0,
        existing: list[Candidate] | None = None,
    ) -> None:
        self.detector = detector.lower()
        self.config = config
        self.window = timedelta(hours=window_hours)
        self.horizon = timedelta(hours=merge_horizon_hours)
        self._frames: deque[HuntFrame] = deque()
        self._cache = HuntCache()
        self.candidates: list[Candidate] = list(existing or [])
        #: ids folded into another candidate so far (a store should delete them)
        self.absorbed: set[str] = set()
        #: what the hunts did (drift sources, masked sources, storm frames, known objects)
        self.stats = HuntStats()

    def add(self, frame: HuntFrame) -> None:
        self._frames.append(frame)
        cutoff = frame.observed_at - self.window - timedelta(minutes=30)
        while self._frames and self._frames[0].observed_at < cutoff:
            old = self._frames.popleft()
            self._cache.forget(old.name)

    @property
    def sources(self) -> Mapping[str, SourceList]:
        """The source list of each frame searched so far and still in the window, by name:
        what the hunts linked from (read-only; a frame leaves it when it leaves the window)."""
        return MappingProxyType(self._cache.sources)

    def window_frames(self, until: datetime) -> list[HuntFrame]:
        """The frames the window ending at ``until`` holds (e.g. for cutout strips)."""
        start = until - self.window
        return [f for f in self._frames if start <= f.observed_at < until]

    def hunt_until(self, until: datetime) -> list[Candidate]:
        """Hunt frames in [until - window, until); returns the candidates created or updated."""
        start = until - self.window
        frames = self.window_frames(until)
        limit = start - self.horizon
        recent = [c for c in self.candidates if c.last_seen >= limit]
        final = [c for c in self.candidates if c.last_seen < limit]
        merged, touched, absorbed = hunt_and_merge(
            frames,
            detector=self.detector,
            existing=recent,
            config=self.config,
            cache=self._cache,
            stats=self.stats,
        )
        self.candidates = final + merged
        self.absorbed.update(absorbed)
        return touched
