"""Any product as the 8-bit, north-up array a person looks at (for previews and reports)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from comet_pipeline.imaging import background as bg
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.geometry import geometry
from comet_pipeline.imaging.orientation import to_display
from comet_pipeline.imaging.stretch import (
    asinh_stretch,
    display_bgsub,
    display_difference,
    robust_limits,
)


def load_display_array(path: Path) -> np.ndarray:
    """A uint8 display-oriented array (PNG row 0 = top, north up) of a product file.

    PNG/WebP: its pixels as stored (first frame of an animation). ``*.bgsub.fits[.fz]``:
    the display stretch of the PNGs. ``*.diff.fits``: sigma-normalised per radius, then the
    difference stretch. Any other FITS (``*.cal.fits[.fz]``): a 0.5-99.5 percentile asinh
    stretch. FITS are flipped/rotated with their ``CROTA1`` as the PNGs are; compressed or
    not (:func:`.fitsio.read_image`).
    """
    path = Path(path)
    if path.suffix.lower() in (".png", ".webp", ".apng"):
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    data, header = read_image(path)
    roll = float(header.get("CROTA1", 0.0) or 0.0)
    name = path.name.lower().removesuffix(".fz")
    if name.endswith(".bgsub.fits"):
        shown = display_bgsub(data)
    elif name.endswith(".diff.fits"):
        geo = geometry(data.shape, header["CRPIX1"] - 1.0, header["CRPIX2"] - 1.0)
        shown = display_difference(bg.nrgf(data, geo))
    else:
        lo, hi = robust_limits(data)
        shown = asinh_stretch(data, lo, hi, softening=0.05)
    return np.ascontiguousarray(to_display(shown, roll))
