"""The simulated archive: what the real servers would publish at a given "now".

:class:`SimArchive` ties the operations model, the format writers and the renderer to an
injectable clock. The listing and index only show files that have arrived (arrival <= now);
a day directory that has received nothing yet does not exist (:meth:`has_directory`).

Two trees serve the days (:meth:`serves`): the near-real-time tree only the last
``SimConfig.nrt_days`` days, the long-term tree the days at least
``SimConfig.longterm_lag_days`` old (so both hold the days in between). LASCO_FORMATS.md
says only that the near-real-time tree is a rolling window of recent days and the long-term
one has the same layout; the overlap keeps a pipeline whose clock or window is a little off
from finding neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple

from comet_pipeline.archive.layout import NRT_ROOT, ArchiveTree
from comet_pipeline.domain.models import Detector
from comet_pipeline.domain.timeutil import utc, utcnow
from comet_pipeline.simulator import formats
from comet_pipeline.simulator.comets import LOOKBACK_DAYS, Comet, comets_born
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.operations import (
    SimObservation,
    SimPass,
    observations_for_day,
    passes_between,
    passes_for_day,
)
from comet_pipeline.simulator.render import comet_frame_truth, fits_bytes, fits_size

#: Server paths of the near-real-time and long-term level-0.5 trees (the real ones).
LEVEL05_ROOT = NRT_ROOT
SCHEDULE_GENERATED_AT = time(6, 30)  # the real page is regenerated daily ~06:30 UT


class CometFrame(NamedTuple):
    """Where a comet is in one file (0-based full-resolution px) and how bright."""

    name: str
    observed_at: datetime
    x: float
    y: float
    peak_snr: float


@dataclass(frozen=True)
class CometTruth:
    id: str
    group: str  # "Kreutz" or "Marsden"
    detector: Detector
    frames: list[CometFrame] = field(default_factory=list)


class SimArchive:
    """A deterministic LASCO archive: same config (seed), same bytes."""

    def __init__(
        self, config: SimConfig | None = None, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.config = config or SimConfig()
        self._clock = clock or utcnow
        self._observations = lru_cache(maxsize=64)(self._compute_observations)
        self._fits = lru_cache(maxsize=12)(self._render)

    # --------------------------------------------------------------------- time and model
    def now(self) -> datetime:
        return utc(self._clock())

    def _compute_observations(self, day: date, detector: Detector) -> tuple[SimObservation, ...]:
        return tuple(observations_for_day(self.config, day, detector))

    def observations(self, day: date, detector: Detector) -> list[SimObservation]:
        """Every file of the day's directory (arrived or not), in observation-time order."""
        return list(self._observations(day, Detector(detector)))

    def arrived(self, day: date, detector: Detector) -> list[SimObservation]:
        """Files of the directory that have arrived by :meth:`now`, in arrival order."""
        now = self.now()
        done = [o for o in self._observations(day, Detector(detector)) if o.arrived_at <= now]
        return sorted(done, key=lambda o: (o.arrived_at, o.name))

    def observation(self, day: date, detector: Detector, name: str) -> SimObservation | None:
        name = name.lower()
        for obs in self._observations(day, Detector(detector)):
            if obs.name == name:
                return obs
        return None

    def passes(self, day: date) -> list[SimPass]:
        """DSN passes whose begin of track is on ``day`` (UTC)."""
        return passes_for_day(self.config, day)

    def serves(self, tree: ArchiveTree, day: date) -> bool:
        """Whether ``tree`` holds ``day``'s folders at :meth:`now` (see the module doc)."""
        age = (self.now().date() - day).days
        if ArchiveTree(tree) is ArchiveTree.LONG_TERM:
            return age >= self.config.longterm_lag_days
        return age < self.config.nrt_days

    def has_directory(self, day: date, detector: Detector, tree: ArchiveTree | None = None) -> bool:
        """Whether ``YYMMDD/{c2,c3}/`` exists yet (at least one file arrived), in ``tree``
        if given (None: in any tree)."""
        if tree is not None and not self.serves(tree, day):
            return False
        return bool(self.arrived(day, detector))

    # --------------------------------------------------------------------- published text
    def img_hdr_text(self, day: date, detector: Detector) -> str:
        """``img_hdr.txt``: one line per arrived file, appended in arrival order."""
        return formats.img_hdr_text(self.arrived(day, detector))

    def listing_html(
        self,
        day: date,
        detector: Detector,
        *,
        directory: str | None = None,
        extra_names: Iterable[str] = (),
    ) -> str:
        """The Apache "Index of" page of the day directory (arrived files only).

        ``directory`` is the URL path shown in the title (default: the real level-0.5 path);
        ``extra_names`` adds rows for names that are not files (fault injection).
        """
        detector = Detector(detector)
        if directory is None:
            directory = f"{LEVEL05_ROOT}/{day.strftime('%y%m%d')}/{detector.value}/"
        arrived = self.arrived(day, detector)
        entries = [formats.ListingEntry(o.name, o.arrived_at, fits_size(o)) for o in arrived]
        if arrived:
            last = max(o.arrived_at for o in arrived)
            size = len(self.img_hdr_text(day, detector).encode())
            entries.append(formats.ListingEntry("img_hdr.txt", last, size, "text", "[TXT]"))
            for name in extra_names:
                entries.append(
                    formats.ListingEntry(name, arrived[0].arrived_at, fits_size(arrived[0]))
                )
        return formats.listing_html(directory, entries)

    def schedule_first_day(self) -> date:
        """First day of the schedule page in force now (it is regenerated ~06:30 UT)."""
        now = self.now()
        return now.date() if now.time() >= SCHEDULE_GENERATED_AT else now.date() - timedelta(days=1)

    def schedule_html(self) -> str:
        """The 14-day DSN schedule page as published at :meth:`now`."""
        first = self.schedule_first_day()
        passes = passes_between(self.config, first, first + timedelta(days=13))
        generated = datetime.combine(first, SCHEDULE_GENERATED_AT, tzinfo=UTC)
        return formats.schedule_html(passes, generated, first)

    # --------------------------------------------------------------------- files
    def _render(self, obs: SimObservation) -> bytes:
        return fits_bytes(self.config, obs)

    def fits_bytes(self, day: date, detector: Detector, name: str) -> bytes | None:
        """The FITS file, or None if the name is unknown or the file has not arrived yet."""
        obs = self.observation(day, detector, name)
        if obs is None or obs.arrived_at > self.now():
            return None
        return self._fits(obs)

    def render(self, obs: SimObservation) -> bytes:
        """FITS bytes of any observation regardless of arrival (tests, benchmarks)."""
        return self._fits(obs)

    # --------------------------------------------------------------------- ground truth
    def truth(
        self, start: datetime, end: datetime, detector: Detector | None = None
    ) -> list[CometTruth]:
        """Comets seen in synoptic, non-duplicate frames observed in ``[start, end)``.

        Frame positions are 0-based full-resolution pixels at mid-exposure; a frame is
        listed only while the comet is inside the image and not behind the occulter/pylon.
        Empty when comets are not rendered (``SimConfig(comets=False)``).
        """
        if not self.config.comets:
            return []
        start, end = utc(start), utc(end)
        detectors = [Detector(detector)] if detector is not None else list(Detector)
        out: list[CometTruth] = []
        for det in detectors:
            day = start.date() - timedelta(days=LOOKBACK_DAYS[det])
            while day <= end.date():
                for comet in comets_born(self.config, day, det):
                    if comet.end < start or comet.start >= end:
                        continue
                    frames = self._comet_frames(comet, start, end)
                    if frames:
                        out.append(CometTruth(comet.id, comet.group, det, frames))
                day += timedelta(days=1)
        out.sort(key=lambda c: (c.frames[0].observed_at, c.id))
        return out

    def _comet_frames(self, comet: Comet, start: datetime, end: datetime) -> list[CometFrame]:
        frames: list[CometFrame] = []
        day = max(start, comet.start).date()
        while day <= min(end, comet.end).date():
            for obs in self._observations(day, comet.detector):
                if not (start <= obs.observed_at < end) or not obs.synoptic or obs.duplicate_of:
                    continue
                hit = comet_frame_truth(self.config, comet, obs)
                if hit is not None:
                    frames.append(CometFrame(obs.name, obs.observed_at, *hit))
            day += timedelta(days=1)
        return frames
