"""Synthetic background-subtracted frames with known truth, for tests and benchmarks.

Unit-noise Gaussian background, a star field with one common drift, moving PSF-shaped
comets, cosmic-ray hits, a missing 32x32 block, an occulter, and optionally a CME front and
a saturated planet with a bleed column. Not a LASCO simulator (that is ``comet_pipeline.simulator``):
just enough to exercise each rejection rule of the hunter with exact truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from comet_pipeline.hunting.model import HuntFrame


@dataclass(frozen=True)
class SynthComet:
    x0: float  # position at the first frame time, px
    y0: float
    vx: float  # px/hour
    vy: float
    amplitude: float  # peak pixel in units of the pixel noise
    ax: float = 0.0  # px/hour^2
    ay: float = 0.0

    def position(self, hours: float) -> tuple[float, float]:
        return (
            self.x0 + self.vx * hours + 0.5 * self.ax * hours**2,
            self.y0 + self.vy * hours + 0.5 * self.ay * hours**2,
        )


@dataclass(frozen=True)
class SynthConfig:
    size: int = 512
    n_frames: int = 12
    cadence_min: float = 12.0
    jitter_min: float = 1.0
    psf_sigma: float = 1.2
    n_stars: int = 400
    star_drift: tuple[float, float] = (2.5, 0.4)  # px/hour, common to all stars
    comets: tuple[SynthComet, ...] = ()
    cosmic_rays: int = 25  # per frame
    missing_blocks: int = 1  # per frame
    occulter_radius: float = 40.0
    cme: bool = False
    planet: bool = False
    skip_frames: tuple[int, ...] = ()  # frame indexes never delivered (a gap in the cadence)
    seed: int = 0
    start: datetime = field(default_factory=lambda: datetime(2025, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class SynthTruth:
    times: list[datetime]
    comets: list[list[tuple[str, float, float]]]  # per comet: (frame name, x, y)


def _stamp(img: np.ndarray, x: float, y: float, amp: float, sigma: float, r: int = 5) -> None:
    h, w = img.shape
    ix, iy = int(round(x)), int(round(y))
    x0, x1 = max(ix - r, 0), min(ix + r + 1, w)
    y0, y1 = max(iy - r, 0), min(iy + r + 1, h)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1) - x
    ys = np.arange(y0, y1) - y
    g = np.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2) / sigma**2)
    img[y0:y1, x0:x1] += amp * g


def _add_cosmic_rays(img: np.ndarray, rng: np.random.Generator, count: int) -> None:
    n = img.shape[0]
    for _ in range(count):
        x, y = rng.integers(0, n, 2)
        img[y, x] += rng.uniform(6.0, 200.0)
        if rng.uniform() < 0.3:  # a two-pixel hit
            img[y, min(x + 1, n - 1)] += rng.uniform(3.0, 50.0)


def _add_cme_front(img: np.ndarray, radius: float, rr: np.ndarray, ang: np.ndarray) -> None:
    """A bright arc at ``radius`` from the centre (``rr``/``ang``: each pixel's polar coords)."""
    c = (img.shape[0] - 1) / 2.0
    front = np.exp(-0.5 * ((rr - radius) / 6.0) ** 2) * (np.abs(ang - 0.8) < 0.6)
    img += (8.0 * front).astype(np.float32)
    for j in range(6):  # bright knots in the front
        a = 0.3 + 0.2 * j
        _stamp(img, c + radius * np.cos(a), c + radius * np.sin(a), 12.0, 2.5, r=8)


def synth_frames(cfg: SynthConfig) -> tuple[list[HuntFrame], SynthTruth]:
    """Frames (NaN-masked float32, unit noise) and the comets' true positions per frame."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.size
    c = (n - 1) / 2.0
    pad = 200.0
    sx = rng.uniform(-pad, n + pad, cfg.n_stars)
    sy = rng.uniform(-pad, n + pad, cfg.n_stars)
    # Power-law star amplitudes: many faint, few bright.
    samp = 3.0 * (1.0 - rng.uniform(0, 1, cfg.n_stars)) ** (-1.0 / 1.2)
    samp = np.minimum(samp, 400.0)
    yy, xx = np.mgrid[0:n, 0:n]
    rr = np.hypot(xx - c, yy - c)
    occ = rr < cfg.occulter_radius
    frames: list[HuntFrame] = []
    times: list[datetime] = []
    comets: list[list[tuple[str, float, float]]] = [[] for _ in cfg.comets]
    for k in range(cfg.n_frames):
        jitter = rng.uniform(-cfg.jitter_min, cfg.jitter_min) if k else 0.0
        t = cfg.start + timedelta(minutes=k * cfg.cadence_min + jitter)
        hours = (t - cfg.start).total_seconds() / 3600.0
        img = rng.normal(0.0, 1.0, (n, n)).astype(np.float32)
        if k in cfg.skip_frames:
            continue
        name = f"{3000000 + k:08d}.fts"
        dx, dy = cfg.star_drift[0] * hours, cfg.star_drift[1] * hours
        for x, y, a in zip(sx + dx, sy + dy, samp, strict=True):
            if -6 < x < n + 6 and -6 < y < n + 6:
                _stamp(img, x, y, a, cfg.psf_sigma)
        for i, comet in enumerate(cfg.comets):
            x, y = comet.position(hours)
            _stamp(img, x, y, comet.amplitude, cfg.psf_sigma)
            if 0 <= x < n and 0 <= y < n:
                comets[i].append((name, x, y))
        _add_cosmic_rays(img, rng, cfg.cosmic_rays)
        if cfg.cme:
            _add_cme_front(
                img, cfg.occulter_radius + 25.0 * (k + 1), rr, np.arctan2(yy - c, xx - c)
            )
        if cfg.planet:
            px, py = 0.8 * n + 0.3 * k, 0.3 * n
            _stamp(img, px, py, 3000.0, 2.0, r=10)
            img[max(int(py) - 60, 0) : int(py) + 60, int(px) - 1 : int(px) + 2] += 500.0
        img[occ] = np.nan
        for _ in range(cfg.missing_blocks):
            bx, by = rng.integers(0, n // 32, 2) * 32
            img[by : by + 32, bx : bx + 32] = np.nan
        frames.append(HuntFrame(name=name, observed_at=t, image=img, sun_x=c, sun_y=c))
        times.append(t)
    return frames, SynthTruth(times=times, comets=comets)
