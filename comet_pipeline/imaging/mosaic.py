"""C2 + C3 mosaics on the C3 helioprojective grid: arrays and WCS in, arrays and WCS out.

Why: C2 sees the inner corona (2.2-6 R_sun) at ~12"/px, C3 the outer (3.7-30 R_sun) at
~56"/px; one picture of both shows a sungrazer from C3's field down to C2's occulter.

How (no extra dependency; ``reproject.reproject_interp`` does the same pixel -> world ->
pixel + ``scipy.ndimage.map_coordinates`` but over the whole output grid):

* **anti-alias**: C2 is box-averaged by ``floor(C3 scale / C2 scale)`` (4 for full-size
  frames) first, NaN-aware, so a point source keeps its flux centroid instead of being
  point-sampled between C3 pixels;
* **only the footprint**: the output pixels C2 can reach (its finite pixels' bounding box
  carried through both WCS, ~230x230 of 1024x1024) go output pixel -> world (Tx, Ty)
  through the output WCS -> C2 pixel through C2's WCS, then bilinear interpolation;
* **feathering**: C2's weight rises smoothly (smoothstep over ``feather_px`` output
  pixels) from every edge of its valid area (field stop, occulter, pylon, missing blocks),
  C3 takes the rest: ``(w c2 + (1 - w) c3)``; where C3 has nothing (inside its occulter) C2
  is shown alone, where neither has data the mosaic is NaN.

The daily mosaic is the NaN-ignoring median of the hourly ones on one grid (hours whose C3
pointing differs are reprojected onto it first).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from scipy import ndimage

from comet_pipeline.imaging.fitsio import iso_time

#: The feather's width, in output (C3) pixels: ~0.35 R_sun at C3's plate scale.
FEATHER_PX = 6.0
#: A reduced C2 block needs this fraction of finite pixels to count (else NaN).
MIN_BLOCK_FRACTION = 0.5
# The cards a product's WCS is read from (the rest of its header is the instrument's).
_WCS_CARD = re.compile(
    r"^(NAXIS\d?|WCSAXES|CTYPE\d|CUNIT\d|CDELT\d|CRPIX\d|CRVAL\d|PC\d_\d|CD\d_\d|PV\d_\d+|"
    r"LONPOLE|LATPOLE|DATE-OBS|MJD-OBS|MJDREF|TIMESYS|RSUN_REF|DSUN_OBS|HGLN_OBS|HGLT_OBS)$"
)
#: Two grids closer than this everywhere (px) are taken as the same (no resampling).
SAME_GRID_PX = 0.01


@dataclass(frozen=True)
class Mosaic:
    """The mosaic (float32, NaN where no detector sees) on ``wcs``'s grid, and its makeup."""

    data: np.ndarray
    wcs: WCS
    c2_pixels: int  # output pixels where C2 has any weight
    c3_pixels: int  # output pixels where C3 has any weight
    blended_pixels: int  # both (the feather and the overlap ring)


@dataclass(frozen=True)
class Box:
    """A rectangle of the output grid: rows ``y0:y1``, columns ``x0:x1``."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def empty(self) -> bool:
        return self.y1 <= self.y0 or self.x1 <= self.x0


def celestial_wcs(header: fits.Header) -> WCS:
    """The image WCS of a product header (its FITS cards fixed quietly). Only the world
    coordinate cards are handed to astropy: parsing a product's ~100 cards cost 3x more."""
    cards = fits.Header([c for c in header.cards if _WCS_CARD.match(c.keyword)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(cards).celestial


def plate_scale(wcs: WCS) -> float:
    """Mean pixel size (world units per pixel, degrees for these products)."""
    scales = wcs.proj_plane_pixel_scales()
    return float(np.mean([float(getattr(s, "value", s)) for s in scales]))


def pixel_to_pixel(
    src: WCS, dst: WCS, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``dst`` pixels (0-based) -> the ``src`` pixels that see the same (Tx, Ty)."""
    lon, lat = dst.all_pix2world(x, y, 0)
    sx, sy = src.all_world2pix(lon, lat, 0)
    return np.asarray(sx, dtype=np.float64), np.asarray(sy, dtype=np.float64)


def finite_bounds(data: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of ``data``'s finite pixels (half-open), None when there are none."""
    finite = np.isfinite(data)
    rows = np.flatnonzero(finite.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(finite.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def footprint(
    src: WCS, bounds: tuple[int, int, int, int], dst: WCS, dst_shape: tuple[int, int]
) -> Box:
    """The output pixels a source rectangle can reach (its edges sampled through both
    WCS, 2 px of margin), clipped to the output grid."""
    y0, y1, x0, x1 = bounds
    t = np.linspace(0.0, 1.0, 17)
    xs = np.concatenate(
        [
            x0 - 0.5 + t * (x1 - x0),
            np.full(17, x1 - 0.5),
            x0 - 0.5 + t * (x1 - x0),
            np.full(17, x0 - 0.5),
        ]
    )
    ys = np.concatenate(
        [
            np.full(17, y0 - 0.5),
            y0 - 0.5 + t * (y1 - y0),
            np.full(17, y1 - 0.5),
            y0 - 0.5 + t * (y1 - y0),
        ]
    )
    dx, dy = pixel_to_pixel(dst, src, xs, ys)  # src pixels -> dst pixels
    ok = np.isfinite(dx) & np.isfinite(dy)
    if not ok.any():
        return Box(0, 0, 0, 0)
    ny, nx = dst_shape
    return Box(
        max(0, math.floor(float(dy[ok].min())) - 2),
        min(ny, math.ceil(float(dy[ok].max())) + 3),
        max(0, math.floor(float(dx[ok].min())) - 2),
        min(nx, math.ceil(float(dx[ok].max())) + 3),
    )


def _block_sum(data: np.ndarray, factor: int) -> np.ndarray:
    """Sums over ``factor`` x ``factor`` blocks: along rows first (contiguous), then columns."""
    ny, nx = data.shape
    rows = data.reshape(ny, nx // factor, factor).sum(axis=2, dtype=np.float32)
    return rows.reshape(ny // factor, factor, nx // factor).sum(axis=1, dtype=np.float32)


def block_mean(
    data: np.ndarray,
    factor: int,
    min_fraction: float = MIN_BLOCK_FRACTION,
    *,
    noise_units: bool = False,
) -> np.ndarray:
    """``data`` averaged over ``factor`` x ``factor`` blocks, ignoring NaN; a block with
    fewer than ``min_fraction`` finite pixels is NaN. Trailing rows/columns that do not
    fill a block are dropped (block i covers pixels ``[i f, (i + 1) f)``).

    ``noise_units``: the data are in units of the pixel noise (the background-subtracted
    products), so the block *sum* / sqrt(n) is kept instead of the mean: the block's own
    significance, whose noise is again ~1 (a mean's would be 1 / f)."""
    if factor <= 1:
        return np.asarray(data, dtype=np.float32)
    ny, nx = (data.shape[0] // factor) * factor, (data.shape[1] // factor) * factor
    cut = np.asarray(data[:ny, :nx], dtype=np.float32)
    finite = np.isfinite(cut)
    total = _block_sum(np.where(finite, cut, np.float32(0.0)), factor)
    count = _block_sum(finite.astype(np.float32), factor)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / (np.sqrt(count) if noise_units else count)
    out[count < min_fraction * factor * factor] = np.nan
    return out.astype(np.float32, copy=False)


def reproject_box(
    data: np.ndarray,
    src: WCS,
    dst: WCS,
    box: Box,
    *,
    factor: int = 1,
    noise_units: bool = False,
) -> np.ndarray:
    """``data`` (on ``src``'s grid) resampled onto the output pixels of ``box``: bilinear,
    NaN where any of the four neighbours is NaN or outside. ``factor`` > 1 block-averages
    the source first (anti-aliasing when the output pixels are larger; see
    :func:`block_mean` for ``noise_units``)."""
    ys, xs = np.mgrid[box.y0 : box.y1, box.x0 : box.x1]
    sx, sy = pixel_to_pixel(src, dst, xs.astype(np.float64), ys.astype(np.float64))
    reduced = block_mean(data, factor, noise_units=noise_units)
    if factor > 1:  # full pixel p -> reduced pixel (p + 0.5) / f - 0.5
        sx = (sx + 0.5) / factor - 0.5
        sy = (sy + 0.5) / factor - 0.5
    out = ndimage.map_coordinates(
        reduced, [sy, sx], order=1, mode="constant", cval=np.nan, prefilter=False
    )
    return out.astype(np.float32, copy=False)


def same_grid(a: WCS, b: WCS, shape: tuple[int, int]) -> bool:
    """True when ``a`` and ``b`` put the corners and centre of ``shape`` at the same pixels."""
    ny, nx = shape
    x = np.array([0.0, nx - 1.0, 0.0, nx - 1.0, (nx - 1) / 2])
    y = np.array([0.0, 0.0, ny - 1.0, ny - 1.0, (ny - 1) / 2])
    bx, by = pixel_to_pixel(b, a, x, y)
    return bool(np.all(np.hypot(bx - x, by - y) < SAME_GRID_PX))


def reproject(data: np.ndarray, src: WCS, dst: WCS, shape: tuple[int, int]) -> np.ndarray:
    """``data`` on ``dst``'s grid of ``shape`` (same plate scale assumed: no averaging);
    returned as is when the grids coincide."""
    if data.shape == shape and same_grid(src, dst, shape):
        return np.asarray(data, dtype=np.float32)
    out = np.full(shape, np.nan, dtype=np.float32)
    bounds = finite_bounds(data)
    if bounds is None:
        return out
    box = footprint(src, bounds, dst, shape)
    if not box.empty:
        out[box.slices] = reproject_box(data, src, dst, box)
    return out


def feather_weight(valid: np.ndarray, width_px: float = FEATHER_PX) -> np.ndarray:
    """0 outside ``valid``, rising as a smoothstep from its every edge to 1 at ``width_px``
    pixels inside (the box's border counts as an edge)."""
    padded = np.pad(valid, 1, constant_values=False)
    distance = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
    t = np.clip((distance - 0.5) / max(width_px, 1e-6), 0.0, 1.0).astype(np.float32)
    return (t * t * (3.0 - 2.0 * t)) * valid


def build_mosaic(
    c2: np.ndarray,
    c2_wcs: WCS,
    c3: np.ndarray,
    c3_wcs: WCS,
    *,
    feather_px: float = FEATHER_PX,
    noise_units: bool = True,
) -> Mosaic:
    """C2 reprojected into C3's grid and feathered into it (see the module's docstring).

    Both arrays are in the same units; ``noise_units`` (the background-subtracted
    products, in units of the local sigma) keeps C2's reduced blocks in units of their own
    noise, so C2's part looks as noisy as C3's and the seam does not show.
    """
    out = np.array(c3, dtype=np.float32, copy=True)
    c3_valid = np.isfinite(out)
    c3_pixels = int(c3_valid.sum())
    bounds = finite_bounds(c2)
    box = Box(0, 0, 0, 0) if bounds is None else footprint(c2_wcs, bounds, c3_wcs, out.shape)
    if box.empty:
        return Mosaic(out, c3_wcs, 0, c3_pixels, 0)
    factor = max(1, int(plate_scale(c3_wcs) / plate_scale(c2_wcs) + 1e-6))
    part = reproject_box(c2, c2_wcs, c3_wcs, box, factor=factor, noise_units=noise_units)
    valid2 = np.isfinite(part)
    w2 = feather_weight(valid2, feather_px)
    sub = out[box.slices]
    valid3 = c3_valid[box.slices]
    w3 = np.where(valid3, 1.0 - w2, 0.0).astype(np.float32)
    den = w2 + w3
    alone = valid2 & ~valid3  # C2 where C3 sees nothing: C2 alone, whatever its weight
    with np.errstate(invalid="ignore", divide="ignore"):
        blended = (w2 * np.nan_to_num(part) + w3 * np.nan_to_num(sub)) / den
    merged = np.where(alone, part, np.where(den > 0, blended, sub))
    out[box.slices] = merged
    c2_used = (w2 > 0) | alone
    return Mosaic(
        data=out,
        wcs=c3_wcs,
        c2_pixels=int(c2_used.sum()),
        c3_pixels=c3_pixels - int((valid3 & (w3 == 0)).sum()),
        blended_pixels=int((c2_used & (w3 > 0)).sum()),
    )


def combine(
    frames: Sequence[tuple[np.ndarray, WCS]], reference: WCS, shape: tuple[int, int]
) -> np.ndarray:
    """NaN-ignoring median of ``frames`` on ``reference``'s grid (NaN where none sees):
    steady structure stays, a passing cosmic ray or a single-hour artefact goes."""
    if not frames:
        raise ValueError("no frames to combine")
    stack = np.stack([reproject(d, w, reference, shape) for d, w in frames])
    out = np.full(shape, np.nan, dtype=np.float32)
    seen = np.isfinite(stack).any(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are left NaN
        rows = np.flatnonzero(seen.any(axis=1))
        if rows.size:
            lo, hi = int(rows[0]), int(rows[-1]) + 1
            out[lo:hi] = np.nanmedian(stack[:, lo:hi], axis=0)
    out[~seen] = np.nan
    return out


def mosaic_cards(
    wcs: WCS, observed_at: datetime, *, bunit: str, history: Iterable[str]
) -> list[str]:
    """FITS card images of a mosaic: its WCS, DATE-OBS (the C3 frame's or the day's
    middle), BUNIT and HISTORY naming the inputs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        header = wcs.to_header()
    header.remove("DATE-OBS", ignore_missing=True)
    cards = [
        fits.Card("DATE-OBS", iso_time(observed_at), "UTC (ISO 8601)").image,
        fits.Card("BUNIT", bunit).image,
    ]
    cards += [c.image for c in header.cards]
    cards += [fits.Card("HISTORY", line).image for line in history]
    return cards
