"""Score a track: is it a real, plausible sungrazer rather than noise that lined up?

Four things a hunter weighs, each a factor: combined signal-to-noise (grows with frames and
brightness), how well a gently accelerating line fits the positions, how many frames it
spans, and whether the motion looks like a known sungrazer family in this camera (inward
toward the Sun, at a typical speed, and along the Kreutz corridor of the day: where the
family's orbit, seen from SOHO at the track's time, crosses the field). The product ranks
candidates; ``HuntConfig.min_score`` decides what is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.hunting.config import DetectorParams
from comet_pipeline.hunting.tracking import fit_track
from comet_pipeline.imaging.ephemeris import FrameGeometry
from comet_pipeline.imaging.families import nearest_on_corridor
from comet_pipeline.imaging.geometry import R_SUN_ARCSEC


@dataclass(frozen=True)
class TrackFeatures:
    n: int
    snr: float  # combined matched-filter SNR, sqrt(sum snr^2), each frame capped (see below)
    snr_median: float
    rms: float  # px, quadratic-fit residual
    vx: float  # px/h at the middle of the track
    vy: float
    speed: float
    direction: float  # degrees CCW from +x (FITS array frame)
    inward: float  # cos(angle between motion and direction to the Sun)
    corridor: float  # 0..1, how well the track follows the Kreutz corridor (0: unknown)
    accel: float  # px/h^2


def track_features(
    t: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    snr: np.ndarray,
    sun: tuple[float, float],
    *,
    geometry: FrameGeometry | None = None,
    detector: str | None = None,
) -> TrackFeatures:
    """The track's features; ``geometry`` (of the middle frame) and ``detector`` give the
    corridor term, without them it is 0."""
    fit = fit_track(t, x, y)
    tm = float(np.median(t))
    vx, vy = fit.velocity(tm)
    xm, ym = (float(v) for v in fit.position(tm))
    speed = float(np.hypot(vx, vy))
    to_sun = np.array([sun[0] - xm, sun[1] - ym])
    dist = float(np.hypot(*to_sun))
    inward = float((vx * to_sun[0] + vy * to_sun[1]) / (speed * dist)) if speed and dist else 0.0
    ax, ay = fit.acceleration
    corridor = 0.0
    if geometry is not None and detector is not None:
        corridor = corridor_match(geometry, Detector(detector.lower()), xm, ym, vx, vy)
    return TrackFeatures(
        n=int(t.size),
        snr=combined_snr(snr),
        snr_median=float(np.median(snr)),
        rms=fit.rms,
        vx=vx,
        vy=vy,
        speed=speed,
        direction=float(np.degrees(np.arctan2(vy, vx)) % 360.0),
        inward=inward,
        corridor=corridor,
        accel=float(np.hypot(ax, ay)),
    )


#: Width (1 sigma, solar radii) of the Kreutz corridor: members scatter by a few degrees in
#: their orbits (Marsden 2005), a band of ~1-3 R_sun about the mean path (widest in C3 in
#: June, when the orbits are seen foreshortened).
CORRIDOR_SIGMA_RSUN = 1.5


def corridor_match(
    geometry: FrameGeometry, detector: Detector, x: float, y: float, vx: float, vy: float
) -> float:
    """0..1: near the Kreutz corridor (Gaussian in distance) times moving along it (cos)."""
    near = nearest_on_corridor(geometry, detector, x, y)
    speed = float(np.hypot(vx, vy))
    if near is None or speed == 0.0:
        return 0.0
    d, (tx, ty) = near
    sigma = CORRIDOR_SIGMA_RSUN * R_SUN_ARCSEC / geometry.plate_scale
    along = max(0.0, (vx * tx + vy * ty) / speed)
    return float(np.exp(-0.5 * (d / sigma) ** 2) * along)


def combined_snr(snr: np.ndarray) -> float:
    """sqrt(sum snr^2) with each frame capped at twice the track's median.

    A comet's brightness changes slowly; one frame far brighter than the rest is a star or a
    cosmic ray the track ran into, and must not carry the score.
    """
    s = np.clip(np.asarray(snr, dtype=float), 0.0, None)
    if s.size == 0:
        return 0.0
    cap = 2.0 * float(np.median(s))
    return float(np.sqrt(np.sum(np.square(np.minimum(s, cap)))))


def plausibility(f: TrackFeatures, params: DetectorParams) -> float:
    """0.25 .. 1: sungrazer-likeness of the motion (never zero: non-group comets exist)."""
    lo, hi = params.typical_speed
    if lo <= f.speed <= hi:
        speed_term = 1.0
    else:
        ratio = lo / f.speed if f.speed < lo else f.speed / hi
        speed_term = float(np.exp(-(np.log(ratio) ** 2) / (2 * 0.35**2)))
    inward_term = float(np.clip((f.inward + 0.2) / 1.0, 0.0, 1.0))
    return 0.25 + 0.35 * inward_term + 0.25 * speed_term + 0.15 * f.corridor


def score(f: TrackFeatures, params: DetectorParams) -> float:
    """Rank value: combined SNR, discounted by fit residual, shortness and implausibility."""
    fit_term = 1.0 / (1.0 + (f.rms / 0.8) ** 2)
    frames_term = min(1.0, f.n / 8.0) ** 0.5
    return float(f.snr * fit_term * frames_term * plausibility(f, params))
