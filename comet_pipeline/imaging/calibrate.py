"""Raw level-0.5 DN to DN/s per full-resolution pixel.

Choice for binned images: a 2x2 summed pixel holds the signal of 4 CCD pixels, so after
removing the bias it is divided by ``binning**2`` as well as by the exposure time. Every
calibrated frame is then in the same unit (DN/s per full-resolution pixel) whatever the
binning, and a binned frame's values match an unbinned frame of the same scene. ``OFFSET``
is the bias of one *stored* pixel value, so it is subtracted before the division.
"""

from __future__ import annotations

import numpy as np

# The LASCO camera digitises to 14 bits: an unbinned stored value at or above this is
# saturated (a binned pixel sums binning**2 readings; the processor scales the level). The
# simulated archive clips at the int16 limit instead, so its brightest stars count here.
SATURATION_DN = 16383.0


def dn_scale(exptime: float, binning: int = 1) -> float:
    """DN/s per full-resolution pixel of one stored DN: ``1 / (exptime * binning**2)``."""
    return 1.0 / (exptime * binning * binning)


def calibrate(raw: np.ndarray, *, offset: float, exptime: float, binning: int = 1) -> np.ndarray:
    """Return float32 ``(raw - offset) / (exptime * binning**2)``: DN/s per full-res pixel.

    Masking (occulter, missing blocks…) is not done here: see :mod:`.masks`.
    """
    if exptime <= 0:
        raise ValueError(f"exposure time must be positive, got {exptime!r}")
    if binning < 1:
        raise ValueError(f"binning must be >= 1, got {binning!r}")
    out = (
        np.asarray(raw, dtype=np.float32).copy()
        if raw.dtype == np.float32
        else raw.astype(np.float32)
    )
    out -= np.float32(offset)
    out *= np.float32(dn_scale(exptime, binning))
    return out


def saturated(raw: np.ndarray, *, level: float = SATURATION_DN) -> np.ndarray:
    """Boolean map of saturated pixels (stored value >= ``level``)."""
    return np.asarray(raw) >= level
