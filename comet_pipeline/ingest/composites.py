"""Write an hour's colour composites: per detector a temporal one, and C2 on C3.

Files under ``products_dir/composites/<kind>/<YYYYMMDD>/``: the RGB PNG (1024 px), a 256 px
thumbnail (the asset's inline preview) and the channel cube FITS (``.fits.fz``) with the
grid's WCS and, per plane, the frame, its observed time, colour, stretch and drift shift.

The store keeps no composites: no existing table fits (``frames`` rows are one archive
file each, with a lifecycle), and this issue adds no migration. The channel times are in
the FITS header and the asset's metadata; the composites are rebuilt from the frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from astropy.io import fits

from comet_pipeline.domain import Detector, Frame
from comet_pipeline.imaging.composite import (
    AZURE,
    DEFAULT_STRETCH,
    ORANGE,
    TEMPORAL_COLOURS,
    Channel,
    ChannelRecord,
    ChannelStretch,
    composite_rgb,
    cube_header,
    drift_shifts,
    grid_of,
    place_on_grid,
    shift_image,
    write_cube_fits,
    write_rgb_png,
    write_rgb_thumbnail,
)
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.png import THUMB_SIZE
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.store import LifecycleStore

TEMPORAL = "temporal"
C2C3 = "c2c3"
#: The farthest apart a C2 frame and "its" C3 frame may be.
MAX_PAIR_GAP = timedelta(minutes=30)


@dataclass(frozen=True)
class CompositeProduct:
    """One composite written: its kind, the detector whose grid it is on, its files, and
    what each channel was."""

    kind: str
    detector: Detector
    hour: datetime
    png: Path
    thumbnail: Path
    fits: Path
    channels: tuple[ChannelRecord, ...]
    compute_ms: float  # the composite itself (channels -> RGB), files not included


@dataclass
class CompositeResult:
    products: list[CompositeProduct] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # "c2 temporal" -> why not
    elapsed_s: float = 0.0


def composite_stem(products_dir: Path, kind: str, label: str, hour: datetime) -> Path:
    """``.../composites/<kind>/<YYYYMMDD>/<YYYYMMDD_HHMM>_<label>`` (suffixes added)."""
    return products_dir / "composites" / kind / f"{hour:%Y%m%d}" / f"{hour:%Y%m%d_%H%M}_{label}"


def pick_temporal(frames: list[Frame]) -> list[Frame] | None:
    """First, middle and last frame of the hour (time order): at the 12-minute synoptic
    cadence 24 minutes apart, so a comet moving a few px/h leaves separate colours."""
    ordered = sorted(frames, key=lambda f: f.observed_at)
    if len(ordered) < 3:
        return None
    return [ordered[0], ordered[len(ordered) // 2], ordered[-1]]


def nearest(frames: list[Frame], when: datetime) -> Frame | None:
    return min(frames, key=lambda f: abs(f.observed_at - when), default=None)


def _processed(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f.path(PROCESSED) and Path(f.path(PROCESSED) or "").is_file()]


def _write(
    stem: Path,
    kind: str,
    detector: Detector,
    hour: datetime,
    channels: list[Channel],
    records: tuple[ChannelRecord, ...],
    grid_header: fits.Header,
    started: float,
) -> CompositeProduct:
    rgb = composite_rgb(channels)
    compute_ms = (time.perf_counter() - started) * 1000.0
    roll = float(grid_header.get("CROTA1", 0.0))
    png = write_rgb_png(stem.with_name(stem.name + ".png"), rgb, roll_deg=roll)
    thumb = write_rgb_thumbnail(
        stem.with_name(stem.name + ".thumb.png"), rgb, THUMB_SIZE, roll_deg=roll
    )
    cube = write_cube_fits(
        stem.with_name(stem.name + ".fits.fz"),
        [c.data for c in channels],
        cube_header(grid_header, records, kind),
    )
    return CompositeProduct(kind, detector, hour, png, thumb, cube, records, compute_ms)


def temporal_composite(
    frames: list[Frame],
    stem: Path,
    hour: datetime,
    *,
    stretch: ChannelStretch = DEFAULT_STRETCH,
) -> CompositeProduct:
    """Three frames of one detector as R, G, B, each shifted for the ephemeris star drift
    onto the middle one's time (so stars stay grey: imaging.composite says why)."""
    loaded = [read_image(Path(f.path(PROCESSED) or "")) for f in frames]
    started = time.perf_counter()
    reference = frames[len(frames) // 2]
    grid_header = loaded[len(frames) // 2][1]
    shifts = drift_shifts(
        grid_of(grid_header), [f.observed_at for f in frames], reference.observed_at
    )
    channels = [
        Channel(shift_image(data, dx, dy), colour, stretch)
        for (data, _), (dx, dy), colour in zip(loaded, shifts, TEMPORAL_COLOURS, strict=True)
    ]
    records = tuple(
        ChannelRecord(f.name, f.observed_at, colour, stretch, shift, f.detector.value)
        for f, colour, shift in zip(frames, TEMPORAL_COLOURS, shifts, strict=True)
    )
    return _write(stem, TEMPORAL, reference.detector, hour, channels, records, grid_header, started)


def c2c3_composite(
    c2: Frame,
    c3: Frame,
    stem: Path,
    hour: datetime,
    *,
    stretch: ChannelStretch = DEFAULT_STRETCH,
) -> CompositeProduct:
    """C3 (orange) and C2 placed on the C3 grid (azure): complementary, so what both see
    alike is grey; C3 alone is grey too (a missing channel takes the other's value)."""
    c3_data, c3_header = read_image(Path(c3.path(PROCESSED) or ""))
    c2_data, c2_header = read_image(Path(c2.path(PROCESSED) or ""))
    started = time.perf_counter()
    placed = place_on_grid(c2_data, grid_of(c2_header), grid_of(c3_header))
    channels = [Channel(c3_data, ORANGE, stretch), Channel(placed, AZURE, stretch)]
    records = (
        ChannelRecord(c3.name, c3.observed_at, ORANGE, stretch, (0.0, 0.0), c3.detector.value),
        ChannelRecord(c2.name, c2.observed_at, AZURE, stretch, (0.0, 0.0), c2.detector.value),
    )
    return _write(stem, C2C3, Detector.C3, hour, channels, records, c3_header, started)


def build_composites(
    store: LifecycleStore,
    products_dir: Path,
    hour: datetime,
    detectors: tuple[Detector, ...],
    *,
    stretch: ChannelStretch = DEFAULT_STRETCH,
) -> CompositeResult:
    """The hour's composites: a temporal one per detector with three processed frames in
    the hour, and C2 on C3 when both detectors have a frame within :data:`MAX_PAIR_GAP`."""
    started = time.perf_counter()
    result = CompositeResult()
    end = hour + timedelta(hours=1)
    hour_frames = {d: _processed(store.frames_between(d, hour, end)) for d in detectors}
    for det in detectors:
        picked = pick_temporal(hour_frames[det])
        if picked is None:
            result.skipped[f"{det.value} {TEMPORAL}"] = (
                f"{len(hour_frames[det])} processed frames in the hour, 3 needed"
            )
            continue
        stem = composite_stem(products_dir, TEMPORAL, f"{det.value}_{TEMPORAL}", hour)
        result.products.append(temporal_composite(picked, stem, hour, stretch=stretch))
    if Detector.C2 in detectors and Detector.C3 in detectors:
        c2_frames = sorted(hour_frames[Detector.C2], key=lambda f: f.observed_at)
        c2 = c2_frames[len(c2_frames) // 2] if c2_frames else None
        c3 = None
        if c2 is not None:
            around = store.frames_between(
                Detector.C3, c2.observed_at - MAX_PAIR_GAP, c2.observed_at + MAX_PAIR_GAP
            )
            c3 = nearest(_processed(around), c2.observed_at)
        if c2 is None or c3 is None:
            result.skipped[C2C3] = "no C2 frame in the hour with a C3 frame within 30 min"
        else:
            stem = composite_stem(products_dir, C2C3, C2C3, hour)
            result.products.append(c2c3_composite(c2, c3, stem, hour, stretch=stretch))
    result.elapsed_s = time.perf_counter() - started
    return result


def channel_rows(product: CompositeProduct) -> list[list[object]]:
    """One row per channel (for a report): colour, frame, detector, time, shift."""
    return [
        [
            ",".join(f"{c:g}" for c in ch.colour),
            ch.frame,
            ch.detector,
            f"{ch.observed_at:%Y-%m-%d %H:%M:%S}",
            f"{ch.shift[0]:+.2f}, {ch.shift[1]:+.2f}",
        ]
        for ch in product.channels
    ]


__all__ = [
    "C2C3",
    "MAX_PAIR_GAP",
    "TEMPORAL",
    "CompositeProduct",
    "CompositeResult",
    "build_composites",
    "c2c3_composite",
    "channel_rows",
    "composite_stem",
    "nearest",
    "pick_temporal",
    "temporal_composite",
]
