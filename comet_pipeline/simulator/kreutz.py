"""Kreutz sungrazers on real orbits: where a member drawn about the family's mean is seen.

The simulator's Kreutz comets follow parabolic orbits scattered about the two subgroups'
published elements (Marsden 1967, 1989; subgroup I q = 0.0055 AU, i = 144.4 deg,
node 2.8 deg, peri 82.6 deg; subgroup II q = 0.0078 AU, i = 141.9 deg, node 347.0 deg,
peri 69.1 deg; J2000 ecliptic). Their paths on the sky therefore turn with the season as
the real ones do, which is what a hunter's family prior has to cope with.

Written apart from :mod:`comet_pipeline.imaging.families` on purpose, so that a test can
hold one against the other: this module goes from *time* to position (Barker's equation
solved in closed form, light time iterated, the observer at L1 each instant) where the
corridor code goes from true anomaly to time. Only the inputs are shared: astropy's
built-in ephemeris for the Sun and the Earth, and the published elements.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

GAUSS_K = 0.01720209895  # AU^1.5 / day
C_AU_PER_S = 173.144632674 / 86400.0
OBLIQUITY_RAD = math.radians(23.4392911)
ARCSEC_PER_RAD = 180.0 * 3600.0 / math.pi
L1 = 0.99  # SOHO's distance from the Sun as a fraction of the Earth's
#: The Sun's rotation axis (IAU): RA 286.13 deg, Dec 63.87 deg.
_POLE_RA, _POLE_DEC = math.radians(286.13), math.radians(63.87)
POLE = np.array(
    [
        math.cos(_POLE_DEC) * math.cos(_POLE_RA),
        math.cos(_POLE_DEC) * math.sin(_POLE_RA),
        math.sin(_POLE_DEC),
    ]
)
BODY_STEP_S = 1800.0


@dataclass(frozen=True)
class Orbit:
    """A parabola: perihelion distance (AU) and orientation (J2000 ecliptic, degrees)."""

    q_au: float
    incl_deg: float
    node_deg: float
    peri_deg: float


SUBGROUP_I = Orbit(0.0055, 144.4, 2.8, 82.6)
SUBGROUP_II = Orbit(0.0078, 141.9, 347.0, 69.1)


def member(u: Sequence[float], spread_deg: float, q_spread: float) -> Orbit:
    """A member from five uniform draws in [0, 1): subgroup (I with 70 %), then node,
    inclination and perihelion argument within +-``spread_deg`` and q within a factor
    (1 +- ``q_spread``) of the subgroup's mean."""
    base = SUBGROUP_I if u[0] < 0.7 else SUBGROUP_II
    return Orbit(
        base.q_au * (1.0 + q_spread * (2.0 * u[4] - 1.0)),
        base.incl_deg + spread_deg * (2.0 * u[2] - 1.0),
        base.node_deg + spread_deg * (2.0 * u[1] - 1.0),
        base.peri_deg + spread_deg * (2.0 * u[3] - 1.0),
    )


def heliocentric(orbit: Orbit, dt_days: np.ndarray) -> np.ndarray:
    """Heliocentric equatorial (ICRS axes) position, AU, ``dt_days`` from perihelion."""
    q = orbit.q_au
    w = GAUSS_K * dt_days / math.sqrt(2.0 * q**3)  # Barker: D + D^3/3 = w
    y = np.cbrt(1.5 * w + np.sqrt(2.25 * w * w + 1.0))
    d = y - 1.0 / y  # D = tan(nu / 2)
    r = q * (1.0 + d * d)
    nu = 2.0 * np.arctan(d)
    arg = nu + math.radians(orbit.peri_deg)
    node, inc = math.radians(orbit.node_deg), math.radians(orbit.incl_deg)
    x_ecl = r * (math.cos(node) * np.cos(arg) - math.sin(node) * np.sin(arg) * math.cos(inc))
    y_ecl = r * (math.sin(node) * np.cos(arg) + math.cos(node) * np.sin(arg) * math.cos(inc))
    z_ecl = r * np.sin(arg) * math.sin(inc)
    ce, se = math.cos(OBLIQUITY_RAD), math.sin(OBLIQUITY_RAD)
    return np.stack([x_ecl, ce * y_ecl - se * z_ecl, se * y_ecl + ce * z_ecl], axis=1)


@lru_cache(maxsize=64)
def _body_table(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import astropy.units as u
    from astropy.coordinates import get_body_barycentric
    from astropy.time import Time

    nodes = np.arange(lo, hi + BODY_STEP_S, BODY_STEP_S)
    t = Time(nodes, format="unix", scale="utc")
    sun = get_body_barycentric("sun", t, ephemeris="builtin").xyz.to_value(u.AU).T
    earth = get_body_barycentric("earth", t, ephemeris="builtin").xyz.to_value(u.AU).T
    return nodes, sun, earth


def _bodies(unix_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric Sun and Earth (AU) at ``unix_s``, interpolated from half-hour nodes
    (the table is cached per day range: a comet's few days are one astropy call)."""
    day = 86400.0
    lo = math.floor(float(unix_s.min()) / day) * day - day
    hi = math.ceil(float(unix_s.max()) / day) * day + day
    nodes, sun, earth = _body_table(lo, hi)
    pick = [
        np.stack([np.interp(unix_s, nodes, table[:, k]) for k in range(3)], axis=1)
        for table in (sun, earth)
    ]
    return pick[0], pick[1]


def sky_offsets(orbit: Orbit, perihelion_unix: float, unix_s: np.ndarray) -> np.ndarray:
    """Helioprojective offsets (arcsec; solar west, solar north) of the member seen from L1
    at the observation times ``unix_s``, each point where it was when its light left."""
    sun, earth = _bodies(unix_s)
    observer = sun + L1 * (earth - sun)
    t_emit = unix_s - np.linalg.norm(sun - observer, axis=1) / C_AU_PER_S
    for _ in range(3):
        sun_e, _ = _bodies(t_emit)
        comet = sun_e + heliocentric(orbit, (t_emit - perihelion_unix) / 86400.0)
        t_emit = unix_s - np.linalg.norm(comet - observer, axis=1) / C_AU_PER_S
    to_sun = sun - observer
    to_sun /= np.linalg.norm(to_sun, axis=1)[:, None]
    north = POLE[None, :] - (to_sun @ POLE)[:, None] * to_sun
    north /= np.linalg.norm(north, axis=1)[:, None]
    west = np.cross(to_sun, north)
    los = comet - observer
    depth = np.einsum("ij,ij->i", los, to_sun)  # gnomonic (TAN) plane about the Sun
    return np.stack(
        [
            ARCSEC_PER_RAD * np.einsum("ij,ij->i", los, west) / depth,
            ARCSEC_PER_RAD * np.einsum("ij,ij->i", los, north) / depth,
        ],
        axis=1,
    )
