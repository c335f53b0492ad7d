"""Sungrazing comets: tracks, brightness, and the ground truth the hunters are scored against.

A comet is born on a day (seeded by (seed, day, detector, group)) and followed until it goes
behind the occulter, possibly days later in C3. Rendering a frame at time t therefore looks at
comets born on the few days before t; each comet is a pure function of its birth day.

Groups (positions in full-resolution px of the comet's detector):

* ``Kreutz``: on a real orbit (:mod:`.kreutz`): a member drawn about subgroup I or II's
  elements (``SimConfig.kreutz_spread_deg``, ``kreutz_q_spread``), seen from L1, so its
  path turns with the season as the real corridor does; it enters at the field stop at
  its birth time and accelerates to the occulter (~1-3 px/frame in C3, ~10-30 in C2).
* ``Marsden`` (Marsden/Kracht-like, C2 only): a gently curved line from the north-west,
  ~16 px/frame.

Brightness is drawn as a peak SNR at entry (log-uniform in ``config.comet_snr_range``) and
turned into DN/s with the noise of the noiseless scene there; the comet then brightens as it
approaches (~r^-k). ``peak_snr`` in the truth is recomputed per frame: the brightest pixel of
the comet's own rendered signal divided by the local noise sigma (photon + read noise of the
noiseless scene at that pixel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator import kreutz
from comet_pipeline.simulator._rng import rng_for
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.sky import (
    OPTICS,
    Optics,
    radial_corona,
    transmission_at,
)

FRAME_S = 720.0
STEP_S = 60.0
#: How many days before a frame a comet visible in it can have been born.
LOOKBACK_DAYS = {Detector.C2: 1, Detector.C3: 5}


@dataclass(frozen=True)
class Comet:
    id: str
    group: str
    detector: Detector
    start: datetime
    xs: np.ndarray  # track sampled every STEP_S seconds from ``start`` (full-res px)
    ys: np.ndarray
    rate0: float  # peak DN/s at entry
    r0: float  # entry distance from the Sun, px
    brighten: float  # exponent k of rate ~ (r0 / r)^k
    tail_px: float  # 0 = no tail

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=STEP_S * (len(self.xs) - 1))

    def position(self, when: datetime) -> tuple[float, float] | None:
        s = (when - self.start).total_seconds() / STEP_S
        if s < 0 or s > len(self.xs) - 1:
            return None
        return float(np.interp(s, np.arange(len(self.xs)), self.xs)), float(
            np.interp(s, np.arange(len(self.ys)), self.ys)
        )

    def rate(self, x: float, y: float) -> float:
        """Peak brightness (DN/s, before transmission) at a track position."""
        optics = OPTICS[self.detector]
        r = max(math.hypot(x - optics.sun_x, y - optics.sun_y), 1.0)
        return self.rate0 * (self.r0 / r) ** self.brighten


def noise_sigma(optics: Optics, signal_dn: float) -> float:
    """Photon + read noise (DN) of a pixel holding ``signal_dn`` above the bias."""
    return math.sqrt(max(signal_dn, 0.0) / optics.gain + optics.read_noise**2)


def _kreutz_track(
    config: SimConfig, optics: Optics, rng: np.random.Generator, start: datetime
) -> tuple[datetime, np.ndarray, np.ndarray, float]:
    """Entry time, track every STEP_S (field stop to 0.9 x occulter) and entry radius.

    The perihelion time is chosen so that the member crosses the field stop at ``start``:
    first guessed, then shifted by how far off the guess's entry came out (the path itself
    turns by ~1 deg a day, far less than a pixel for that shift).
    """
    orbit = kreutz.member(rng.random(5).tolist(), config.kreutz_spread_deg, config.kreutz_q_spread)
    c3 = optics.detector is Detector.C3
    t_start = start.timestamp()
    guess = t_start + (1.5 if c3 else 0.2) * 86400.0
    coarse = np.arange(guess - (6.0 if c3 else 1.0) * 86400.0, guess, 600.0)
    r = _radius_px(optics, kreutz.sky_offsets(orbit, guess, coarse))
    inside = np.flatnonzero(r <= optics.field_stop_px)
    t_peri = guess + t_start - float(coarse[inside[0]])
    fine = np.arange(t_start - 900.0, t_peri, STEP_S)
    xy = kreutz.sky_offsets(orbit, t_peri, fine)
    r = _radius_px(optics, xy)
    first = int(np.flatnonzero(r <= optics.field_stop_px)[0])
    after = np.flatnonzero(r[first:] < 0.9 * optics.occulter_px)
    last = first + int(after[0]) if after.size else len(r) - 1
    xs = optics.sun_x + xy[first : last + 1, 0] / optics.plate_scale
    ys = optics.sun_y + xy[first : last + 1, 1] / optics.plate_scale
    return datetime.fromtimestamp(float(fine[first]), UTC), xs, ys, float(r[first])


def _radius_px(optics: Optics, xy: np.ndarray) -> np.ndarray:
    return np.hypot(xy[:, 0], xy[:, 1]) / optics.plate_scale


def _marsden_track(
    optics: Optics, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, float]:
    """A gently curved line from the north-west, aimed near the Sun, accelerating."""
    pxr = optics.px_per_rsun
    r_entry = float(rng.uniform(5.9, 6.4)) * pxr
    angle = math.radians(float(rng.uniform(20.0, 100.0)))
    speed0 = float(rng.uniform(13.0, 16.0)) / FRAME_S
    miss = float(rng.uniform(-1.2, 1.2)) * pxr
    x0 = optics.sun_x + r_entry * math.cos(angle)
    y0 = optics.sun_y + r_entry * math.sin(angle)
    aim_x = optics.sun_x - miss * math.sin(angle)
    aim_y = optics.sun_y + miss * math.cos(angle)
    ux, uy = aim_x - x0, aim_y - y0
    norm = math.hypot(ux, uy)
    ux, uy = ux / norm, uy / norm
    bend = float(rng.uniform(-0.04, 0.04))  # slight curvature of the projected orbit
    xs, ys = [x0], [y0]
    s = 0.0
    stop_r = optics.occulter_px * 0.9
    for _ in range(20000):
        x, y = xs[-1], ys[-1]
        r = max(math.hypot(x - optics.sun_x, y - optics.sun_y), 1.0)
        if r < stop_r or s > 2.5 * r_entry:
            break
        ds = speed0 * (r_entry / r) ** 0.5 * STEP_S
        s += ds
        off = bend * s * s / r_entry
        xs.append(x0 + ux * s - uy * off)
        ys.append(y0 + uy * s + ux * off)
    return np.array(xs), np.array(ys), r_entry


def comets_born(config: SimConfig, day: date, detector: Detector) -> list[Comet]:
    """Comets that enter ``detector``'s field on ``day`` (pure function of seed and day)."""
    return list(_comets_born(config, day, Detector(detector)))


@lru_cache(maxsize=64)
def _comets_born(config: SimConfig, day: date, detector: Detector) -> tuple[Comet, ...]:
    optics = OPTICS[detector]
    groups = [("Kreutz", config.comets_per_day)]
    if detector is Detector.C2:
        groups.append(("Marsden", config.c2_fast_comets_per_day))
    out: list[Comet] = []
    for group, rate in groups:
        rng = rng_for(config.seed, "comets", day.toordinal(), detector.value, group)
        n = int(rate) + int(rng.random() < rate - int(rate))
        for k in range(n):
            start = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(
                seconds=float(rng.uniform(0.0, 86400.0))
            )
            if group == "Kreutz":
                start, xs, ys, r0 = _kreutz_track(config, optics, rng, start)
            else:
                xs, ys, r0 = _marsden_track(optics, rng)
            lo, hi = config.comet_snr_range
            snr0 = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            exptime = 25.1 if detector is Detector.C2 else 18.1
            # noise of the scene at entry with average streamer modulation (~1)
            trans = float(transmission_at(optics, np.array([xs[0]]), np.array([ys[0]]))[0])
            bg = float(radial_corona(optics, np.array([r0], dtype=np.float32))[0]) * trans
            sigma = noise_sigma(optics, bg * exptime)
            rate0 = snr0 * sigma / exptime / max(trans, 0.2)
            out.append(
                Comet(
                    id=f"SIM-{detector.label}-{day.strftime('%Y%m%d')}-{group[0]}{k + 1}",
                    group=group,
                    detector=detector,
                    start=start,
                    xs=xs,
                    ys=ys,
                    rate0=rate0,
                    r0=r0,
                    brighten=float(rng.uniform(0.8, 1.8)),
                    tail_px=float(rng.uniform(4.0, 12.0)) if rng.random() < 0.4 else 0.0,
                )
            )
    return tuple(out)


def comets_near(config: SimConfig, when: datetime, detector: Detector) -> list[Comet]:
    """Every comet that may be in the field at ``when``."""
    detector = Detector(detector)
    day = when.date()
    out: list[Comet] = []
    for back in range(LOOKBACK_DAYS[detector], -1, -1):
        for comet in comets_born(config, day - timedelta(days=back), detector):
            if comet.start <= when <= comet.end:
                out.append(comet)
    return out


def comet_sources(
    comet: Comet, x: float, y: float, rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point sources (x, y, peak DN/s) of nucleus and tail; the nucleus stays the brightest.

    All use the PSF of :data:`~comet_pipeline.simulator.sky.PSF_SIGMA`.
    """
    optics = OPTICS[comet.detector]
    xs, ys, ps = [x], [y], [rate]
    if comet.tail_px > 0:
        r = max(math.hypot(x - optics.sun_x, y - optics.sun_y), 1.0)
        ux, uy = (x - optics.sun_x) / r, (y - optics.sun_y) / r
        for d in np.arange(2.0, comet.tail_px, 1.0):
            xs.append(x + ux * d)
            ys.append(y + uy * d)
            ps.append(rate * 0.18 * math.exp(-d / comet.tail_px))
    return np.array(xs), np.array(ys), np.array(ps)
