"""Known objects: the planets, placed on each frame by the ephemeris and the frame's WCS.

Planets cross the LASCO fields every year and move against the stars (Mercury and Venus
by a degree or two a day near conjunction), so the tracker finds them as it finds comets.
A track that follows a planet's predicted position is labelled ``known: <planet>``: shown,
but neither a new candidate nor spam. A planet bright enough to saturate is no point source
for the detector (its blob is rejected), so it is also looked for where the ephemeris puts
it: seen in enough frames, it becomes a labelled track of its own, measured on the image.
It also bleeds along the CCD rows or columns; sources on those bands (beyond the planet's
core, which is tracked and labelled) are dropped before tracking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from comet_pipeline.hunting.model import HuntFrame
from comet_pipeline.hunting.sources import SourceList
from comet_pipeline.imaging.ephemeris import KnownObject, planets_in_frame

#: Tolerance between a track and a planet's predicted position, in arcsec: level-0.5
#: headers give the Sun centre to a few pixels only.
MATCH_ARCSEC = 300.0
MIN_MATCH_PX = 6.0


@dataclass(frozen=True)
class BleedMask:
    """Half-width (px) of the row/column bands and their half-length, for bright planets."""

    band: float = 4.0
    length: float = 300.0
    core: float = 12.0  # px: the saturated core and its halo (tracked and labelled)
    magnitude: float = 1.0  # planets brighter than this are treated as saturated


def frame_planets(frames: Sequence[HuntFrame]) -> list[list[KnownObject]]:
    """The planets in each frame (empty for a frame without sky geometry)."""
    out: list[list[KnownObject]] = []
    for fr in frames:
        geometry = fr.geometry()
        if geometry is None:
            out.append([])
            continue
        out.append(planets_in_frame(geometry, fr.image.shape, margin=20.0))
    return out


def match_radius(frame: HuntFrame) -> float:
    scale = frame.plate_scale or 0.0
    return max(MIN_MATCH_PX, MATCH_ARCSEC / scale) if scale > 0 else MIN_MATCH_PX


def bleed_masks(
    sources: Sequence[SourceList],
    planets: Sequence[Sequence[KnownObject]],
    bleed: BleedMask = BleedMask(),
) -> list[np.ndarray]:
    """Per frame, True for sources on the bleed bands of a bright planet (beyond its core)."""
    out = []
    for s, known in zip(sources, planets, strict=True):
        mask = np.zeros(len(s), dtype=bool)
        for p in known:
            if p.magnitude >= bleed.magnitude or len(s) == 0:
                continue
            dx, dy = np.abs(s.x - p.x), np.abs(s.y - p.y)
            bands = ((dy <= bleed.band) & (dx <= bleed.length)) | (
                (dx <= bleed.band) & (dy <= bleed.length)
            )
            # the core itself is left to track, so that the planet is labelled, not lost
            mask |= bands & (np.hypot(dx, dy) > bleed.core)
        out.append(mask)
    return out


def known_label(
    frame_indexes: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    planets: Sequence[Sequence[KnownObject]],
    radius: float,
) -> str | None:
    """``known: <planet>`` when the track's median distance to one planet is within radius."""
    distances: dict[str, list[float]] = {}
    for k, xx, yy in zip(frame_indexes, x, y, strict=True):
        for p in planets[int(k)]:
            distances.setdefault(p.name, []).append(float(np.hypot(xx - p.x, yy - p.y)))
    best = None
    for name, d in distances.items():
        median = float(np.median(d))
        enough = len(d) >= max(2, len(frame_indexes) // 2)
        if enough and median <= radius and (best is None or median < best[1]):
            best = (name, median)
    return f"known: {best[0]}" if best else None


@dataclass(frozen=True)
class PlanetSighting:
    frame: int  # index into the hunted window
    x: float
    y: float
    snr: float


def _noise(image: np.ndarray) -> tuple[float, float]:
    """Robust (median, sigma) of a frame from a sparse sample of its valid pixels."""
    sample = image[::8, ::8]
    sample = sample[np.isfinite(sample)]
    if sample.size < 16:
        return 0.0, 1.0
    med = float(np.median(sample))
    sigma = 1.4826 * float(np.median(np.abs(sample - med)))
    return med, sigma if sigma > 0 else 1.0


def planet_sightings(
    frames: Sequence[HuntFrame],
    planets: Sequence[Sequence[KnownObject]],
    *,
    radius: float,
    min_snr: float,
) -> dict[str, list[PlanetSighting]]:
    """Per planet, the frames where the image peaks above ``min_snr`` near its position.

    The measurement is the centroid of the upper half of the brightest pixels within
    ``radius`` of the predicted position (good to a pixel or so: all a label needs).
    """
    out: dict[str, list[PlanetSighting]] = {}
    r = int(np.ceil(radius))
    for k, (fr, known) in enumerate(zip(frames, planets, strict=True)):
        if not known:
            continue
        img = fr.image
        h, w = img.shape
        med, sigma = _noise(img)
        for p in known:
            cx, cy = int(round(p.x)), int(round(p.y))
            y0, y1, x0, x1 = max(cy - r, 0), min(cy + r + 1, h), max(cx - r, 0), min(cx + r + 1, w)
            if y0 >= y1 or x0 >= x1:
                continue
            patch = img[y0:y1, x0:x1]
            if not np.isfinite(patch).any():
                continue
            peak = float(np.nanmax(patch))
            snr = (peak - med) / sigma
            if snr < min_snr:
                continue
            # centroid of the upper half: a saturated core is flat, its first maximum is not
            # its centre
            weight = np.where(np.isfinite(patch), patch - med, 0.0)
            weight = np.where(weight >= 0.5 * (peak - med), weight, 0.0)
            yy, xx = np.mgrid[y0:y1, x0:x1]
            total = float(weight.sum())
            x, y = float((weight * xx).sum()) / total, float((weight * yy).sum()) / total
            out.setdefault(p.name, []).append(PlanetSighting(k, x, y, snr))
    return out
