"""C2 + C3 mosaics, hourly and daily, under ``<products>/mosaics`` (FITS with its WCS + PNG).

Why: the hunter works per detector; a person following a sungrazer from C3 into C2 wants
one picture with both fields on one sky grid. The hourly mosaic takes the C3 frame nearest
the middle of the hour and the C2 frame nearest it in time (both from the hour), reprojects
C2 into C3's helioprojective grid and feathers the seam (:mod:`..imaging.mosaic`); the daily
one is the median of the day's hourly mosaics, on the grid of the one nearest noon.

Inputs are the background-subtracted FITS products (both in units of their local sigma, so
the two detectors are directly comparable). Re-running an hour or a day writes the same
files again (the inputs decide the bytes).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.wcs import WCS

from comet_pipeline.domain import Detector, Frame
from comet_pipeline.imaging.fitsio import PROCESSED_STEP, read_image, write_stepped_fits
from comet_pipeline.imaging.mosaic import (
    FEATHER_PX,
    build_mosaic,
    celestial_wcs,
    combine,
    mosaic_cards,
)
from comet_pipeline.imaging.orientation import to_display
from comet_pipeline.imaging.png import write_png
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.imaging.stretch import display_bgsub
from comet_pipeline.ingest.windows import hours_between
from comet_pipeline.store import LifecycleStore

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
BUNIT = "sigma"


@dataclass(frozen=True)
class MosaicFiles:
    fits: Path
    png: Path


@dataclass(frozen=True)
class HourlyMosaic:
    """One hour's mosaic, or why there is none (``files`` None, ``reason`` set)."""

    hour: datetime
    files: MosaicFiles | None
    c2_frame: str | None = None
    c3_frame: str | None = None
    c2_pixels: int = 0
    c3_pixels: int = 0
    blended_pixels: int = 0
    elapsed_s: float = 0.0
    reason: str | None = None


@dataclass(frozen=True)
class DailyMosaic:
    """One day's mosaic: the median of ``hours``' hourly mosaics (None when there were none)."""

    day: date
    files: MosaicFiles | None
    hours: tuple[datetime, ...] = ()
    built_hours: int = 0  # hourly mosaics it had to make first
    elapsed_s: float = 0.0
    reason: str | None = None


def mosaics_dir(products_dir: Path) -> Path:
    return products_dir / "mosaics"


def hourly_paths(products_dir: Path, hour: datetime) -> MosaicFiles:
    base = mosaics_dir(products_dir) / "hourly" / f"{hour:%Y%m%d}" / f"{hour:%Y%m%d_%H%M}_mosaic"
    return MosaicFiles(base.with_name(base.name + ".fits.fz"), base.with_name(base.name + ".png"))


def daily_paths(products_dir: Path, day: date) -> MosaicFiles:
    base = mosaics_dir(products_dir) / "daily" / f"{day:%Y%m%d}_mosaic"
    return MosaicFiles(base.with_name(base.name + ".fits.fz"), base.with_name(base.name + ".png"))


def _with_product(frames: Sequence[Frame]) -> list[Frame]:
    return [f for f in frames if f.path(PROCESSED) and Path(str(f.path(PROCESSED))).is_file()]


def _nearest(frames: Sequence[Frame], moment: datetime) -> Frame | None:
    return min(frames, key=lambda f: abs(f.observed_at - moment), default=None)


def pick_pair(
    c2_frames: Sequence[Frame], c3_frames: Sequence[Frame], hour: datetime
) -> tuple[Frame | None, Frame | None]:
    """The C3 frame nearest the middle of the hour, and the C2 frame nearest it in time."""
    c3 = _nearest(c3_frames, hour + HOUR / 2)
    c2 = _nearest(c2_frames, c3.observed_at if c3 is not None else hour + HOUR / 2)
    return c2, c3


def _write(
    data: np.ndarray, wcs: WCS, observed_at: datetime, files: MosaicFiles, history: list[str]
) -> MosaicFiles:
    cards = mosaic_cards(wcs, observed_at, bunit=BUNIT, history=history)
    write_stepped_fits(files.fits, data, cards, PROCESSED_STEP)
    roll = float(np.degrees(np.arctan2(wcs.wcs.get_pc()[1, 0], wcs.wcs.get_pc()[0, 0])))
    write_png(to_display(display_bgsub(data), roll), files.png)
    return files


def build_hourly_mosaic(
    store: LifecycleStore, products_dir: Path, hour: datetime, *, feather_px: float = FEATHER_PX
) -> HourlyMosaic:
    """The mosaic of ``hour`` (see the module's docstring), written under ``products_dir``."""
    started = time.perf_counter()
    end = hour + HOUR
    c2_frames = _with_product(store.frames_between(Detector.C2, hour, end))
    c3_frames = _with_product(store.frames_between(Detector.C3, hour, end))
    c2, c3 = pick_pair(c2_frames, c3_frames, hour)
    if c2 is None or c3 is None:
        missing = " and ".join(d for d, f in (("C2", c2), ("C3", c3)) if f is None)
        return HourlyMosaic(hour, None, reason=f"no processed {missing} frame in the hour")
    c2_data, c2_header = read_image(Path(str(c2.path(PROCESSED))))
    c3_data, c3_header = read_image(Path(str(c3.path(PROCESSED))))
    mosaic = build_mosaic(
        c2_data,
        celestial_wcs(c2_header),
        c3_data,
        celestial_wcs(c3_header),
        feather_px=feather_px,
    )
    history = [
        f"comet_pipeline mosaic: C3 {c3.name} {c3.observed_at:%Y-%m-%dT%H:%M:%S} (grid)",
        f"comet_pipeline mosaic: C2 {c2.name} {c2.observed_at:%Y-%m-%dT%H:%M:%S} reprojected",
        f"comet_pipeline mosaic: feathered over {feather_px:g} px",
    ]
    files = _write(
        mosaic.data, mosaic.wcs, c3.observed_at, hourly_paths(products_dir, hour), history
    )
    return HourlyMosaic(
        hour,
        files,
        c2_frame=c2.name,
        c3_frame=c3.name,
        c2_pixels=mosaic.c2_pixels,
        c3_pixels=mosaic.c3_pixels,
        blended_pixels=mosaic.blended_pixels,
        elapsed_s=time.perf_counter() - started,
    )


def build_hourly_mosaics(
    store: LifecycleStore, products_dir: Path, start: datetime, end: datetime
) -> list[HourlyMosaic]:
    """One mosaic per hour of ``[start, end)`` (a backfill run covers many)."""
    return [build_hourly_mosaic(store, products_dir, h) for h in hours_between(start, end)]


def build_daily_mosaic(store: LifecycleStore, products_dir: Path, day: date) -> DailyMosaic:
    """The median of the day's hourly mosaics; an hour whose mosaic is not on disk yet is
    built first (so a day can be made on its own)."""
    started = time.perf_counter()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    hourly: list[tuple[datetime, Path]] = []
    built = 0
    for hour in hours_between(start, start + DAY):
        files = hourly_paths(products_dir, hour)
        if not files.fits.is_file():
            made = build_hourly_mosaic(store, products_dir, hour)
            if made.files is None:
                continue
            built += 1
        hourly.append((hour, files.fits))
    if not hourly:
        return DailyMosaic(day, None, reason="no hour of the day has C2 and C3 frames")
    frames = []
    for _, path in hourly:
        data, header = read_image(path)
        frames.append((data, celestial_wcs(header)))
    noon = start + DAY / 2
    ref = min(range(len(hourly)), key=lambda i: abs(hourly[i][0] + HOUR / 2 - noon))
    reference, shape = frames[ref][1], frames[ref][0].shape
    data = combine(frames, reference, shape)
    history = [
        f"comet_pipeline mosaic: median of {len(hourly)} hourly mosaics of {day:%Y-%m-%d}",
        f"comet_pipeline mosaic: grid of the hour {hourly[ref][0]:%H:%M}",
    ]
    files = _write(data, reference, noon, daily_paths(products_dir, day), history)
    return DailyMosaic(
        day,
        files,
        hours=tuple(h for h, _ in hourly),
        built_hours=built,
        elapsed_s=time.perf_counter() - started,
    )


def build_daily_mosaics(
    store: LifecycleStore, products_dir: Path, start: datetime, end: datetime
) -> list[DailyMosaic]:
    """One daily mosaic per UTC day of ``[start, end)``."""
    days = []
    day = start.date()
    while datetime(day.year, day.month, day.day, tzinfo=UTC) < end:
        days.append(day)
        day += timedelta(days=1)
    return [build_daily_mosaic(store, products_dir, d) for d in days]
