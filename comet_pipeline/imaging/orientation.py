"""Display orientation: FITS array <-> PNG pixels. See docs/ORIENTATION.md.

* FITS array (the project's reference frame): x = column, y = row, 0-based, as stored.
  Level-0.5 frames are rectified solar north up; FITS row 0 is the *bottom* of the image,
  so pixel (0, 0) is the LOWER-LEFT corner as displayed (north up, east left).
* PNG: row 0 is the *top*, so pixel (0, 0) is the UPPER-LEFT corner. The display is the
  FITS array flipped vertically: ``x_png = x_fits``, ``y_png = (naxis2 - 1) - y_fits``.
* Roll: when the header's CROTA says the frame is rolled by ~180° (|CROTA| > 90°), the
  display is also rotated by 180° so north is up; flip + rotate = a horizontal flip:
  ``x_png = (naxis1 - 1) - x_fits``, ``y_png = y_fits``. Small rolls (a few degrees) are
  not resampled: the WCS carries them exactly.
* Reduced images (512 preview, 256 thumbnail) are box-averaged from the full image, so a
  reduced pixel i covers full pixels [i*f, (i+1)*f) with f = naxis / size:
  ``x_size = (x_full + 0.5) / f - 0.5`` (and the same for y).
"""

from __future__ import annotations

import numpy as np


def is_rolled(roll_deg: float) -> bool:
    """True when the frame is rolled by roughly 180° (north down in the FITS array)."""
    return abs((roll_deg + 180.0) % 360.0 - 180.0) > 90.0


def to_display(array: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """The FITS-oriented ``array`` as displayed (PNG row 0 at the top, north up). A view."""
    return array[:, ::-1] if is_rolled(roll_deg) else array[::-1, :]


def fits_to_png(
    x: float, y: float, naxis1: int, naxis2: int, *, roll_deg: float = 0.0, size: int | None = None
) -> tuple[float, float]:
    """FITS (x, y) 0-based -> PNG (x, y) 0-based, in a PNG of ``size`` (default naxis)."""
    if is_rolled(roll_deg):
        xp, yp = (naxis1 - 1) - x, y
    else:
        xp, yp = x, (naxis2 - 1) - y
    if size is not None:
        xp = (xp + 0.5) * size / naxis1 - 0.5
        yp = (yp + 0.5) * size / naxis2 - 0.5
    return float(xp), float(yp)


def png_to_fits(
    x: float, y: float, naxis1: int, naxis2: int, *, roll_deg: float = 0.0, size: int | None = None
) -> tuple[float, float]:
    """Inverse of :func:`fits_to_png`."""
    if size is not None:
        x = (x + 0.5) * naxis1 / size - 0.5
        y = (y + 0.5) * naxis2 / size - 0.5
    if is_rolled(roll_deg):
        return float((naxis1 - 1) - x), float(y)
    return float(x), float((naxis2 - 1) - y)
