"""Known objects: the planets, placed on each frame by the ephemeris and the frame's WCS.

Planets cross the LASCO fields every year and move against the stars (Mercury and Venus
by a degree or two a day near conjunction), so the tracker finds them as it finds comets.
A track that follows a planet's predicted position is labelled ``known: <planet>``: shown,
but neither a new candidate nor spam. A bright planet saturates and bleeds along the CCD
rows or columns; sources on those bands are dropped before tracking.
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
    core: float = 12.0  # px: the saturated core and its halo
    magnitude: float = 1.0  # planets brighter than this are treated as saturated


def frame_planets(frames: Sequence[HuntFrame]) -> list[list[KnownObject]]:
    """The planets in each frame (empty for a frame without sky geometry)."""
    out = []
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
    """Per frame, True for sources on the core or the bleed bands of a bright planet."""
    out = []
    for s, known in zip(sources, planets, strict=True):
        mask = np.zeros(len(s), dtype=bool)
        for p in known:
            if p.magnitude >= bleed.magnitude or len(s) == 0:
                continue
            dx, dy = np.abs(s.x - p.x), np.abs(s.y - p.y)
            mask |= np.hypot(dx, dy) <= bleed.core
            mask |= (dy <= bleed.band) & (dx <= bleed.length)
            mask |= (dx <= bleed.band) & (dy <= bleed.length)
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
        if len(d) >= max(2, len(frame_indexes) // 2) and np.median(d) <= radius:
            if best is None or np.median(d) < best[1]:
                best = (name, float(np.median(d)))
    return f"known: {best[0]}" if best else None
