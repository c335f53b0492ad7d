"""Running difference: this frame minus the previous frame of the same detector."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from comet_pipeline.imaging.fitsio import read_image

DEFAULT_MAX_GAP = timedelta(minutes=40)


def running_difference(
    current: np.ndarray,
    previous: np.ndarray,
    *,
    current_time: datetime,
    previous_time: datetime,
    max_gap: timedelta = DEFAULT_MAX_GAP,
) -> np.ndarray | None:
    """``current - previous`` in DN/s, or None when the frames are too far apart in time.

    Both inputs are calibrated frames (already divided by their own exposure time, so frames
    of different exposures difference correctly). A pixel masked (NaN) in either is NaN.
    Returns None when ``previous`` is not earlier than ``current`` or the gap exceeds
    ``max_gap`` (the corona and the stars have moved too much for a difference to mean
    motion), or when the shapes differ.
    """
    gap = current_time - previous_time
    if gap <= timedelta(0) or gap > max_gap or current.shape != previous.shape:
        return None
    return np.subtract(current, previous, dtype=np.float32)


def difference_of_files(current: Path, previous: Path) -> np.ndarray:
    """``current - previous`` of two calibrated products, as the processor computed it when
    it wrote the difference PNGs: the calibrated products are lossless, so this equals the
    running difference of that time bit for bit (the FITS of it is no longer kept)."""
    return np.subtract(read_image(current)[0], read_image(previous)[0], dtype=np.float32)
