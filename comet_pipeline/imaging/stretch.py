"""Float frames to 8-bit display values: robust asinh stretch, masked pixels neutral grey.

The stretch goes through a 4096-entry lookup table: one multiply-add, a clip and a gather
per pixel, instead of an ``arcsinh`` over a million floats.
"""

from __future__ import annotations

import numpy as np

MASKED_GREY = 128
_LUT_SIZE = 4096


def robust_limits(
    data: np.ndarray, lo_pct: float = 0.5, hi_pct: float = 99.5, *, stride: int = 4
) -> tuple[float, float]:
    """Percentiles of the finite pixels of a strided subsample (deterministic, fast)."""
    sub = data[::stride, ::stride]
    sub = sub[np.isfinite(sub)]
    if sub.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sub, [lo_pct, hi_pct])
    if not hi > lo:
        hi = lo + 1.0
    return float(lo), float(hi)


def _asinh_lut(softening: float) -> np.ndarray:
    t = np.linspace(0.0, 1.0, _LUT_SIZE)
    y = np.arcsinh(t / softening) / np.arcsinh(1.0 / softening) if softening > 0 else t
    return np.round(y * 255.0).astype(np.uint8)


def _symmetric_lut(softening: float) -> np.ndarray:
    t = np.linspace(-1.0, 1.0, _LUT_SIZE)
    y = np.arcsinh(t / softening) / np.arcsinh(1.0 / softening) if softening > 0 else t
    return np.round(127.5 + y * 127.5).astype(np.uint8)


def _apply(data: np.ndarray, lo: float, hi: float, lut: np.ndarray) -> np.ndarray:
    scale = np.float32((_LUT_SIZE - 1) / (hi - lo))
    idx = data - np.float32(lo)
    idx *= scale
    bad = ~np.isfinite(idx)
    idx[bad] = 0.0
    np.clip(idx, 0, _LUT_SIZE - 1, out=idx)
    out = lut[idx.astype(np.int16)]
    out[bad] = MASKED_GREY
    return out


def asinh_stretch(data: np.ndarray, lo: float, hi: float, *, softening: float = 0.1) -> np.ndarray:
    """Map [lo, hi] to 0..255 through asinh (``softening`` small = stronger compression)."""
    return _apply(data, lo, hi, _asinh_lut(softening))


def symmetric_stretch(data: np.ndarray, limit: float, *, softening: float = 0.3) -> np.ndarray:
    """Map [-limit, +limit] to 0..255 with 0 at mid grey (for differences)."""
    return _apply(data, -limit, limit, _symmetric_lut(softening))


def display_bgsub(nrgf_frame: np.ndarray) -> np.ndarray:
    """The display stretch of an NRGF frame (units of local sigma).

    Fixed sigma limits rather than per-frame percentiles, so a day's playback does not
    flicker: -3σ is black, the background (0σ) dark grey, a 5σ point clearly bright,
    and the asinh keeps bright stars from saturating a wide area.
    """
    return asinh_stretch(nrgf_frame, -3.0, 25.0, softening=0.1)


def display_difference(normalised_difference: np.ndarray) -> np.ndarray:
    """The display stretch of a sigma-normalised difference: ±8σ, zero at mid grey."""
    return symmetric_stretch(normalised_difference, 8.0, softening=0.35)


def display_calibrated(calibrated: np.ndarray) -> np.ndarray:
    """The display stretch of a calibrated frame (DN/s): the logarithm, because the corona
    fades by orders of magnitude from the occulter outwards and only a log shows the inner
    streamers and the outer field at once. Limits are the frame's own robust percentiles."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.log10(np.where(calibrated > 0, calibrated, np.nan)).astype(np.float32)
    lo, hi = robust_limits(logged, 1.0, 99.8)
    return _apply(logged, lo, hi, _asinh_lut(0.0))
