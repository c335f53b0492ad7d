"""The common star drift of one detector, measured from the sources themselves.

Every star moves with the Sun's apparent motion (one velocity for the whole field), so among
all displacement vectors between sources of consecutive frames the star drift is by far the
most common one: a vote in velocity space finds it without knowing any star.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from datetime import datetime

import numpy as np
from scipy.spatial import cKDTree

from comet_pipeline.hunting.sources import SourceList


def hours_since(times: Sequence[datetime], t0: datetime | None = None) -> np.ndarray:
    t0 = times[0] if t0 is None else t0
    return np.array([(t - t0).total_seconds() / 3600.0 for t in times])


def pair_rates(a: SourceList, b: SourceList, dt: float, *, max_rate: float, top: int) -> np.ndarray:
    """(vx, vy) px/hour of every pair (source of a -> source of b) within ``max_rate * dt``."""
    if not dt > 0 or len(a) == 0 or len(b) == 0:
        return np.zeros((0, 2))
    pa, pb = _brightest(a, top), _brightest(b, top)
    lists = cKDTree(pb).query_ball_point(pa, max_rate * dt)
    counts = np.fromiter((len(x) for x in lists), dtype=int, count=len(lists))
    if counts.sum() == 0:
        return np.zeros((0, 2))
    ia = np.repeat(np.arange(len(pa)), counts)
    ib = np.fromiter((j for x in lists for j in x), dtype=int, count=int(counts.sum()))
    return (pb[ib] - pa[ia]) / dt


def displacement_rates(
    sources_by_frame: Sequence[SourceList],
    hours: np.ndarray,
    *,
    max_rate: float,
    max_gap_hours: float = 0.75,
    top: int = 400,
    names: Sequence[str] | None = None,
    pair_cache: MutableMapping[tuple[str, str], np.ndarray] | None = None,
) -> np.ndarray:
    """All (vx, vy) px/hour between sources of consecutive frames within ``max_rate * dt``.

    With frame ``names``, ``pair_cache`` keeps each consecutive pair's rates so overlapping
    windows do not redo them.
    """
    rates: list[np.ndarray] = []
    for i in range(len(sources_by_frame) - 1):
        a, b = sources_by_frame[i], sources_by_frame[i + 1]
        dt = float(hours[i + 1] - hours[i])
        if not 0 < dt <= max_gap_hours:
            continue
        key = (names[i], names[i + 1]) if names is not None else None
        r = pair_cache.get(key) if pair_cache is not None and key else None
        if r is None:
            r = pair_rates(a, b, dt, max_rate=max_rate, top=top)
            if pair_cache is not None and key:
                pair_cache[key] = r
        rates.append(r)
    return np.vstack(rates) if rates else np.zeros((0, 2))


def _brightest(s: SourceList, top: int) -> np.ndarray:
    if len(s) <= top:
        return s.xy
    idx = np.argpartition(-s.snr, top)[:top]
    return s.xy[idx]


def estimate_drift(
    sources_by_frame: Sequence[SourceList],
    times: Sequence[datetime],
    *,
    max_rate: float = 25.0,
    bin_size: float = 0.5,
    top: int = 400,
    names: Sequence[str] | None = None,
    pair_cache: MutableMapping[tuple[str, str], np.ndarray] | None = None,
) -> tuple[float, float]:
    """Star drift (vx, vy) in px/hour, the dominant mode of frame-to-frame displacements.

    ``max_rate`` bounds the search (px/hour; C2 stars move ~12.5 px/h, C3 ~2.5 px/h). The
    mode of a 2-D histogram is refined by the median of the votes near it, twice.
    Returns (nan, nan) if there are too few pairs to vote.
    """
    hours = hours_since(times)
    rates = displacement_rates(
        sources_by_frame, hours, max_rate=max_rate, top=top, names=names, pair_cache=pair_cache
    )
    if len(rates) < 10:
        return (float("nan"), float("nan"))
    edges = np.arange(-max_rate, max_rate + bin_size, bin_size)
    hist, ex, ey = np.histogram2d(rates[:, 0], rates[:, 1], bins=(edges, edges))
    # 3x3 box-sum so a mode split over two bins still wins.
    padded = np.pad(hist, 1)
    smooth = sum(
        padded[1 + dx : padded.shape[0] - 1 + dx, 1 + dy : padded.shape[1] - 1 + dy]
        for dx in (-1, 0, 1)
        for dy in (-1, 0, 1)
    )
    ix, iy = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    centre = np.array([(ex[ix] + ex[ix + 1]) / 2, (ey[iy] + ey[iy + 1]) / 2])
    for radius in (2.0 * bin_size, 1.2 * bin_size):
        near = np.hypot(*(rates - centre).T) <= radius
        if near.sum() < 3:
            break
        centre = np.median(rates[near], axis=0)
    return (float(centre[0]), float(centre[1]))
