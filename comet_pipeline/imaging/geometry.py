"""Per-detector pixel geometry (radius and angle maps around the Sun centre), cached.

Every frame of one detector shares the same Sun centre to within a fraction of a pixel, so
the maps are built once per (shape, rounded centre) and reused: building them costs more
than all the per-frame arithmetic that uses them. Keys are rounded to 0.25 px; the arrays
are returned read-only so a caller cannot corrupt the cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

R_SUN_ARCSEC = (
    960.0  # apparent solar radius seen from L1, arcsec (~959.6 at 1 AU, ~1% larger at L1)
)
FLATTEN_POWER = 2.5  # the corona falls roughly as r^-2.5 over both fields of view
FLATTEN_REF_PX = 100.0
RADIAL_BIN_PX = 2  # width of a radial bin of the applied profiles, full-resolution pixels
STATS_BIN_PX = 8  # width of a radial bin where robust statistics are measured
STATS_STRIDE = 4  # statistics use every 4th pixel in both directions
_CENTRE_STEP = 0.25


@dataclass(frozen=True)
class Geometry:
    """Radius (px) and angle (deg, counter-clockwise from +x) of every pixel."""

    shape: tuple[int, int]
    sun_x: float
    sun_y: float
    radius: np.ndarray  # float32, pixels from the Sun centre
    angle: np.ndarray  # float32, degrees in [0, 360), 0 = +x (west), 90 = +y (north)
    rbin: np.ndarray  # intp, radius // RADIAL_BIN_PX (index for np.bincount)
    n_bins: int
    sbin: np.ndarray  # (radius // STATS_BIN_PX)[::STATS_STRIDE, ::STATS_STRIDE], flattened
    n_sbins: int
    flat: np.ndarray  # float32 (r / 100 px)^2.5: multiplies the corona to a nearly flat field
    unflat: np.ndarray  # 1 / flat

    def radius_rsun(self, plate_scale: float) -> np.ndarray:
        return self.radius * np.float32(plate_scale / R_SUN_ARCSEC)


def _round(value: float) -> float:
    return round(value / _CENTRE_STEP) * _CENTRE_STEP


def geometry(shape: tuple[int, int], sun_x: float, sun_y: float) -> Geometry:
    """The cached geometry for a frame of ``shape`` with the Sun at (sun_x, sun_y), 0-based."""
    return _geometry(tuple(int(n) for n in shape), _round(sun_x), _round(sun_y))


@lru_cache(maxsize=8)
def _geometry(shape: tuple[int, int], sun_x: float, sun_y: float) -> Geometry:
    ny, nx = shape
    dx = np.arange(nx, dtype=np.float32) - np.float32(sun_x)
    dy = np.arange(ny, dtype=np.float32) - np.float32(sun_y)
    radius = np.hypot(dx[None, :], dy[:, None]).astype(np.float32)
    angle = np.degrees(np.arctan2(dy[:, None], dx[None, :])).astype(np.float32)
    angle %= np.float32(360.0)
    rbin = (radius // RADIAL_BIN_PX).astype(np.intp)
    n_bins = int(rbin.max()) + 1
    st = STATS_STRIDE
    sbin = np.ascontiguousarray((radius[::st, ::st] // STATS_BIN_PX).astype(np.intp)).ravel()
    n_sbins = int(sbin.max()) + 1
    flat = (np.maximum(radius, np.float32(1.0)) / np.float32(FLATTEN_REF_PX)) ** np.float32(
        FLATTEN_POWER
    )
    unflat = np.float32(1.0) / flat
    for arr in (radius, angle, rbin, sbin, flat, unflat):
        arr.flags.writeable = False
    return Geometry(shape, sun_x, sun_y, radius, angle, rbin, n_bins, sbin, n_sbins, flat, unflat)
