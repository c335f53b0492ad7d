"""Statistics of a region of one frame: a box, an annulus, a small aperture.

Pure: arrays in, numbers out. Positions are FITS array pixels as everywhere in the project
(x = column, y = row, 0-based, ``data[y, x]``, pixel (0, 0) at the lower left as displayed,
the viewer's crosshair and the Sungrazer reports' convention); a pixel's centre is at its
integer coordinates. NaN pixels (masked: occulter, pylon, missing blocks) are left out of
every figure, so a region that crosses the occulter is measured on what is there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import astropy.units as u
import numpy as np

from comet_pipeline.imaging.stats import robust_sigma

#: The processed product's unit (its BUNIT "sigma"): the local noise of the frame. Not an
#: astropy unit, so tables carrying it are read back inside ``u.add_enabled_units``.
NOISE_SIGMA = u.def_unit("sigma", doc="local noise of a background-subtracted LASCO frame")

#: Aperture photometry defaults: the hunter's PSF is a Gaussian of sigma 1.2 px, so 3 px
#: holds ~96 % of a point source; the background annulus stays clear of the coma's core.
APERTURE_PX = 3.0
ANNULUS_PX = (6.0, 10.0)


@dataclass(frozen=True)
class RegionStats:
    """Figures of the finite pixels of a region (NaN everywhere when none is finite).

    ``mad_sigma`` is 1.4826 x the median absolute deviation: the noise a few bright pixels
    (a star, a cosmic ray) do not inflate, unlike ``std``.
    """

    count: int
    mean: float
    median: float
    std: float
    mad_sigma: float
    min: float
    max: float
    sum: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Photometry:
    """A point source measured in a circular aperture against its local background.

    ``flux`` = aperture sum - ``n_aperture`` x background (the annulus median), in the
    image's units; ``flux_err`` = annulus robust sigma x sqrt(``n_aperture``); ``snr`` their
    ratio. NaN when the aperture or the annulus holds no finite pixel.
    """

    flux: float
    flux_err: float
    snr: float
    background: float  # per pixel, median of the annulus
    n_aperture: int
    n_background: int


def region_stats(image: np.ndarray, mask: np.ndarray) -> RegionStats:
    """Figures of ``image`` where ``mask`` is True, NaN pixels excluded."""
    values = np.asarray(image, dtype=np.float64)[np.asarray(mask, dtype=bool)]
    values = values[np.isfinite(values)]
    if values.size == 0:
        nan = float("nan")
        return RegionStats(0, nan, nan, nan, nan, nan, nan, 0.0)
    return RegionStats(
        count=int(values.size),
        mean=float(values.mean()),
        median=float(np.median(values)),
        std=float(values.std()),
        mad_sigma=robust_sigma(values),
        min=float(values.min()),
        max=float(values.max()),
        sum=float(values.sum()),
    )


def box_mask(shape: tuple[int, ...], x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """True on the pixels of the box with corners (x0, y0) and (x1, y1), both included.

    Corners may come in either order (a drag in the viewer goes any way) and are clipped to
    the array, so a box hanging over the edge measures the part inside.
    """
    h, w = int(shape[0]), int(shape[1])
    xa, xb = sorted((int(x0), int(x1)))
    ya, yb = sorted((int(y0), int(y1)))
    mask = np.zeros((h, w), dtype=bool)
    mask[max(ya, 0) : max(min(yb + 1, h), 0), max(xa, 0) : max(min(xb + 1, w), 0)] = True
    return mask


def annulus_mask(
    shape: tuple[int, ...], r_inner: float, r_outer: float, cx: float, cy: float
) -> np.ndarray:
    """True on the pixels whose centre lies at ``r_inner <= r < r_outer`` from (cx, cy).

    ``r_inner = 0`` is a disc. Half-open so that adjacent annuli never share a pixel.
    """
    if not 0 <= r_inner < r_outer:
        raise ValueError(f"need 0 <= r_inner < r_outer, got {r_inner}, {r_outer}")
    h, w = int(shape[0]), int(shape[1])
    # only the bounding square of the outer circle is computed (a 10 px aperture on 1024^2)
    xa, xb = max(int(np.floor(cx - r_outer)), 0), min(int(np.ceil(cx + r_outer)) + 1, w)
    ya, yb = max(int(np.floor(cy - r_outer)), 0), min(int(np.ceil(cy + r_outer)) + 1, h)
    mask = np.zeros((h, w), dtype=bool)
    if xa >= xb or ya >= yb:
        return mask
    yy, xx = np.mgrid[ya:yb, xa:xb]
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    mask[ya:yb, xa:xb] = (r2 >= r_inner**2) & (r2 < r_outer**2)
    return mask


def box_stats(image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> RegionStats:
    """Figures of the box with corners (x0, y0), (x1, y1), both included."""
    return region_stats(image, box_mask(image.shape, x0, y0, x1, y1))


def annulus_stats(
    image: np.ndarray, r_inner: float, r_outer: float, cx: float, cy: float
) -> RegionStats:
    """Figures of the annulus ``r_inner <= r < r_outer`` px around (cx, cy)."""
    return region_stats(image, annulus_mask(image.shape, r_inner, r_outer, cx, cy))


def aperture_photometry(
    image: np.ndarray,
    x: float,
    y: float,
    *,
    radius: float = APERTURE_PX,
    annulus: tuple[float, float] = ANNULUS_PX,
) -> Photometry:
    """Flux of the source at (x, y): aperture sum minus the local background, and its SNR.

    The background and its noise come from the annulus around the same point, robustly
    (median, MAD), so a star or the comet's tail in the annulus barely moves them.
    """
    ap = region_stats(image, annulus_mask(image.shape, 0.0, radius, x, y))
    bg = region_stats(image, annulus_mask(image.shape, annulus[0], annulus[1], x, y))
    if ap.count == 0 or bg.count == 0:
        nan = float("nan")
        return Photometry(nan, nan, nan, bg.median, ap.count, bg.count)
    flux = ap.sum - ap.count * bg.median
    err = bg.mad_sigma * float(np.sqrt(ap.count))
    snr = flux / err if err > 0 else float("nan")
    return Photometry(flux, err, snr, bg.median, ap.count, bg.count)
