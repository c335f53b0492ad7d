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
    if not velocities:
        return [np.zeros(len(s), dtype=bool) for s in sources]
    trees = [cKDTree(s.xy) if len(s) else None for s in sources]
    out = []
    for i, s in enumerate(sources):
        n = len(s)
        flagged = np.zeros(n, dtype=bool)
        neigh = [
            j for j in range(len(sources)) if j != i and abs(hours[j] - hours[i]) <= window_hours
        ]
        need = max(1, int(np.ceil(min_fraction * len(neigh))))
        if n == 0:
            out.append(flagged)
            continue
        for v in velocities:
            counts = np.zeros(n, dtype=int)
            for j in neigh:
                if trees[j] is None:
                    continue
                dt = hours[j] - hours[i]
                d, _ = trees[j].query(s.xy + v * dt, distance_upper_bound=radius)
                counts += np.isfinite(d)
            flagged |= counts >= need
        out.append(flagged)
    return out


def link_tracks(
    sources: Sequence[SourceList],
    hours: np.ndarray,
    drift: tuple[float, float],
    params: DetectorParams,
    config: HuntConfig,
) -> list[Track]:
    """Tracks of at least ``config.min_frames`` detections among the non-star sources."""
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
    linker = _Linker(movers, hours, drift, params, config)
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
    ) -> None:
        self.m = movers
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
            for j in range(i + 1, min(i + 2 + self.c.max_miss, n)):
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
        si, sj = self.m[i], self.m[j]
        dt = float(self.h[j] - self.h[i])
        if len(si) == 0 or len(sj) == 0 or not 0 < dt <= self.c.max_gap_hours:
            return []
        ok_a = np.nonzero((si.snr >= self.c.seed_snr) & ~self.used[i])[0]
        if ok_a.size == 0:
            return []
        lists = self.trees[j].query_ball_point(si.xy[ok_a], self.p.max_speed * dt)
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
            if self.trees[k] is None:
                continue
            pred = sj.xy[ib] + v * dtk
            d, _ = self.trees[k].query(pred, distance_upper_bound=self.p.link_radius)
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
            px, py = self._predict(pts, self.h[k], forward=forward)
            hit = None
            if self.trees[k] is not None:
                d, b = self.trees[k].query([px, py], distance_upper_bound=self.p.link_radius)
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
    ) -> tuple[float, float]:
        """Linear least-squares extrapolation from the (up to) 6 nearest points."""
        near = pts[-6:] if forward else pts[:6]
        tt = np.array([self.h[k] for k, _ in near])
        xx = np.array([self.m[k].x[i] for k, i in near])
        yy = np.array([self.m[k].y[i] for k, i in near])
        tm = tt.mean()
        dtt = tt - tm
        var = float(np.dot(dtt, dtt))
        vx = float(np.dot(dtt, xx - xx.mean())) / var if var > 0 else 0.0
        vy = float(np.dot(dtt, yy - yy.mean())) / var if var > 0 else 0.0
        return float(xx.mean() + vx * (t - tm)), float(yy.mean() + vy * (t - tm))


def stitch_tracks(
    tracks: Sequence[Track],
    *,
    max_gap_hours: float,
    radius: float,
    radius_per_hour: float = 1.0,
    max_rms: float | None = None,
) -> list[Track]:
    """Join track pieces of one object broken by a crowded passage or a data gap.

    Piece B continues piece A when B starts after A ends (within ``max_gap_hours``) and A's
    linear motion, extrapolated, lands within ``radius + radius_per_hour * gap`` of B's first
    points (and B's of A's last). Joined tracks are refitted; a join whose rms exceeds
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
                if _continues(a, b, radius, radius_per_hour):
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


def _continues(a: Track, b: Track, radius: float, per_hour: float) -> bool:
    fa = fit_track(a.t[-6:], a.x[-6:], a.y[-6:], quadratic=False)
    fb = fit_track(b.t[:6], b.x[:6], b.y[:6], quadratic=False)
    gap = float(b.t[0] - a.t[-1])
    tol = radius + per_hour * gap
    xa, ya = fa.position(b.t[:3])
    xb, yb = fb.position(a.t[-3:])
    ok_fwd = np.all(np.hypot(xa - b.x[:3], ya - b.y[:3]) <= tol)
    ok_bwd = np.all(np.hypot(xb - a.x[-3:], yb - a.y[-3:]) <= tol)
    return bool(ok_fwd and ok_bwd)


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
