"""Instrument and environment effects the hunter must not mistake for comets.

All of these are fixed in *array* coordinates (they roll with the spacecraft) and none of
them touches a generator of the nominal sky, so a config that leaves them off renders the
same bytes as before they existed:

* hot pixels, static 2x2 / PSF-like knots and warm column segments: dark current (DN/s,
  so it scales with the exposure), seeded by (seed, detector) only, so they sit on the
  same pixels in every frame of a detector;
* static rings at the occulter and field-stop edges (scattered light, with brighter knots
  along them) whose brightness fluctuates from frame to frame, so a background built from
  earlier frames leaves ring-shaped residuals;
* particle storms: episodes of a few hours in which the cosmic-ray rate ramps up to tens
  of times normal and decays; both detectors see the same episodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator._rng import rng_for
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.sky import (
    OPTICS,
    PSF_SIGMA,
    SIZE,
    radial_corona,
    seconds_since_j2000,
    splat,
    static_layers,
)

KNOTS_PER_HOT_PIXELS = 40  # one static knot per this many hot pixels
RING_FLICKER = 0.25  # relative frame-to-frame sigma of a ring's brightness


# --------------------------------------------------------------------------- dark current


@dataclass(frozen=True)
class Defects:
    """Where the fixed defects of one detector are (array coordinates, full resolution)."""

    hot_x: np.ndarray  # int columns of single hot pixels
    hot_y: np.ndarray
    knot_x: np.ndarray  # float centres of static knots (2x2 or PSF-like)
    knot_y: np.ndarray
    column_x: np.ndarray  # int columns of the warm segments
    column_y0: np.ndarray  # first row of each segment
    column_y1: np.ndarray  # one past the last row
    rate: np.ndarray  # the whole dark-current excess image, DN/s (read-only)


@lru_cache(maxsize=8)
def defects_for(seed: int, detector: Detector, hot_pixels: int, warm_columns: int) -> Defects:
    """The fixed defects of ``detector``: a pure function of (seed, detector) and the counts.

    Cached: the image is built once and then only added to each frame.
    """
    detector = Detector(detector)
    rng = rng_for(seed, "defects", detector.value)
    rate = np.zeros((SIZE, SIZE), np.float32)
    flat_idx = rng.choice(SIZE * SIZE, size=hot_pixels, replace=False)
    hot_y, hot_x = np.divmod(flat_idx, SIZE)
    # Mostly modest, a few very hot (log-uniform 5..500 DN/s: 100..10000 DN in 20 s).
    hot_rate = np.exp(rng.uniform(math.log(5.0), math.log(500.0), hot_pixels))
    rate[hot_y, hot_x] += hot_rate.astype(np.float32)
    n_knots = hot_pixels // KNOTS_PER_HOT_PIXELS
    knot_x = rng.uniform(40.0, SIZE - 40.0, n_knots)
    knot_y = rng.uniform(40.0, SIZE - 40.0, n_knots)
    knot_rate = rng.uniform(10.0, 150.0, n_knots)
    psf_like = rng.random(n_knots) < 0.5
    for x, y, r, psf in zip(knot_x, knot_y, knot_rate, psf_like, strict=True):
        if psf:  # looks like a star that never moves
            splat(rate, np.array([x]), np.array([y]), np.array([r], np.float32), PSF_SIGMA)
        else:  # a 2x2 block
            ix, iy = int(x), int(y)
            rate[iy : iy + 2, ix : ix + 2] += np.float32(r)
    column_x = rng.choice(SIZE, size=warm_columns, replace=False)
    length = rng.integers(150, SIZE, warm_columns)
    column_y0 = rng.integers(0, SIZE - length + 1)
    column_y1 = column_y0 + length
    excess = rng.uniform(1.5, 6.0, warm_columns)
    for x, y0, y1, e in zip(column_x, column_y0, column_y1, excess, strict=True):
        rate[y0:y1, x] += np.float32(e)
    rate.setflags(write=False)
    return Defects(
        hot_x=hot_x.astype(np.int64),
        hot_y=hot_y.astype(np.int64),
        knot_x=knot_x,
        knot_y=knot_y,
        column_x=column_x.astype(np.int64),
        column_y0=column_y0.astype(np.int64),
        column_y1=column_y1.astype(np.int64),
        rate=rate,
    )


def dark_rate(config: SimConfig, detector: Detector) -> np.ndarray | None:
    """The fixed dark-current excess (DN/s, full resolution), or None when there is none."""
    if config.hot_pixels <= 0 and config.warm_columns <= 0:
        return None
    return defects_for(
        config.seed, Detector(detector), max(0, config.hot_pixels), max(0, config.warm_columns)
    ).rate


# --------------------------------------------------------------------------- static rings


@lru_cache(maxsize=8)
def ring_shapes(seed: int, detector: Detector) -> tuple[np.ndarray, np.ndarray]:
    """Unit-amplitude ring images (occulter ring, field-stop ring), DN/s per unit amplitude.

    Each ring is as bright as the (untransmitted) corona at its radius, with brighter knots
    along it at angles fixed by (seed, detector).
    """
    detector = Detector(detector)
    optics = OPTICS[detector]
    st = static_layers(detector)
    rng = rng_for(seed, "rings", detector.value)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    theta = np.arctan2(y - np.float32(optics.sun_y), x - np.float32(optics.sun_x))
    out = []
    for radius, width in (
        (optics.occulter_px + 4.0 * optics.occulter_edge_px, 2.5),
        (optics.field_stop_px - 10.0, 3.0),
    ):
        level = float(radial_corona(optics, np.array([radius], np.float32))[0])
        profile = np.exp(-0.5 * ((st.r - np.float32(radius)) / np.float32(width)) ** 2)
        n_knots = int(rng.integers(5, 12))
        angles = rng.uniform(-np.pi, np.pi, n_knots)
        widths = rng.uniform(0.01, 0.05, n_knots)
        amps = rng.uniform(1.0, 4.0, n_knots)
        # knots as a function of angle only, on a fine grid, then looked up per pixel
        grid = np.linspace(-np.pi, np.pi, 7201)
        d = (grid[:, None] - angles[None, :] + np.pi) % (2 * np.pi) - np.pi
        along = 1.0 + (amps * np.exp(-0.5 * (d / widths) ** 2)).sum(axis=1)
        knots = np.interp(theta, grid, along).astype(np.float32)
        ring = (np.float32(level) * profile * knots).astype(np.float32)
        ring.setflags(write=False)
        out.append(ring)
    return out[0], out[1]


def ring_rate(config: SimConfig, detector: Detector, when: datetime) -> np.ndarray | None:
    """The static rings of the frame at ``when`` (DN/s), or None when they are off.

    Each ring's brightness is ``static_ring_amp * (1 + RING_FLICKER * N(0, 1))`` with a
    generator of its own keyed by the frame time, so the nominal frame draws are untouched.
    """
    if config.static_ring_amp <= 0.0:
        return None
    detector = Detector(detector)
    ms = int(round(seconds_since_j2000(when) * 1000.0))
    rng = rng_for(config.seed, "ring-flicker", detector.value, ms)
    f_occ, f_stop = np.maximum(0.0, 1.0 + RING_FLICKER * rng.standard_normal(2))
    occ, stop = ring_shapes(config.seed, detector)
    amp = config.static_ring_amp
    return (np.float32(amp * f_occ) * occ + np.float32(amp * f_stop) * stop).astype(np.float32)


# --------------------------------------------------------------------------- particle storms


@dataclass(frozen=True)
class Storm:
    """One particle-storm episode (seconds since J2000)."""

    start: float
    rise_s: float  # linear ramp to the peak
    decay_s: float  # e-folding time after the peak
    end: float  # the rate is back to normal from here on
    peak_factor: float  # cosmic-ray rate multiplier at the peak


@lru_cache(maxsize=64)
def storms_for_day(
    seed: int, day_number: int, rate: float, peak_factor: float
) -> tuple[Storm, ...]:
    """Storm episodes starting on day ``day_number`` (days since J2000 noon, like CMEs)."""
    rng = rng_for(seed, "storm", day_number)
    n = int(rate) + int(rng.random() < rate - int(rate))
    day_start = day_number * 86400.0 - 43200.0
    out = []
    for _ in range(n):
        start = day_start + float(rng.uniform(0.0, 86400.0))
        rise = float(rng.uniform(0.3, 1.0)) * 3600.0
        decay = float(rng.uniform(0.4, 0.8)) * 3600.0
        peak = peak_factor * float(rng.uniform(0.6, 2.0))
        # it ends when the excess has decayed to half the normal rate: 2-5 h in all
        total = rise + decay * math.log(2.0 * max(peak - 1.0, 1.0))
        out.append(
            Storm(start=start, rise_s=rise, decay_s=decay, end=start + total, peak_factor=peak)
        )
    return tuple(out)


def storm_factor(config: SimConfig, when: datetime) -> float:
    """Cosmic-ray rate multiplier at ``when``: 1 outside storms, up to ~30-100x inside."""
    if config.storms_per_day <= 0.0:
        return 1.0
    t = seconds_since_j2000(when)
    day = math.floor((t + 43200.0) / 86400.0)
    factor = 1.0
    for d in (day - 1, day):
        for s in storms_for_day(config.seed, d, config.storms_per_day, config.storm_peak_factor):
            if not s.start <= t < s.end:
                continue
            if t < s.start + s.rise_s:
                shape = (t - s.start) / s.rise_s
            else:
                shape = math.exp(-(t - s.start - s.rise_s) / s.decay_s)
            factor = max(factor, 1.0 + (s.peak_factor - 1.0) * shape)
    return factor
