"""A processed frame's product on disk -> the frame the hunter works on.

The one reader of the background-subtracted product for hunting: the hourly hunt
(``ingest.hunt``) and the evaluation's products mode both load frames here, so what the
evaluation measures is what the pipeline hunts.
"""

from __future__ import annotations

from pathlib import Path

from astropy.io import fits

from comet_pipeline.domain import Frame
from comet_pipeline.hunting.model import HuntFrame
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.products import PROCESSED


def load_hunt_frame(frame: Frame) -> HuntFrame:
    """The background-subtracted frame of a processed file, with its Sun centre."""
    path = frame.path(PROCESSED)
    if path is None:
        raise ValueError(f"{frame.name} has no {PROCESSED} product to hunt on")
    image, header = read_image(Path(path))  # compressed or an older version's float32
    return HuntFrame(
        name=frame.name,
        observed_at=frame.observed_at,
        image=image,
        sun_x=float(header["CRPIX1"]) - 1.0,
        sun_y=float(header["CRPIX2"]) - 1.0,
        plate_scale=_plate_scale_arcsec(header),
        roll_deg=float(header.get("CROTA1", 0.0) or 0.0),
    )


def _plate_scale_arcsec(header: fits.Header) -> float | None:
    """|CDELT1| in arcsec per pixel (the products' WCS writes degrees), None if absent."""
    try:
        value = abs(float(header["CDELT1"]))
    except (KeyError, TypeError, ValueError):
        return None
    unit = str(header.get("CUNIT1", "deg")).strip().lower()
    factor = {"deg": 3600.0, "arcmin": 60.0, "arcsec": 1.0}.get(unit)
    return value * factor if factor and value > 0 else None
