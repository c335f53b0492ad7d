"""The per-frame science as pure functions (arrays in, arrays out, nothing on disk).

:class:`~comet_pipeline.imaging.pipeline.FrameProcessor` calls these and writes the
products; anything that needs the same frames in memory (the hunting layer's evaluation on
the simulator, notebooks) calls them directly and gets identical arrays.

1. :func:`calibrate_and_mask`: DN -> DN/s per full-res pixel, NaN where there is no sky
   (occulter, field stop, pylon measured in the frame, missing 32x32 blocks, zero pixels).
2. :func:`sample_factor` / :func:`background.make_sample`: the reduced-resolution sample
   later frames build their background from.
3. :func:`subtract_background`: rolling median of earlier samples (or the fallback), minus
   the 16-px residual median, then NRGF -> units of the local noise sigma.

:func:`process_frame` chains 1-3 for one frame and :func:`background_history` picks the
earlier frames whose samples it gets; FrameProcessor and the in-memory callers both go
through these two, with the defaults below, so what is evaluated is what is produced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np

from comet_pipeline.domain.models import Detector, FitsInfo
from comet_pipeline.imaging import background as bg
from comet_pipeline.imaging.calibrate import calibrate
from comet_pipeline.imaging.geometry import Geometry, geometry
from comet_pipeline.imaging.masks import (
    FIELD,
    PYLON_ANGLE_STEP,
    field_mask,
    find_pylon_angle,
    missing_blocks,
)

PYLON_STRIDE = 4  # the pylon is found on every 4th pixel: plenty for a 15-40 px wide arm
# The background defaults (FrameProcessor's, and every in-memory caller's):
HISTORY = 10  # earlier frames whose samples the rolling median uses
MIN_HISTORY = 3  # fewer earlier frames than this -> the fallback
BACKGROUND_WINDOW = timedelta(hours=6)  # earlier frames older than this are not used
FALLBACK = "self"  # the frame's own block median ("radial": the azimuthal median profile)

T = TypeVar("T")


@dataclass(frozen=True)
class Calibrated:
    data: np.ndarray  # float32 DN/s per full-res pixel, NaN where masked
    mask: np.ndarray  # bool, True = no sky signal (the NaN pixels)
    missing_blocks: int
    pylon_angle: float | None  # measured (snapped to 0.5°), None = roll model used
    steps: list[str] = field(default_factory=list)  # what was done, for FITS HISTORY


@dataclass(frozen=True)
class Subtracted:
    bgsub: np.ndarray  # float32, units of the local noise sigma, NaN where masked
    kind: str  # "rolling", "self" or "radial"
    frames: int  # earlier samples the rolling background used
    steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FrameScience:
    """Everything :func:`process_frame` computes for one frame."""

    calibrated: Calibrated
    geometry: Geometry
    sample: np.ndarray  # this frame's reduced-resolution sample (for later frames)
    subtracted: Subtracted


def sample_factor(detector: Detector | str) -> int:
    return bg.SAMPLE_FACTORS.get(Detector(detector).value, bg.SAMPLE_FACTOR)


def frame_geometry(info: FitsInfo) -> Geometry:
    return geometry((info.naxis2, info.naxis1), info.sun_x, info.sun_y)


def calibrate_and_mask(raw: np.ndarray, info: FitsInfo) -> Calibrated:
    det = Detector(info.detector)
    cal = calibrate(raw, offset=info.offset, exptime=info.exptime, binning=info.binning)
    f = PYLON_STRIDE
    coarse = raw[f // 2 :: f, f // 2 :: f].astype(np.float32) - np.float32(info.offset)
    pylon = find_pylon_angle(
        coarse, f, info.sun_x, info.sun_y, info.plate_scale, ring_rsun=FIELD[det].pylon_ring_rsun
    )
    if pylon is not None:
        pylon = (round(pylon / PYLON_ANGLE_STEP) * PYLON_ANGLE_STEP) % 360.0
    fmask = field_mask(
        raw.shape, det, info.sun_x, info.sun_y, info.plate_scale, info.roll_deg,
        pylon_angle_deg=pylon,
    )  # fmt: skip
    missing, n_blocks = missing_blocks(raw)
    mask = fmask | missing | (raw == 0)  # + isolated zero pixels: no data, but not a block
    cal[mask] = np.nan
    where = f"{pylon:.1f} deg (measured)" if pylon is not None else "model (roll)"
    steps = [
        f"calibrate: (DN - OFFSET {info.offset:g}) / (EXPTIME {info.exptime:g} s"
        f" x binning {info.binning}^2) -> DN/s per full-res pixel",
        f"mask (NaN): occulter, field stop, pylon at {where},"
        f" {n_blocks} missing 32x32 blocks, zero pixels",
    ]
    return Calibrated(cal, mask, n_blocks, pylon, steps)


def subtract_background(
    cal: np.ndarray,
    geo: Geometry,
    sample: np.ndarray,
    earlier: Sequence[np.ndarray],
    *,
    min_history: int = 3,
    fallback: str = "self",
) -> Subtracted:
    """Background-subtract and NRGF ``cal`` given its own ``sample`` and earlier samples.

    ``earlier``: samples of earlier frames of the same detector (already limited to the
    window and count wanted), same shape as ``sample``. With fewer than ``min_history``
    the fallback is the frame's own sample (``"self"``) or the radial model (``"radial"``).
    """
    factor = cal.shape[0] // sample.shape[0]
    earlier = [s for s in earlier if s.shape == sample.shape]
    if len(earlier) >= min_history:
        background = bg.rolling_background(earlier, geo)
        kind, n = "rolling", len(earlier)
        step = f"background: median of {n} earlier frames at 1/{factor} res"
    elif fallback == "radial":
        background = bg.radial_background(cal, geo)
        kind, n = "radial", 0
        step = "background: radial median model (too few earlier frames)"
    else:
        background = bg.rolling_background([sample], geo)
        kind, n = "self", 0
        step = f"background: this frame's 1/{factor} block median (too few earlier)"
    residual = cal - background
    residual -= bg.local_background(residual, geo)
    bgsub = bg.nrgf(residual, geo)
    steps = [
        step,
        "minus a 16-px block median of the residual",
        "NRGF: minus radial median, divided by radial robust sigma (IQR/1.349);"
        " unit: local noise sigma",
    ]
    return Subtracted(bgsub, kind, n, steps)


def background_history(
    now: datetime,
    earlier: Sequence[T],
    observed_at: Callable[[T], datetime],
    *,
    history: int = HISTORY,
    window: timedelta = BACKGROUND_WINDOW,
) -> list[T]:
    """The earlier frames whose samples make the background of the frame observed at ``now``:
    observed before it and at most ``window`` earlier, the last ``history`` of them, oldest
    first. ``earlier`` holds anything (prior-frame records, (time, sample) pairs)."""
    chosen = sorted(
        (e for e in earlier if observed_at(e) < now and now - observed_at(e) <= window),
        key=observed_at,
    )
    return chosen[-history:] if history > 0 else []


def process_frame(
    raw: np.ndarray,
    info: FitsInfo,
    earlier_samples: Sequence[np.ndarray],
    *,
    min_history: int = MIN_HISTORY,
    fallback: str = FALLBACK,
    on_calibrated: Callable[[Calibrated], None] | None = None,
) -> FrameScience:
    """Steps 1-3 for one raw frame, given the samples :func:`background_history` chose.

    ``on_calibrated`` is called as soon as the calibrated frame exists (FrameProcessor
    starts writing it there, overlapping the background arithmetic); it must not modify it.
    """
    if fallback not in ("self", "radial"):
        raise ValueError(f"fallback must be 'self' or 'radial', not {fallback!r}")
    calibrated = calibrate_and_mask(raw, info)
    if on_calibrated is not None:
        on_calibrated(calibrated)
    geo = geometry(raw.shape, info.sun_x, info.sun_y)
    sample = bg.make_sample(calibrated.data, geo, sample_factor(info.detector))
    sub = subtract_background(
        calibrated.data, geo, sample, earlier_samples, min_history=min_history, fallback=fallback
    )
    return FrameScience(calibrated, geo, sample, sub)
