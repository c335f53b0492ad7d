"""Where the fixed stars and the planets fall on a LASCO frame, from astropy's ephemeris.

The stars do not move; the Sun does (the Earth, and SOHO at L1 with it, goes round it), and
a coronagraph is pointed at the Sun. So every star crosses the field with one common
velocity that follows from the observation time, the plate scale and the roll alone, and a
planet sits where the ephemeris puts it. Both are computed here with astropy's built-in
ephemeris (ERFA's ``epv00``/``plan94``: no download), in the helioprojective frame of
:func:`comet_pipeline.archive.fits_header.helioprojective_wcs`: a gnomonic projection about
the Sun centre, +x solar west and +y solar north at roll 0, turned by ``CROTA``.

Pure functions of (time, geometry). The observer is SOHO at L1, taken as 0.99 of the way
from the Sun to the Earth (as the WCS does); the parallax matters for planets (Venus moves
by up to 100 C2 px between Earth and L1), not for the stars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

#: The Sun's rotation axis (IAU: RA 286.13 deg, Dec 63.87 deg, ICRS), as a unit vector.
_POLE_RA, _POLE_DEC = math.radians(286.13), math.radians(63.87)
SOLAR_POLE = np.array(
    [
        math.cos(_POLE_DEC) * math.cos(_POLE_RA),
        math.cos(_POLE_DEC) * math.sin(_POLE_RA),
        math.sin(_POLE_DEC),
    ]
)
L1_FRACTION = 0.99  # observer distance from the Sun as a fraction of the Earth's
ARCSEC_PER_RAD = 180.0 * 3600.0 / math.pi
LIGHT_DAY_AU = 173.144632674  # speed of light in AU per day
#: Planets astropy's built-in ephemeris knows; all can cross a LASCO field.
PLANETS = ("mercury", "venus", "mars", "jupiter", "saturn", "uranus", "neptune")
#: Rough visual magnitude near conjunction (for the simulator's brightness, and for deciding
#: which planets saturate): they vary by a magnitude or so, which is all this needs.
PLANET_MAGNITUDE = {
    "mercury": -1.0,
    "venus": -3.9,
    "mars": 1.6,
    "jupiter": -1.9,
    "saturn": 0.8,
    "uranus": 5.8,
    "neptune": 7.9,
}


@dataclass(frozen=True)
class FrameGeometry:
    """What places the sky on a stored array: time, Sun centre, plate scale, roll."""

    observed_at: datetime
    sun_x: float  # 0-based array column of the Sun centre
    sun_y: float
    plate_scale: float  # arcsec per pixel of this array (binning included)
    roll_deg: float = 0.0  # CROTA1

    def to_pixel(
        self, xi: np.ndarray | float, eta: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gnomonic (xi west, eta north, arcsec) about the Sun -> 0-based array pixels."""
        dx, dy = self.rotate(np.asarray(xi, float), np.asarray(eta, float))
        return self.sun_x + dx / self.plate_scale, self.sun_y + dy / self.plate_scale

    def rotate(
        self, xi: np.ndarray | float, eta: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """R(-roll) @ (xi, eta): the WCS's PC matrix inverted (world -> pixel axes)."""
        r = math.radians(self.roll_deg)
        c, s = math.cos(r), math.sin(r)
        x, e = np.asarray(xi, dtype=float), np.asarray(eta, dtype=float)
        return c * x + s * e, -s * x + c * e


@dataclass(frozen=True)
class KnownObject:
    """A planet in one frame: its name, array pixel position and rough magnitude."""

    name: str
    x: float
    y: float
    magnitude: float


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@lru_cache(maxsize=4096)
def _barycentric(body: str, unix_s: float) -> np.ndarray:
    """ICRS barycentric position of ``body`` in AU at a UNIX time (built-in ephemeris)."""
    import astropy.units as u
    from astropy.coordinates import get_body_barycentric
    from astropy.time import Time

    t = Time(unix_s, format="unix", scale="utc")
    pos = get_body_barycentric(body, t, ephemeris="builtin")
    return np.asarray(pos.xyz.to_value(u.AU), dtype=float)


def _observer(unix_s: float) -> np.ndarray:
    sun, earth = _barycentric("sun", unix_s), _barycentric("earth", unix_s)
    return sun + L1_FRACTION * (earth - sun)


def _sun_frame(unix_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(observer, s toward the Sun, N solar north, W solar west) unit vectors at a time."""
    obs = _observer(unix_s)
    s = _barycentric("sun", unix_s) - obs
    s /= np.linalg.norm(s)
    n = SOLAR_POLE - SOLAR_POLE.dot(s) * s
    n /= np.linalg.norm(n)
    return obs, s, n, np.cross(s, n)


def _gnomonic(
    direction: np.ndarray, s: np.ndarray, n: np.ndarray, w: np.ndarray
) -> tuple[float, float] | None:
    """Standard coordinates (xi west, eta north) in arcsec of a direction about the Sun."""
    depth = float(direction.dot(s))
    if depth <= 0:
        return None
    return (
        ARCSEC_PER_RAD * float(direction.dot(w)) / depth,
        ARCSEC_PER_RAD * float(direction.dot(n)) / depth,
    )


@lru_cache(maxsize=2048)
def _star_rate(unix_s: float) -> tuple[float, float]:
    """(xi, eta) arcsec per hour of a fixed star that is behind the Sun centre at the time."""
    _, s0, _, _ = _sun_frame(unix_s - 1800.0)
    _, s1, n1, w1 = _sun_frame(unix_s + 1800.0)
    rate = _gnomonic(s0, s1, n1, w1)
    # The Sun's directions an hour apart differ by ~2.5': s0 is always in front of s1.
    assert rate is not None
    return rate


def star_drift(geometry: FrameGeometry) -> tuple[float, float]:
    """Velocity (vx, vy) in array px/hour shared by every star at ``geometry``'s time.

    ~12.5 px/h in C2 and ~2.6 px/h in C3, toward solar west (+x at roll 0, -x rolled by
    180 deg), tilted by up to 7.25 deg (the ecliptic against the solar equator); the speed
    varies by +-3.4 % over the year with the Earth's distance from the Sun.
    """
    t = _utc(geometry.observed_at).timestamp()
    xi, eta = _star_rate(float(round(t / 60.0) * 60.0))  # a minute changes nothing
    dx, dy = geometry.rotate(np.float64(xi), np.float64(eta))
    return float(dx) / geometry.plate_scale, float(dy) / geometry.plate_scale


@lru_cache(maxsize=8192)
def _planet_node(body: str, unix_s: float) -> tuple[float, float] | None:
    """Planet's (xi, eta) in arcsec about the Sun at an hour node, light time included."""
    obs, s, n, w = _sun_frame(unix_s)
    p = _barycentric(body, unix_s) - obs
    tau_days = float(np.linalg.norm(p)) / LIGHT_DAY_AU
    p = _barycentric(body, unix_s - tau_days * 86400.0) - obs  # where its light left
    return _gnomonic(p / np.linalg.norm(p), s, n, w)


def planet_offsets(when: datetime, body: str) -> tuple[float, float] | None:
    """(xi, eta) arcsec of ``body`` about the Sun centre, linear between hour nodes."""
    t = _utc(when).timestamp()
    t0 = math.floor(t / 3600.0) * 3600.0
    a, b = _planet_node(body, t0), _planet_node(body, t0 + 3600.0)
    if a is None or b is None:
        return None
    f = (t - t0) / 3600.0
    return a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])


def planets_in_frame(
    geometry: FrameGeometry,
    shape: tuple[int, int],
    *,
    margin: float = 0.0,
    planets: tuple[str, ...] = PLANETS,
) -> list[KnownObject]:
    """The planets whose position falls inside the array (``shape`` = (rows, columns)).

    A cheap angular test first: nothing farther from the Sun than the frame's diagonal is
    projected (planets far from conjunction cost one cached ephemeris lookup per hour).
    """
    h, w = shape
    reach = math.hypot(h, w) * geometry.plate_scale
    out = []
    for body in planets:
        off = planet_offsets(geometry.observed_at, body)
        if off is None or math.hypot(*off) > reach:
            continue
        x, y = geometry.to_pixel(np.float64(off[0]), np.float64(off[1]))
        if -margin <= x <= w - 1 + margin and -margin <= y <= h - 1 + margin:
            out.append(KnownObject(body, float(x), float(y), PLANET_MAGNITUDE[body]))
    return out
