"""The common star drift of one detector: predicted from the ephemeris, refined by the data.

Every star moves with the Sun's apparent motion (one velocity for the whole field), which
follows from the observation time, plate scale and roll
(:func:`comet_pipeline.imaging.ephemeris.star_drift`). That prediction is the answer; the
sources only refine it: the displacement vectors between sources of consecutive frames are
voted on in velocity space, and only the votes within a small window around the prediction
may move it. A vote over the whole velocity plane is also taken (without the zero-velocity
mode, which the rings, knots and hot pixels that stand still win in a sparse field) to say
when the data disagree; then the prediction is kept and the disagreement reported.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.spatial import cKDTree

from comet_pipeline.hunting.sources import SourceList
from comet_pipeline.imaging.ephemeris import FrameGeometry, star_drift


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


def vote_mode(
    rates: np.ndarray, *, max_rate: float, bin_size: float, exclude_below: float = 0.0
) -> tuple[float, float] | None:
    """The densest mode of (vx, vy) votes (px/h), ignoring speeds below ``exclude_below``.

    The mode of a 2-D histogram (3x3 box-summed, so a mode split over two bins still wins),
    refined by the median of the votes near it, twice. None with fewer than 10 votes.
    """
    if exclude_below > 0 and len(rates):
        rates = rates[np.hypot(rates[:, 0], rates[:, 1]) >= exclude_below]
    if len(rates) < 10:
        return None
    edges = np.arange(-max_rate, max_rate + bin_size, bin_size)
    hist, ex, ey = np.histogram2d(rates[:, 0], rates[:, 1], bins=(edges, edges))
    padded = np.pad(hist, 1)
    smooth = np.zeros_like(hist)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            smooth += padded[1 + dx : padded.shape[0] - 1 + dx, 1 + dy : padded.shape[1] - 1 + dy]
    ix, iy = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    centre = np.array([(ex[ix] + ex[ix + 1]) / 2, (ey[iy] + ey[iy + 1]) / 2])
    for radius in (2.0 * bin_size, 1.2 * bin_size):
        near = np.hypot(*(rates - centre).T) <= radius
        if near.sum() < 3:
            break
        centre = np.median(rates[near], axis=0)
    return (float(centre[0]), float(centre[1]))


@dataclass(frozen=True)
class DriftEstimate:
    """The star drift a window used, and where it came from (for the asset metadata).

    ``source``: ``ephemeris`` (prediction kept), ``ephemeris+vote`` (refined by the votes
    near it), ``vote`` (no geometry to predict from: the data's mode, zero excluded) or
    ``none`` (neither). ``disagreed``: the data's own mode was farther from the prediction
    than the tolerance (the prediction was kept).
    """

    vx: float
    vy: float
    source: str
    predicted: tuple[float, float] | None = None
    vote: tuple[float, float] | None = None
    votes: int = 0
    disagreed: bool = False

    @property
    def velocity(self) -> tuple[float, float]:
        return (self.vx, self.vy)

    @property
    def disagreement(self) -> float:
        """|vote - prediction| in px/h (0 when either is missing)."""
        if self.predicted is None or self.vote is None:
            return 0.0
        return float(np.hypot(self.vote[0] - self.predicted[0], self.vote[1] - self.predicted[1]))


def estimate_drift(
    sources_by_frame: Sequence[SourceList],
    times: Sequence[datetime],
    *,
    geometry: FrameGeometry | None = None,
    max_rate: float = 25.0,
    tolerance: float = 1.0,
    zero_exclusion: float = 1.0,
    top: int = 400,
    names: Sequence[str] | None = None,
    pair_cache: MutableMapping[tuple[str, str], np.ndarray] | None = None,
) -> DriftEstimate:
    """Star drift (vx, vy) in px/hour for a window of frames of one detector.

    ``geometry`` (of a frame in the middle of the window) gives the ephemeris prediction;
    the votes within ``tolerance`` px/h of it refine it (their median, at most
    ``tolerance / 2`` away). ``max_rate`` bounds the whole-plane vote and ``zero_exclusion``
    (px/h) removes the sources that stand still from it.
    """
    hours = hours_since(times)
    rates = displacement_rates(
        sources_by_frame, hours, max_rate=max_rate, top=top, names=names, pair_cache=pair_cache
    )
    vote = vote_mode(
        rates, max_rate=max_rate, bin_size=tolerance / 2.0, exclude_below=zero_exclusion
    )
    if geometry is None:
        if vote is None:
            return DriftEstimate(float("nan"), float("nan"), "none", votes=len(rates))
        return DriftEstimate(vote[0], vote[1], "vote", vote=vote, votes=len(rates))
    pred = np.array(star_drift(geometry))
    predicted = (float(pred[0]), float(pred[1]))
    disagreed = vote is not None and float(np.hypot(*(np.array(vote) - pred))) > tolerance
    near = rates[np.hypot(*(rates - pred).T) <= tolerance] if len(rates) else rates
    if len(near) >= 10:
        shift = np.median(near, axis=0) - pred
        norm = float(np.hypot(*shift))
        if norm > tolerance / 2.0:
            shift *= tolerance / 2.0 / norm
        used = pred + shift
        return DriftEstimate(
            float(used[0]), float(used[1]), "ephemeris+vote", predicted, vote, len(near), disagreed
        )
    return DriftEstimate(
        predicted[0], predicted[1], "ephemeris", predicted, vote, len(near), disagreed
    )
