"""Where a LASCO frame holds no sky signal: occulter, C3 pylon, field stop, missing blocks.

Convention: masks are boolean arrays in FITS array orientation, True = bad (no signal).

Geometry masks depend only on (shape, detector, Sun centre, plate scale, pylon angle), which
are the same for every frame of a detector, so they are cached on rounded parameters.

The pylon is the arm holding the occulter, running from the centre towards the lower
left of the north-up image (wide and obvious in C3, thin in C2). It is fixed to the instrument, so on the sky it turns with the
spacecraft roll. The model puts it at ``PYLON_ANGLE_DEG + roll`` (degrees counter-clockwise
from +x); :func:`find_pylon_angle` measures it from the data instead, which is what the
processor uses when the frame shows it clearly (it does not trust the roll convention of a
given archive).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from comet_pipeline.domain.models import Detector
from comet_pipeline.imaging.geometry import R_SUN_ARCSEC, geometry


@dataclass(frozen=True)
class FieldModel:
    """Where a detector's frame holds sky: radii in R☉, pylon widths in arcsec."""

    inner_rsun: float  # occulter edge (plus its diffraction rim)
    outer_rsun: float  # field stop (circular): corners beyond it are out of field
    pylon_half_width: tuple[float, float]  # arcsec, at the occulter and at the field stop
    pylon_ring_rsun: tuple[float, float]  # annulus where find_pylon_angle looks for the arm


# Inner radii from LASCO_FORMATS.md's usable annulus. Outer radii are the field stops, a
# little inside them where the stop's soft edge dims the sky: C2's stop is at ~6.8 R☉ (the
# "8.0" of the usable annulus reaches into the dark corners). Pylon widths as in real
# frames (and the simulator): C2 ~7-9 px, C3 ~13-21 px half-width, plus PYLON_MARGIN_PX.
FIELD: dict[Detector, FieldModel] = {
    Detector.C2: FieldModel(2.3, 6.6, (7 * 11.9, 9 * 11.9), (2.8, 5.5)),
    Detector.C3: FieldModel(4.4, 30.8, (13 * 56.0, 21 * 56.0), (6.0, 16.0)),
}
PYLON_ANGLE_DEG = 232.0  # lower left, counter-clockwise from +x (west), at roll 0
PYLON_ANGLE_STEP = 0.5  # degrees: the grid measured pylon angles are snapped to
PYLON_MARGIN_PX = 3.0  # the arm's edge is soft: mask until it transmits ~90%
BLOCK = 32  # telemetry packet block size, pixels
BLOCK_MIN_ZERO_FRACTION = 0.75  # a block counts as missing when at least this much is zero


def field_mask(
    shape: tuple[int, int],
    detector: Detector | str,
    sun_x: float,
    sun_y: float,
    plate_scale: float,
    roll_deg: float = 0.0,
    *,
    pylon_angle_deg: float | None = None,
) -> np.ndarray:
    """Occulter + field stop + pylon, True = bad. Cached; returned read-only.

    ``pylon_angle_deg`` overrides the roll-based model (e.g. with :func:`find_pylon_angle`).
    """
    det = Detector(detector)
    angle = (PYLON_ANGLE_DEG + roll_deg) if pylon_angle_deg is None else pylon_angle_deg
    # A measured angle wobbles by ~0.2° from frame to frame: snapping it to a 0.5° grid keeps
    # the cache hit (building a mask costs ~25 ms) and errs by at most 2.4 px at the field
    # stop, inside the 3 px margin. A pure function of the inputs: reprocessing is stable.
    angle = (round(angle / PYLON_ANGLE_STEP) * PYLON_ANGLE_STEP) % 360.0
    return _field_mask(
        tuple(int(n) for n in shape),
        det,
        round(sun_x * 4) / 4,
        round(sun_y * 4) / 4,
        round(plate_scale, 3),
        angle,
    )


@lru_cache(maxsize=16)
def _field_mask(
    shape: tuple[int, int],
    det: Detector,
    sun_x: float,
    sun_y: float,
    plate_scale: float,
    pylon_angle: float,
) -> np.ndarray:
    geo = geometry(shape, sun_x, sun_y)
    model = FIELD[det]
    px_per_rsun = R_SUN_ARCSEC / plate_scale
    r_in, r_out = model.inner_rsun * px_per_rsun, model.outer_rsun * px_per_rsun
    mask = (geo.radius < r_in) | (geo.radius > r_out)
    w0, w1 = (w / plate_scale + PYLON_MARGIN_PX for w in model.pylon_half_width)
    mask |= pylon_mask(geo.radius, geo.angle, pylon_angle, (w0, w1), (r_in, r_out))
    mask.flags.writeable = False
    return mask


def pylon_mask(
    radius: np.ndarray,
    angle: np.ndarray,
    pylon_angle: float,
    half_width_px: tuple[float, float],
    span_px: tuple[float, float],
) -> np.ndarray:
    """An arm from the centre at ``pylon_angle`` (deg from +x), widening linearly from
    ``half_width_px[0]`` at radius ``span_px[0]`` to ``half_width_px[1]`` at ``span_px[1]``."""
    rel = np.radians((angle - np.float32(pylon_angle) + 180.0) % 360.0 - 180.0)
    along = radius * np.cos(rel)
    across = np.abs(radius * np.sin(rel))
    (w0, w1), (r0, r1) = half_width_px, span_px
    frac = np.clip((along - r0) / (r1 - r0), 0.0, 1.0)
    return (along > 0) & (across < w0 + (w1 - w0) * frac)


def find_pylon_angle(
    coarse: np.ndarray,
    factor: int,
    sun_x: float,
    sun_y: float,
    plate_scale: float,
    *,
    ring_rsun: tuple[float, float] = FIELD[Detector.C3].pylon_ring_rsun,
    min_depth: float = 0.4,
) -> float | None:
    """Angle (deg from +x) of the dark arm in a strided frame, or None.

    ``coarse`` is the frame sampled every ``factor`` pixels (bias removed, sky positive).
    In the annulus ``ring_rsun`` (bright corona, arm clear of the occulter; see
    ``FIELD[detector].pylon_ring_rsun``) each pixel is divided by the median of
    its radius bin, then averaged in 1° azimuth bins. The pylon is the deepest dip, accepted
    only below ``min_depth`` x the median (a clear dark arm, not a coronal hole); its angle
    is the midpoint of the dip's half-depth edges, which a flat-bottomed arm needs (the
    minimum alone wanders across the bottom with the noise).
    """
    ny, nx = coarse.shape
    sx = (sun_x + 0.5) / factor - 0.5
    sy = (sun_y + 0.5) / factor - 0.5
    yy, xx = np.mgrid[0:ny, 0:nx]
    r_rsun = np.hypot(xx - sx, yy - sy) * (factor * plate_scale / R_SUN_ARCSEC)
    lo, hi = ring_rsun
    ring = (r_rsun > lo) & (r_rsun < hi) & np.isfinite(coarse)
    if ring.sum() < 360:
        return None
    vals = coarse[ring].astype(np.float64)
    rb = np.minimum(((r_rsun[ring] - lo) / ((hi - lo) / 16)).astype(np.intp), 15)
    order = np.argsort(rb + 0.5 + np.arctan(vals) / np.pi)  # by radius bin, then value
    counts = np.bincount(rb, minlength=16)
    medians = vals[order][np.minimum(np.cumsum(counts) - counts + counts // 2, vals.size - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = vals / np.where(medians > 0, medians, np.nan)[rb]
    nb = 360
    az = (np.degrees(np.arctan2(yy[ring] - sy, xx[ring] - sx)) % 360.0).astype(np.intp) % nb
    ok = np.isfinite(norm)
    counts = np.bincount(az[ok], minlength=nb)
    sums = np.bincount(az[ok], weights=norm[ok], minlength=nb)
    prof = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    good = np.isfinite(prof)
    if good.sum() < nb // 2:
        return None
    prof = np.interp(np.arange(nb), np.flatnonzero(good), prof[good], period=nb)
    smooth = ndimage.uniform_filter1d(prof, 3, mode="wrap")
    med = float(np.median(smooth))
    k = int(np.argmin(smooth))
    if not (med > 0 and smooth[k] < min_depth * med):
        return None
    half = 0.5 * (smooth[k] + med)
    left = right = k
    for _ in range(nb // 4):
        if smooth[(left - 1) % nb] >= half:
            break
        left -= 1
    for _ in range(nb // 4):
        if smooth[(right + 1) % nb] >= half:
            break
        right += 1
    # sub-bin edges: where the profile crosses ``half`` between the last inside bin and the
    # first outside bin (bin centres at i + 0.5)
    lo_out, hi_out = smooth[(left - 1) % nb], smooth[(right + 1) % nb]
    left_edge = left + 0.5 - (half - smooth[left % nb]) / max(lo_out - smooth[left % nb], 1e-9)
    right_edge = right + 0.5 + (half - smooth[right % nb]) / max(hi_out - smooth[right % nb], 1e-9)
    return ((left_edge + right_edge) / 2.0) % 360.0


def missing_blocks(raw: np.ndarray) -> tuple[np.ndarray, int]:
    """Telemetry drop-outs: 32x32 blocks that are (mostly) zero. Returns (mask, block count).

    Isolated zero pixels are not blocks and are left alone. Blocks need not sit on the
    array's 32-pixel grid (a level-0.5 subfield may start at any CCD column): a 32x32 box
    filter on the zero map finds where a box is at least ``BLOCK_MIN_ZERO_FRACTION`` zero,
    and the mask is the zero pixels within such boxes. The count is masked pixels / 1024,
    rounded (adjacent blocks merge into one region, so regions are not counted).
    """
    zero = raw == 0
    nz = int(np.count_nonzero(zero))
    if nz < BLOCK * BLOCK * BLOCK_MIN_ZERO_FRACTION:
        return np.zeros(raw.shape, dtype=bool), 0
    # Fast path: aligned blocks.
    ny, nx = raw.shape
    if ny % BLOCK == 0 and nx % BLOCK == 0:
        frac = zero.reshape(ny // BLOCK, BLOCK, nx // BLOCK, BLOCK).mean(axis=(1, 3))
        full = frac >= BLOCK_MIN_ZERO_FRACTION
        aligned = np.repeat(np.repeat(full, BLOCK, 0), BLOCK, 1) & zero
        if int(aligned.sum()) >= nz - 4 * BLOCK:  # nearly all zeros explained by aligned blocks
            return aligned, int(full.sum())
    frac = ndimage.uniform_filter(zero.astype(np.float32), size=BLOCK, mode="constant")
    centres = frac >= BLOCK_MIN_ZERO_FRACTION
    if not centres.any():
        return np.zeros(raw.shape, dtype=bool), 0
    cover = ndimage.maximum_filter(centres, size=BLOCK, mode="constant")
    mask = cover & zero
    return mask, int(round(mask.sum() / (BLOCK * BLOCK)))
