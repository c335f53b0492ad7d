"""Star rejection and linking of moving sources into near-constant-velocity tracks.

Stars are removed first, cheaply: a source that reappears at ``position + drift * dt`` in
several neighbouring frames moves with the sky. What is left (comets, noise peaks, leftover
cosmic rays) is linked by seeding pairs of consecutive frames whose implied speed is
plausible, then growing each seed forward and backward along its fitted line, one frame at a
time, tolerating a missed detection. Random pairs almost never find a third point on their
line, so faint comets survive a low per-frame threshold while noise does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from comet_pipeline.hunting.config import DetectorParams, HuntConfig
from comet_pipeline.hunting.sources import SourceList


@dataclass(frozen=True)
class TrackFit:
    """Quadratic (or linear) fit x(t), y(t) about ``t_ref`` (hours)."""

    t_ref: float
    cx: np.ndarray  # polynomial coefficients, highest power first (np.polyval order)
    cy: np.ndarray
    rms: float  # px, rms of the 2-D residuals

    def position(self, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        dt = np.asarray(t, dtype=float) - self.t_ref
        return np.polyval(self.cx, dt), np.polyval(self.cy, dt)

    def velocity(self, t: float | None = None) -> tuple[float, float]:
        dt = 0.0 if t is None else t - self.t_ref
        return (
            float(np.polyval(np.polyder(self.cx), dt)),
            float(np.polyval(np.polyder(self.cy), dt)),
        )

    @property
    def acceleration(self) -> tuple[float, float]:
        ax = 2.0 * self.cx[0] if self.cx.size == 3 else 0.0
        ay = 2.0 * self.cy[0] if self.cy.size == 3 else 0.0
        return float(ax), float(ay)


def fit_track(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, quadratic: bool = True) -> TrackFit:
    """Least-squares polynomial in time; quadratic only when there are points to spare."""
    t = np.asarray(t, dtype=float)
    t_ref = float(t.mean())
    deg = 2 if (quadratic and t.size >= 5) else 1
    deg = min(deg, t.size - 1)
    cx = np.polyfit(t - t_ref, x, deg)
    cy = np.polyfit(t - t_ref, y, deg)
    rx = x - np.polyval(cx, t - t_ref)
    ry = y - np.polyval(cy, t - t_ref)
    dof = max(t.size - (deg + 1), 1)
    rms = float(np.sqrt((np.sum(rx**2) + np.sum(ry**2)) / dof / 2.0))
    return TrackFit(t_ref, cx, cy, rms)


@dataclass(frozen=True)
class Track:
    """Detections of one moving source: frame indexes into the hunted window, in time order."""

    frames: np.ndarray
    sources: np.ndarray
    t: np.ndarray  # hours since the window's first frame
    x: np.ndarray
    y: np.ndarray
    snr: np.ndarray
    flux: np.ndarray
    fit: TrackFit

    def __len__(self) -> int:
        return int(self.frames.size)


def star_masks(
    sources: Sequence[SourceList],
    hours: np.ndarray,
    drift: tuple[float, float],
    *,
    radius: float,
    window_hours: float,
    min_fraction: float = 0.34,
    include_static: bool = True,
    known: Sequence[np.ndarray | None] | None = None,
) -> list[np.ndarray]:
    """Per frame, True for sources that follow the star drift (or, optionally, stand still).

    A source is a star when, in at least ``min_fraction`` of the frames within
    ``window_hours`` (and at least one), another source sits within ``radius`` px of where
    the drift would carry it. Sun-fixed residuals of the background subtraction (streamer
    edges, rings, the occulter's diffraction) are the same test with zero velocity. A comet
    moving differently matches at most its immediate neighbours (slow C3 comets) or none.
    """
    velocities = []
    if np.all(np.isfinite(drift)):
        velocities.append(np.asarray(drift, dtype=float))
    if include_static:
        velocities.append(np.zeros(2))
    out: list[np.ndarray] = []
    trees: dict[int, cKDTree | None] = {}

    def tree(j: int) -> cKDTree | None:
        if j not in trees:
            trees[j] = cKDTree(sources[j].xy) if len(sources[j]) else None
        return trees[j]

    for i, s in enumerate(sources):
        if known is not None and (cached := known[i]) is not None:
            out.append(cached)
            continue
        n = len(s)
        flagged = np.zeros(n, dtype=bool)
        neigh = [
            j for j in range(len(sources)) if j != i and abs(hours[j] - hours[i]) <= window_hours
        ]
        need = max(1, int(np.ceil(min_fraction * len(neigh))))
        if n == 0 or not velocities:
            out.append(flagged)
            continue
        xy = s.xy
        for v in velocities:
            # only the sources no earlier velocity flagged: the same answer, fewer queries
            todo = np.nonzero(~flagged)[0]
            if todo.size == 0:
                break
            counts = np.zeros(todo.size, dtype=int)
            for j in neigh:
                tj = tree(j)
                if tj is None:
                    continue
                dt = hours[j] - hours[i]
                d, _ = tj.query(xy[todo] + v * dt, distance_upper_bound=radius)
                counts += np.isfinite(d)
            flagged[todo[counts >= need]] = True
        out.append(flagged)
    return out


def link_tracks(
    sources: Sequence[SourceList],
    hours: np.ndarray,
    drift: tuple[float, float],
    params: DetectorParams,
    config: HuntConfig,
    *,
    stars: Sequence[np.ndarray] | None = None,
    no_seed: Sequence[bool] | None = None,
) -> list[Track]:
    """Tracks of at least ``config.min_frames`` detections among the non-star sources.

    ``stars``: precomputed :func:`star_masks` (else computed here). ``no_seed``: frames that
    may extend a track but not start one (storm frames).
    """
    if stars is None:
        stars = star_masks(
            sources,
            hours,
            drift,
            radius=config.star_radius,
            window_hours=config.star_window_hours,
        )
    movers = [s.subset(~m) for s, m in zip(sources, stars, strict=True)]
    # map back to the original source index so callers can look anything up
    orig_index = [np.nonzero(~m)[0] for m in stars]
    linker = _Linker(movers, hours, drift, params, config, no_seed=no_seed)
    tracks = []
    for raw in linker.run():
        frames = np.array([k for k, _ in raw])
        idx = np.array([i for _, i in raw])
        xs = np.array([movers[k].x[i] for k, i in raw])
        ys = np.array([movers[k].y[i] for k, i in raw])
        snr = np.array([movers[k].snr[i] for k, i in raw])
        flux = np.array([movers[k].flux[i] for k, i in raw])
        t = hours[frames]
        fit = fit_track(t, xs, ys)
        src = np.array([orig_index[k][i] for k, i in zip(frames, idx, strict=True)])
        tracks.append(Track(frames, src, t, xs, ys, snr, flux, fit))
    return tracks


class _Linker:
    def __init__(
        self,
        movers: Sequence[SourceList],
        hours: np.ndarray,
        drift: tuple[float, float],
        params: DetectorParams,
        config: HuntConfig,
        *,
        no_seed: Sequence[bool] | None = None,
    ) -> None:
        self.m = movers
        self.no_seed = list(no_seed) if no_seed is not None else [False] * len(movers)
        self.h = hours
        self.p = params
        self.c = config
        self.drift = np.array(drift if np.all(np.isfinite(drift)) else (np.inf, np.inf))
        self.trees = [cKDTree(s.xy) if len(s) else None for s in movers]
        self.used = [np.zeros(len(s), dtype=bool) for s in movers]

    def run(self) -> list[list[tuple[int, int]]]:
        found: list[list[tuple[int, int]]] = []
        n = len(self.m)
        for i in range(n):
            if self.no_seed[i]:
                continue
            for j in range(i + 1, min(i + 2 + self.c.max_miss, n)):
                if self.no_seed[j]:
                    continue
                for a, b in self._seeds(i, j):
                    if self.used[i][a] or self.used[j][b]:
                        continue
                    track = self._grow([(i, a), (j, b)])
                    if track is not None:
                        found.append(track)
                        for k, idx in track:
                            self.used[k][idx] = True
        return found

    def _seeds(self, i: int, j: int) -> list[tuple[int, int]]:
        """Pairs (a in frame i, b in frame j) with a plausible speed AND a third point.

        Vectorised: all pairs within ``max_speed * dt`` are formed at once, filtered by speed,
        motion relative to the stars and seed SNR, then extrapolated to the next frames;
        only pairs that land on a source there reach the (Python) track growing.
        """
        si, sj, tree_j = self.m[i], self.m[j], self.trees[j]
        dt = float(self.h[j] - self.h[i])
        # tree_j is None exactly when sj is empty
        if len(si) == 0 or tree_j is None or not 0 < dt <= self.c.max_gap_hours:
            return []
        ok_a = np.nonzero((si.snr >= self.c.seed_snr) & ~self.used[i])[0]
        if ok_a.size == 0:
            return []
        lists = tree_j.query_ball_point(si.xy[ok_a], self.p.max_speed * dt)
        counts = np.fromiter((len(x) for x in lists), dtype=int, count=len(lists))
        if counts.sum() == 0:
            return []
        ia = np.repeat(ok_a, counts)
        ib = np.fromiter((b for x in lists for b in x), dtype=int, count=int(counts.sum()))
        keep = (sj.snr[ib] >= self.c.seed_snr) & ~self.used[j][ib]
        ia, ib = ia[keep], ib[keep]
        v = (sj.xy[ib] - si.xy[ia]) / dt
        speed = np.hypot(v[:, 0], v[:, 1])
        rel = np.hypot(v[:, 0] - self.drift[0], v[:, 1] - self.drift[1])
        keep = (speed >= self.p.min_speed) & (speed <= self.p.max_speed)
        keep &= ~(rel < self.p.min_rel_speed)
        ia, ib, v = ia[keep], ib[keep], v[keep]
        if ia.size == 0:
            return []
        third = np.zeros(ia.size, dtype=bool)
        n = len(self.m)
        for k in range(j + 1, min(j + 2 + self.c.max_miss, n)):
            dtk = float(self.h[k] - self.h[j])
            if dtk > self.c.max_gap_hours:
                break
            tree_k = self.trees[k]
            if tree_k is None:
                continue
            pred = sj.xy[ib] + v * dtk
            d, _ = tree_k.query(pred, distance_upper_bound=self.p.link_radius)
            third |= np.isfinite(d)
        ia, ib = ia[third], ib[third]
        order = np.argsort(-(si.snr[ia] + sj.snr[ib]))
        return [(int(ia[o]), int(ib[o])) for o in order]

    def _grow(self, seed: list[tuple[int, int]]) -> list[tuple[int, int]] | None:
        pts = list(seed)
        pts = self._extend(pts, forward=True)
        pts = self._extend(pts, forward=False)
        if len(pts) < self.c.min_frames:
            return None
        return sorted(pts)

    def _extend(self, pts: list[tuple[int, int]], *, forward: bool) -> list[tuple[int, int]]:
        n = len(self.m)
        step = 1 if forward else -1
        k = (pts[-1][0] if forward else pts[0][0]) + step
        misses = 0
        taken = {kk for kk, _ in pts}
        while 0 <= k < n:
            edge = pts[-1][0] if forward else pts[0][0]
            if abs(self.h[k] - self.h[edge]) > self.c.max_gap_hours:
                break
            if k in taken:
                k += step
                continue
            px, py, speed = self._predict(pts, self.h[k], forward=forward)
            hit = None
            tree_k = self.trees[k]
            if tree_k is not None:
                # a little slack for acceleration, growing with the extrapolation time
                reach = self.p.link_radius + 0.05 * speed * abs(self.h[k] - self.h[edge])
                d, b = tree_k.query([px, py], distance_upper_bound=reach)
                if np.isfinite(d) and not self.used[k][b]:
                    hit = int(b)
            if hit is None:
                misses += 1
                if misses > self.c.max_miss:
                    break
            else:
                misses = 0
                if forward:
                    pts.append((k, hit))
                else:
                    pts.insert(0, (k, hit))
            k += step
        return pts

    def _predict(
        self, pts: list[tuple[int, int]], t: float, *, forward: bool
    ) -> tuple[float, float, float]:
        """(x, y, speed): line through the 4 points nearest in time, evaluated at ``t``.

        Few points, because comets accelerate: a long baseline predicts the mean velocity.
        """
        near = pts[-4:] if forward else pts[:4]
        tt = np.array([self.h[k] for k, _ in near])
        xx = np.array([self.m[k].x[i] for k, i in near])
        yy = np.array([self.m[k].y[i] for k, i in near])
        tm = tt.mean()
        dtt = tt - tm
        var = float(np.dot(dtt, dtt))
        vx = float(np.dot(dtt, xx - xx.mean())) / var if var > 0 else 0.0
        vy = float(np.dot(dtt, yy - yy.mean())) / var if var > 0 else 0.0
        x = float(xx.mean() + vx * (t - tm))
        y = float(yy.mean() + vy * (t - tm))
        return x, y, float(np.hypot(vx, vy))


def stitch_tracks(
    tracks: Sequence[Track],
    *,
    max_gap_hours: float,
    radius: float,
    max_rms: float | None = None,
) -> list[Track]:
    """Join track pieces of one object broken by a crowded passage or a data gap.

    Piece B continues piece A when B starts after A ends (within ``max_gap_hours``) and
    :func:`path_continues` agrees. Joined tracks are refitted; a join whose rms exceeds
    ``max_rms`` is refused.
    """
    pieces = sorted(tracks, key=lambda tr: float(tr.t[0]))
    merged = True
    while merged:
        merged = False
        for ia, a in enumerate(pieces):
            for ib, b in enumerate(pieces):
                if ia == ib or b.t[0] <= a.t[-1] or b.t[0] - a.t[-1] > max_gap_hours:
                    continue
                if path_continues(a.t, a.x, a.y, b.t, b.x, b.y, radius=radius):
                    joined = _join(a, b)
                    if max_rms is not None and joined.fit.rms > max_rms:
                        continue
                    pieces = [p for k, p in enumerate(pieces) if k not in (ia, ib)] + [joined]
                    pieces.sort(key=lambda tr: float(tr.t[0]))
                    merged = True
                    break
            if merged:
                break
    return pieces


def _end_motion(t: np.ndarray, x: np.ndarray, y: np.ndarray, n: int) -> tuple[float, ...]:
    """(t, x, y, vx, vy) at the last of the given points, from a line through up to ``n`` of them.

    Only the last few points: comets accelerate toward the Sun, and a line through a long
    track gives its mean velocity, which lags behind the current one.
    """
    t, x, y = t[-n:], x[-n:], y[-n:]
    if t.size < 2:
        return float(t[-1]), float(x[-1]), float(y[-1]), 0.0, 0.0
    fit = fit_track(t, x, y, quadratic=False)
    xe, ye = fit.position(t[-1])
    vx, vy = fit.velocity()
    return float(t[-1]), float(xe), float(ye), vx, vy


def path_continues(
    ta: np.ndarray,
    xa: np.ndarray,
    ya: np.ndarray,
    tb: np.ndarray,
    xb: np.ndarray,
    yb: np.ndarray,
    *,
    radius: float,
    rel_tol: float = 0.15,
    n_fit: int = 4,
) -> bool:
    """Does track B (starting later) continue track A? Both directions must agree.

    A's motion at its end, extrapolated to B's first points, must land within
    ``radius + rel_tol * speed * time`` of them (and B's start, extrapolated back, on A's
    last points); the two velocities must agree within ``2 * rel_tol`` of the speed + 3 px/h.
    """
    t1, x1, y1, vx1, vy1 = _end_motion(ta, xa, ya, n_fit)
    t2, x2, y2, vx2, vy2 = _end_motion(tb[::-1], xb[::-1], yb[::-1], n_fit)
    speed = max(float(np.hypot(vx1, vy1)), float(np.hypot(vx2, vy2)))
    if np.hypot(vx1 - vx2, vy1 - vy2) > 2 * rel_tol * speed + 3.0:
        return False
    k = min(3, tb.size)
    dtb = tb[:k] - t1
    err_b = np.hypot(x1 + vx1 * dtb - xb[:k], y1 + vy1 * dtb - yb[:k])
    if np.any(err_b > radius + rel_tol * speed * np.abs(dtb)):
        return False
    k = min(3, ta.size)
    dta = ta[-k:] - t2
    err_a = np.hypot(x2 + vx2 * dta - xa[-k:], y2 + vy2 * dta - ya[-k:])
    return bool(np.all(err_a <= radius + rel_tol * speed * np.abs(dta)))


def _join(a: Track, b: Track) -> Track:
    cat = {f: np.concatenate([getattr(a, f), getattr(b, f)]) for f in ("frames", "sources", "t")}
    x = np.concatenate([a.x, b.x])
    y = np.concatenate([a.y, b.y])
    return Track(
        cat["frames"],
        cat["sources"],
        cat["t"],
        x,
        y,
        np.concatenate([a.snr, b.snr]),
        np.concatenate([a.flux, b.flux]),
        fit_track(cat["t"], x, y),
    )
