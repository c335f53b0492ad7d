"""What to watch on a day: planets in the fields, the sungrazer corridors, and the data gaps.

A hunter looking at a day of LASCO frames wants to know beforehand which bright points are
planets (and when they cross which field), where a Kreutz, Meyer, Marsden or Kracht comet
would come from and how fast it would move, whether the Kreutz corridor is well placed
(long in the field: many frames per comet), and which hours will show nothing because no
downlink pass covered them or no file of the hour is in the store (a "keyhole": a comet
crossing C2 in a few hours can fall into one). The geometry is
:mod:`comet_pipeline.imaging.families`; this service adds the store's slots and frames,
draws the overlay on the day's midday preview of each detector and writes a JSON summary.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from comet_pipeline.domain import Detector, Frame, SlotState
from comet_pipeline.imaging.atomic import atomic_write
from comet_pipeline.imaging.ephemeris import FrameGeometry
from comet_pipeline.imaging.families import (
    FAMILIES,
    Envelope,
    draw_overlay,
    envelope,
    family_polylines,
    planet_hours,
    planets_in_field,
)
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.products import PREVIEW, PROCESSED
from comet_pipeline.store import LifecycleStore

#: The Kreutz corridor is "well placed" when its mean orbit stays at least this long in
#: the field (hours): over 2025 the crossing lasts 3-8 h in C2 and 33-110 h in C3, the
#: longest from May to July and in November-December, when the path runs along the line
#: of sight's side of the Sun and the comet moves slowly across the field.
KREUTZ_WELL_PLACED_HOURS = {Detector.C2: 5.0, Detector.C3: 50.0}


@dataclass(frozen=True)
class PlanetWatch:
    """A planet inside a detector's field on the day: from, to, how many whole hours."""

    detector: Detector
    planet: str
    first: datetime
    last: datetime
    hours: int


@dataclass(frozen=True)
class Gap:
    """Hours [start, end) with no downlink pass (``detector`` None) or no file of a detector."""

    start: datetime
    end: datetime
    detector: Detector | None = None

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


@dataclass
class FeaturedResult:
    day: date
    envelopes: list[Envelope] = field(default_factory=list)
    planets: list[PlanetWatch] = field(default_factory=list)
    kreutz_well_placed: dict[Detector, bool] = field(default_factory=dict)
    pass_gaps: list[Gap] = field(default_factory=list)
    data_gaps: list[Gap] = field(default_factory=list)
    overlays: dict[Detector, Path] = field(default_factory=dict)
    overlay_frames: dict[Detector, str] = field(default_factory=dict)
    summary: Path | None = None
    elapsed_s: float = 0.0


def featured_dir(products_dir: Path) -> Path:
    return products_dir / "featured"


def overlay_path(products_dir: Path, detector: Detector, day: date) -> Path:
    return featured_dir(products_dir) / detector.value / f"{day:%Y%m%d}_{detector.value}.png"


def _hours_to_gaps(hours: list[datetime], detector: Detector | None) -> list[Gap]:
    """Consecutive whole hours merged into [start, end) intervals."""
    gaps: list[Gap] = []
    for h in sorted(hours):
        if gaps and gaps[-1].end == h:
            gaps[-1] = Gap(gaps[-1].start, h + timedelta(hours=1), detector)
        else:
            gaps.append(Gap(h, h + timedelta(hours=1), detector))
    return gaps


def pass_gaps(store: LifecycleStore, start: datetime, end: datetime) -> list[Gap]:
    """Whole hours in [start, end) that no downlink pass overlaps (missed passes count as none)."""
    slots = [
        s
        for s in store.slots_between(start - timedelta(days=1), end)
        if s.state is not SlotState.MISSED and s.eot > start and s.bot < end
    ]
    hours = []
    h = start
    while h < end:
        nxt = h + timedelta(hours=1)
        if not any(s.bot < nxt and s.eot > h for s in slots):
            hours.append(h)
        h = nxt
    return _hours_to_gaps(hours, None)


def data_gaps(
    store: LifecycleStore, detector: Detector, start: datetime, end: datetime
) -> list[Gap]:
    """Whole hours in [start, end) with no file of ``detector`` in the store."""
    seen = {
        r.observed_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        for r in store.files_between(detector, start, end)
    }
    hours = []
    h = start
    while h < end:
        if h not in seen:
            hours.append(h)
        h += timedelta(hours=1)
    return _hours_to_gaps(hours, detector)


def frame_geometry(frame: Frame) -> tuple[FrameGeometry, tuple[int, int]] | None:
    """The sky geometry and (rows, columns) of a processed frame, from its product's WCS."""
    path = frame.path(PROCESSED)
    if path is None:
        return None
    image, header = read_image(Path(path))
    scale = abs(float(header.get("CDELT1", 0.0) or 0.0))
    unit = str(header.get("CUNIT1", "deg")).strip().lower()
    scale *= {"deg": 3600.0, "arcmin": 60.0, "arcsec": 1.0}.get(unit, 0.0)
    if not scale > 0:
        return None
    geometry = FrameGeometry(
        frame.observed_at,
        float(header["CRPIX1"]) - 1.0,
        float(header["CRPIX2"]) - 1.0,
        scale,
        float(header.get("CROTA1", 0.0) or 0.0),
    )
    return geometry, (int(image.shape[0]), int(image.shape[1]))


def _midday_frame(store: LifecycleStore, detector: Detector, start: datetime) -> Frame | None:
    frames = [
        f
        for f in store.frames_between(detector, start, start + timedelta(days=1))
        if f.path(PREVIEW) and f.path(PROCESSED)
    ]
    noon = start + timedelta(hours=12)
    return min(frames, key=lambda f: abs(f.observed_at - noon), default=None)


def _overlay(
    store: LifecycleStore, products_dir: Path, detector: Detector, day: date, start: datetime
) -> tuple[Path, str] | None:
    frame = _midday_frame(store, detector, start)
    if frame is None:
        return None
    got = frame_geometry(frame)
    preview = frame.path(PREVIEW)
    if got is None or preview is None:
        return None
    geometry, shape = got
    lines = family_polylines(geometry, detector, shape=shape)
    planets = planets_in_field(geometry, detector, shape)
    out = draw_overlay(
        Path(preview),
        overlay_path(products_dir, detector, day),
        lines,
        planets,
        naxis1=shape[1],
        naxis2=shape[0],
        roll_deg=geometry.roll_deg,
    )
    return out, frame.name


def _summary(result: FeaturedResult) -> dict[str, object]:
    def iso(t: datetime) -> str:
        return t.isoformat()

    return {
        "day": result.day.isoformat(),
        "kreutz_well_placed": {d.value: ok for d, ok in result.kreutz_well_placed.items()},
        "envelopes": [
            {
                "family": e.family,
                "detector": e.detector.value,
                "entry_angle_deg": e.entry_angle_deg,
                "heading_deg": e.heading_deg,
                "speed_px_h": e.speed_px_h,
                "hours_in_field": e.hours_in_field,
                "front_of_sun": e.front_of_sun,
            }
            for e in result.envelopes
        ],
        "planets": [
            {
                "detector": p.detector.value,
                "planet": p.planet,
                "first": iso(p.first),
                "last": iso(p.last),
                "hours": p.hours,
            }
            for p in result.planets
        ],
        "pass_gaps": [[iso(g.start), iso(g.end)] for g in result.pass_gaps],
        "data_gaps": [
            [g.detector.value if g.detector else None, iso(g.start), iso(g.end)]
            for g in result.data_gaps
        ],
        "overlays": {d.value: str(p) for d, p in result.overlays.items()},
    }


def build_featured(
    store: LifecycleStore, products_dir: Path, day: date, detectors: tuple[Detector, ...]
) -> FeaturedResult:
    """The day's watch list (corridors, planets, gaps), its overlays and its JSON summary."""
    started = time.perf_counter()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    noon = start + timedelta(hours=12)
    result = FeaturedResult(day)
    for detector in detectors:
        for name in FAMILIES:
            result.envelopes.append(envelope(name, detector, noon))
        kreutz = next(
            e for e in result.envelopes if e.family == "Kreutz" and e.detector is detector
        )
        result.kreutz_well_placed[detector] = (
            kreutz.hours_in_field[0] >= KREUTZ_WELL_PLACED_HOURS[detector]
        )
        for planet, hours in planet_hours(detector, start).items():
            result.planets.append(PlanetWatch(detector, planet, hours[0], hours[-1], len(hours)))
        result.data_gaps += data_gaps(store, detector, start, start + timedelta(days=1))
        got = _overlay(store, products_dir, detector, day, start)
        if got is not None:
            result.overlays[detector], result.overlay_frames[detector] = got
    result.pass_gaps = pass_gaps(store, start, start + timedelta(days=1))
    summary = featured_dir(products_dir) / f"{day:%Y%m%d}.json"
    result.summary = atomic_write(summary, [json.dumps(_summary(result), indent=1).encode()])
    result.elapsed_s = time.perf_counter() - started
    return result
