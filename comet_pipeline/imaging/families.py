"""The sungrazing comet families' corridors on a LASCO frame, from their orbital elements.

Most SOHO comets belong to four families whose members share one orbit but for the time
of perihelion. Seen from SOHO (near L1, about where the Earth is), a family therefore draws
one predictable path into each camera, which moves slowly over the year as the Earth goes
round the Sun: where a hunter should look, in which direction a real member moves and how
fast. This module computes that path for an instant: the parabolic orbit of a family's
mean elements, placed in ICRS with astropy's built-in ephemeris and seen from SOHO at that
instant (light time included; :func:`family_polylines`), or one member's track for a
perihelion time (:func:`orbit_polylines`), projected exactly as :mod:`.ephemeris` projects
the planets to helioprojective (xi west, eta north, arcsec about the Sun) and then through
a frame's WCS (:class:`~comet_pipeline.imaging.ephemeris.FrameGeometry`) to array pixels.

Mean elements (J2000 ecliptic; q perihelion distance, i inclination, Ω longitude of the
ascending node, ω argument of perihelion), rounded to what a corridor needs:

* Kreutz (Marsden 1967, AJ 72, 1170; Marsden 1989, AJ 98, 2306; Sekanina & Chodas 2004,
  ApJ 607, 620): two subgroups around the common direction of perihelion (L ≈ 282°,
  B ≈ +35°). Subgroup I (C/1843 D1-like): q = 0.0055 AU, i = 144.4°, Ω = 2.8°,
  ω = 82.6°. Subgroup II (C/1965 S1 Ikeya-Seki, C/1882 R1-like): q = 0.0078 AU,
  i = 141.9°, Ω = 347.0°, ω = 69.1°. SOHO's Kreutz comets mostly follow subgroup I
  (Marsden 2005, ARA&A 43, 75); it is the "mean" path, II the other edge of the corridor.
* Meyer (Meyer 2002; Marsden 2005, table 2): q = 0.036 AU, i = 72.5°, Ω = 73.1°,
  ω = 57.4°.
* Marsden (Marsden 2005, table 2; Sekanina & Chodas 2005, ApJS 161, 551, linked to
  96P/Machholz): q = 0.049 AU, i = 26.4°, Ω = 79.2°, ω = 24.3°.
* Kracht (Marsden 2005, table 2; the other branch of the Machholz complex):
  q = 0.046 AU, i = 13.4°, Ω = 44.0°, ω = 59.0°.

Members scatter around these by a few degrees and q by ~20 %, so a corridor is a band some
tens of pixels wide, not a line. Pure functions of (elements, time, geometry): no store,
no files.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.imaging.ephemeris import (
    ARCSEC_PER_RAD,
    L1_FRACTION,
    LIGHT_DAY_AU,
    SOLAR_POLE,
    FrameGeometry,
    KnownObject,
    planets_in_frame,
)
from comet_pipeline.imaging.geometry import R_SUN_ARCSEC
from comet_pipeline.imaging.masks import FIELD

GAUSS_K = 0.01720209895  # Gaussian gravitational constant, AU^1.5 / day
OBLIQUITY_J2000_DEG = 23.4392911  # mean obliquity of the ecliptic at J2000 (IAU 1980)
#: The path is sampled in D = tan(nu / 2) = sinh(u), u uniform (the samples crowd at
#: perihelion, where the comet moves fastest), from this heliocentric distance inbound
#: (a comet well in front of the Sun is seen in C3's 8 degrees from ~1 AU) to a tenth of
#: it outbound.
R_MAX_AU = 1.0
N_SAMPLES = 1200
#: Sun and Earth are taken from the ephemeris at these nodes and interpolated between them
#: (the Earth's path bends by ~10 km in an hour: nothing at a LASCO pixel of >8000 km).
BODY_NODE_S = 3600.0


@dataclass(frozen=True)
class OrbitalElements:
    """A parabolic orbit's shape and orientation (J2000 ecliptic, degrees and AU)."""

    label: str
    q_au: float
    incl_deg: float
    node_deg: float
    peri_deg: float


@dataclass(frozen=True)
class Family:
    """A family of sungrazers: its mean orbit first, then the orbits bounding its corridor."""

    name: str
    members: tuple[OrbitalElements, ...]

    @property
    def mean(self) -> OrbitalElements:
        return self.members[0]


FAMILIES: dict[str, Family] = {
    "Kreutz": Family(
        "Kreutz",
        (
            OrbitalElements("Kreutz I", 0.0055, 144.4, 2.8, 82.6),
            OrbitalElements("Kreutz II", 0.0078, 141.9, 347.0, 69.1),
        ),
    ),
    "Meyer": Family("Meyer", (OrbitalElements("Meyer", 0.036, 72.5, 73.1, 57.4),)),
    "Marsden": Family("Marsden", (OrbitalElements("Marsden", 0.049, 26.4, 79.2, 24.3),)),
    "Kracht": Family("Kracht", (OrbitalElements("Kracht", 0.046, 13.4, 44.0, 59.0),)),
}

#: The nominal full-resolution geometry of each camera (Sun at the centre, roll 0): for a
#: day's outlook, before any frame of the day is known.
NOMINAL_PLATE_SCALE = {Detector.C2: 11.9, Detector.C3: 56.0}
NOMINAL_SIZE = 1024


def nominal_geometry(detector: Detector, when: datetime) -> FrameGeometry:
    c = (NOMINAL_SIZE - 1) / 2.0
    return FrameGeometry(when, c, c, NOMINAL_PLATE_SCALE[Detector(detector)], 0.0)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


# ------------------------------------------------------------------------------ the orbit


def heliocentric_icrs(elements: OrbitalElements, d: np.ndarray) -> np.ndarray:
    """Heliocentric ICRS positions (AU, shape (n, 3)) at D = tan(nu/2) on the parabola."""
    q = elements.q_au
    x_orb = q * (1.0 - d * d)  # toward perihelion
    y_orb = 2.0 * q * d  # along the motion at perihelion
    w, node, inc = (
        math.radians(v) for v in (elements.peri_deg, elements.node_deg, elements.incl_deg)
    )
    cw, sw, cn, sn, ci, si = (
        math.cos(w),
        math.sin(w),
        math.cos(node),
        math.sin(node),
        math.cos(inc),
        math.sin(inc),
    )
    p = np.array([cw * cn - sw * sn * ci, cw * sn + sw * cn * ci, sw * si])
    qv = np.array([-sw * cn - cw * sn * ci, -sw * sn + cw * cn * ci, cw * si])
    ecl = x_orb[:, None] * p[None, :] + y_orb[:, None] * qv[None, :]
    eps = math.radians(OBLIQUITY_J2000_DEG)
    ce, se = math.cos(eps), math.sin(eps)
    return np.stack(
        [ecl[:, 0], ce * ecl[:, 1] - se * ecl[:, 2], se * ecl[:, 1] + ce * ecl[:, 2]], axis=1
    )


def days_from_perihelion(elements: OrbitalElements, d: np.ndarray) -> np.ndarray:
    """Barker's equation: time (days) from perihelion at D = tan(nu/2)."""
    return math.sqrt(2.0 * elements.q_au**3) / GAUSS_K * (d + d**3 / 3.0)


def _bodies(unix_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric ICRS (sun, earth) in AU, shape (n, 3): astropy's built-in ephemeris at
    hourly nodes, interpolated linearly to ``unix_s``."""
    import astropy.units as u
    from astropy.coordinates import get_body_barycentric
    from astropy.time import Time

    lo = math.floor(float(unix_s.min()) / BODY_NODE_S) * BODY_NODE_S
    hi = math.ceil(float(unix_s.max()) / BODY_NODE_S) * BODY_NODE_S
    nodes = np.arange(lo, hi + BODY_NODE_S, BODY_NODE_S)
    t = Time(nodes, format="unix", scale="utc")
    out = []
    for body in ("sun", "earth"):
        xyz = get_body_barycentric(body, t, ephemeris="builtin").xyz.to_value(u.AU)
        out.append(np.stack([np.interp(unix_s, nodes, xyz[k]) for k in range(3)], axis=1))
    return out[0], out[1]


@dataclass(frozen=True)
class SkyPath:
    """One orbit's path on the sky about the Sun: per sample, observation time and offsets."""

    label: str
    perihelion: datetime
    unix_s: np.ndarray  # observation (arrival of the light) time
    xi: np.ndarray  # arcsec, solar west
    eta: np.ndarray  # arcsec, solar north
    r_au: np.ndarray  # heliocentric distance when the light left
    front: np.ndarray  # bool: in front of the plane of the sky through the Sun

    def times(self) -> list[datetime]:
        return [datetime.fromtimestamp(float(t), UTC) for t in self.unix_s]


def sky_path(elements: OrbitalElements, perihelion: datetime) -> SkyPath:
    """The orbit's path as seen from SOHO for a comet reaching perihelion at ``perihelion``."""
    return _sky_path(elements, _utc(perihelion).timestamp())


@lru_cache(maxsize=256)
def _sky_path(elements: OrbitalElements, t_peri: float) -> SkyPath:
    d = _samples(elements)
    t_emit = t_peri + days_from_perihelion(elements, d) * 86400.0
    helio = heliocentric_icrs(elements, d)
    sun, earth = _bodies(t_emit)
    obs = sun + L1_FRACTION * (earth - sun)
    t_obs = t_emit + np.linalg.norm(sun + helio - obs, axis=1) / LIGHT_DAY_AU * 86400.0
    xi, eta, front = _seen_from_soho(sun + helio, helio, t_obs)
    return SkyPath(
        elements.label,
        datetime.fromtimestamp(t_peri, UTC),
        t_obs,
        xi,
        eta,
        np.linalg.norm(helio, axis=1),
        front,
    )


def corridor_path(elements: OrbitalElements, when: datetime) -> SkyPath:
    """Where the family's members are at ``when``: the orbit seen from SOHO at that instant.

    Members share the orbit and differ only in their perihelion time, so at one instant
    they lie along the orbit itself; only light time separates the points (each is seen
    where it was when its light left). The sample times are those of one member passing
    along it, perihelion at ``when``: differences give speeds and hours in the field.
    """
    return _corridor_path(elements, _utc(when).timestamp())


@lru_cache(maxsize=256)
def _corridor_path(elements: OrbitalElements, t_obs: float) -> SkyPath:
    d = _samples(elements)
    helio = heliocentric_icrs(elements, d)
    sun_o, earth_o = _bodies(np.array([t_obs]))
    obs = sun_o + L1_FRACTION * (earth_o - sun_o)
    # the Sun moves ~20 km (1e-7 AU) in the light time: one pass is plenty
    t_emit = t_obs - np.linalg.norm(sun_o + helio - obs, axis=1) / LIGHT_DAY_AU * 86400.0
    sun_e, _ = _bodies(t_emit)
    xi, eta, front = _seen_from_soho(sun_e + helio, helio, np.full(d.shape, t_obs))
    return SkyPath(
        elements.label,
        datetime.fromtimestamp(t_obs, UTC),
        t_obs + days_from_perihelion(elements, d) * 86400.0,
        xi,
        eta,
        np.linalg.norm(helio, axis=1),
        front,
    )


def _samples(elements: OrbitalElements) -> np.ndarray:
    d_max = math.sqrt(R_MAX_AU / elements.q_au - 1.0)
    u_max = math.asinh(d_max)
    return np.sinh(np.linspace(-u_max, u_max * 0.3, N_SAMPLES))


def _seen_from_soho(
    target: np.ndarray, helio: np.ndarray, t_obs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Helioprojective (xi west, eta north; arcsec) of barycentric ``target`` positions seen
    from L1 at ``t_obs``, and whether each is in front of the plane of the sky."""
    # the observer and the Sun when the light arrives (the WCS is centred on the Sun then)
    sun_o, earth_o = _bodies(t_obs)
    obs_o = sun_o + L1_FRACTION * (earth_o - sun_o)
    s = sun_o - obs_o
    s /= np.linalg.norm(s, axis=1)[:, None]
    n = SOLAR_POLE[None, :] - (s @ SOLAR_POLE)[:, None] * s
    n /= np.linalg.norm(n, axis=1)[:, None]
    w = np.cross(s, n)
    direction = target - obs_o
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    depth = np.einsum("ij,ij->i", direction, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = np.where(
            depth > 0, ARCSEC_PER_RAD * np.einsum("ij,ij->i", direction, w) / depth, np.nan
        )
        eta = np.where(
            depth > 0, ARCSEC_PER_RAD * np.einsum("ij,ij->i", direction, n) / depth, np.nan
        )
    front = np.einsum("ij,ij->i", helio, -s) > 0
    return xi, eta, front


# ----------------------------------------------------------------------- in a frame's field


@dataclass(frozen=True)
class Polyline:
    """A path in array pixels (0-based FITS x = column, y = row) with its sample times."""

    name: str  # family
    label: str  # orbit (e.g. "Kreutz I")
    x: np.ndarray
    y: np.ndarray
    unix_s: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def _in_field(detector: Detector, xi: np.ndarray, eta: np.ndarray) -> np.ndarray:
    field = FIELD[Detector(detector)]
    rho = np.hypot(xi, eta) / R_SUN_ARCSEC
    return np.isfinite(rho) & (rho >= field.inner_rsun) & (rho <= field.outer_rsun)


def _inbound_segment(ok: np.ndarray) -> slice | None:
    """The first run of True samples (the comet's way in, before it meets the occulter)."""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return None
    start = int(idx[0])
    breaks = np.flatnonzero(~ok[start:])
    stop = start + int(breaks[0]) if breaks.size else len(ok)
    return slice(start, stop)


def family_polylines(
    geometry: FrameGeometry,
    detector: Detector,
    *,
    families: Sequence[str] = tuple(FAMILIES),
    shape: tuple[int, int] | None = None,
) -> list[Polyline]:
    """Each family orbit's inbound corridor inside the detector's field at the frame's time.

    The corridor is where a member is *now* (:func:`corridor_path`): a comet of the family
    seen in this frame lies on it, whenever it reaches perihelion. ``shape`` (rows,
    columns) clips the path to the array too.
    """
    when = _utc(geometry.observed_at)
    return _polylines(geometry, detector, families, shape, lambda m: corridor_path(m, when))


def orbit_polylines(
    geometry: FrameGeometry,
    detector: Detector,
    *,
    perihelion: datetime,
    families: Sequence[str] = tuple(FAMILIES),
    shape: tuple[int, int] | None = None,
) -> list[Polyline]:
    """One member's track across the field, for a comet reaching perihelion at ``perihelion``.

    Unlike the corridor, each point is seen at its own time (the observer moves on while
    the comet crosses: ~6 px a day in C3), so this is what a single comet draws.
    """
    return _polylines(geometry, detector, families, shape, lambda m: sky_path(m, perihelion))


def _polylines(
    geometry: FrameGeometry,
    detector: Detector,
    families: Sequence[str],
    shape: tuple[int, int] | None,
    path_of: Callable[[OrbitalElements], SkyPath],
) -> list[Polyline]:
    out: list[Polyline] = []
    for name in families:
        for member in FAMILIES[name].members:
            path = path_of(member)
            ok = _in_field(detector, path.xi, path.eta)
            x, y = geometry.to_pixel(np.nan_to_num(path.xi), np.nan_to_num(path.eta))
            if shape is not None:
                h, w = shape
                ok &= (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
            seg = _inbound_segment(ok)
            if seg is None or seg.stop - seg.start < 2:
                continue
            out.append(Polyline(name, member.label, x[seg], y[seg], path.unix_s[seg]))
    return out


#: The corridor is recomputed at most every this many seconds for scoring: it turns by
#: ~1 deg a day, a small fraction of a pixel in half an hour.
CORRIDOR_STEP_S = 1800.0


def nearest_on_corridor(
    geometry: FrameGeometry, detector: Detector, x: float, y: float, family: str = "Kreutz"
) -> tuple[float, tuple[float, float]] | None:
    """Distance (px) from array point (x, y) to the family's corridor at the frame's time,
    and the corridor's inbound unit direction there; None when it misses the field."""
    t = _utc(geometry.observed_at).timestamp()
    when = datetime.fromtimestamp(round(t / CORRIDOR_STEP_S) * CORRIDOR_STEP_S, UTC)
    best: tuple[float, tuple[float, float]] | None = None
    for member in FAMILIES[family].members:
        path = corridor_path(member, when)
        seg = _inbound_segment(_in_field(detector, path.xi, path.eta))
        if seg is None or seg.stop - seg.start < 2:
            continue
        # one sample more at each end, so the field's edges are covered
        seg = slice(max(seg.start - 1, 0), min(seg.stop + 1, len(path.xi)))
        xi, eta = path.xi[seg], path.eta[seg]
        finite = np.isfinite(xi) & np.isfinite(eta)
        px, py = geometry.to_pixel(xi[finite], eta[finite])
        if px.size < 2:
            continue
        # distance to each segment (samples are px apart in C2, near the occulter)
        sx, sy = np.diff(px), np.diff(py)
        length2 = np.maximum(sx * sx + sy * sy, 1e-12)
        f = np.clip(((x - px[:-1]) * sx + (y - py[:-1]) * sy) / length2, 0.0, 1.0)
        d = np.hypot(px[:-1] + f * sx - x, py[:-1] + f * sy - y)
        k = int(np.argmin(d))
        norm = math.sqrt(float(length2[k]))
        if best is None or float(d[k]) < best[0]:
            best = (float(d[k]), (float(sx[k]) / norm, float(sy[k]) / norm))
    return best


@dataclass(frozen=True)
class Envelope:
    """How a family's members cross a detector's field: where, which way, how fast, how long.

    Angles are image angles at roll 0 (degrees counter-clockwise from solar west, +x), so
    90 = north, 270 = south; ranges cover all the family's orbits.
    """

    family: str
    detector: Detector
    entry_angle_deg: tuple[float, float]  # where the path enters the field, about the Sun
    heading_deg: tuple[float, float]  # direction of motion at entry
    speed_px_h: tuple[float, float]  # slowest (entry) to fastest (at the occulter)
    hours_in_field: tuple[float, float]
    front_of_sun: bool  # the mean orbit is on our side of the plane of the sky in the field

    @property
    def visible(self) -> bool:
        return self.hours_in_field[1] > 0.0


def _span(values: Sequence[float]) -> tuple[float, float]:
    return (float(min(values)), float(max(values))) if values else (0.0, 0.0)


def _angle_span(values: Sequence[float]) -> tuple[float, float]:
    """(lo, hi) degrees of angles that lie within half a turn, unwrapped about the first."""
    if not values:
        return (0.0, 0.0)
    ref = values[0]
    unwrapped = [ref + ((v - ref + 180.0) % 360.0 - 180.0) for v in values]
    return (min(unwrapped) % 360.0, max(unwrapped) % 360.0)


def envelope(family: str, detector: Detector, day: datetime) -> Envelope:
    """The family's corridor in ``detector`` at the instant ``day``."""
    detector = Detector(detector)
    geometry = nominal_geometry(detector, day)
    entry, heading, speeds, hours = [], [], [], []
    front = False
    for line in family_polylines(geometry, detector, families=(family,)):
        dx, dy = line.x - geometry.sun_x, line.y - geometry.sun_y
        entry.append(math.degrees(math.atan2(dy[0], dx[0])) % 360.0)
        k = min(5, len(line) - 1)
        heading.append(
            math.degrees(math.atan2(line.y[k] - line.y[0], line.x[k] - line.x[0])) % 360.0
        )
        step = np.hypot(np.diff(line.x), np.diff(line.y))
        dt_h = np.diff(line.unix_s) / 3600.0
        v = step / np.where(dt_h > 0, dt_h, np.nan)
        speeds += [float(np.nanmin(v)), float(np.nanmax(v))]
        hours.append(float(line.unix_s[-1] - line.unix_s[0]) / 3600.0)
        if line.label == FAMILIES[family].mean.label:
            path = corridor_path(FAMILIES[family].mean, day)
            front = bool(path.front[np.searchsorted(path.unix_s, line.unix_s[0])])
    return Envelope(
        family,
        detector,
        _angle_span(entry),
        _angle_span(heading),
        _span(speeds),
        _span(hours),
        front,
    )


# ------------------------------------------------------------------------------- planets


def planets_in_field(
    geometry: FrameGeometry, detector: Detector, shape: tuple[int, int] = (1024, 1024)
) -> list[KnownObject]:
    """The planets inside the detector's field (occulter to field stop) at the time."""
    field = FIELD[Detector(detector)]
    out = []
    for p in planets_in_frame(geometry, shape):
        rho = math.hypot(p.x - geometry.sun_x, p.y - geometry.sun_y) * geometry.plate_scale
        if field.inner_rsun <= rho / R_SUN_ARCSEC <= field.outer_rsun:
            out.append(p)
    return out


def planet_hours(detector: Detector, start: datetime, hours: int = 24) -> dict[str, list[datetime]]:
    """Per planet, the whole hours from ``start`` it spends in the detector's nominal field."""
    out: dict[str, list[datetime]] = {}
    for k in range(hours):
        when = _utc(start) + timedelta(hours=k)
        for p in planets_in_field(nominal_geometry(detector, when), detector):
            out.setdefault(p.name, []).append(when)
    return out


# ------------------------------------------------------------------------------- overlay

#: Overlay colours (RGB) per family, and for the planets.
COLOURS: dict[str, tuple[int, int, int]] = {
    "Kreutz": (255, 200, 0),
    "Meyer": (0, 220, 255),
    "Marsden": (255, 80, 200),
    "Kracht": (120, 255, 80),
}
PLANET_COLOUR = (255, 60, 60)


def draw_overlay(
    preview: Path,
    out: Path,
    lines: Sequence[Polyline],
    planets: Sequence[KnownObject],
    *,
    naxis1: int,
    naxis2: int,
    roll_deg: float = 0.0,
) -> Path:
    """The preview PNG in colour with the corridors and planets drawn on it, written to ``out``.

    Array (FITS) pixels go to the PNG's pixels as the viewer maps them (flip, roll, size:
    :func:`~comet_pipeline.imaging.orientation.fits_to_png`); each path gets an arrow head
    at its inner end (the way the comet moves) and its family's name at its outer end.
    """
    from PIL import Image, ImageDraw

    from comet_pipeline.imaging.orientation import fits_to_png
    from comet_pipeline.imaging.png import atomic_save

    with Image.open(preview) as im:
        image = im.convert("RGB")
    size = image.size[0]
    draw = ImageDraw.Draw(image)

    def png(x: float, y: float) -> tuple[float, float]:
        return fits_to_png(x, y, naxis1, naxis2, roll_deg=roll_deg, size=size)

    for line in lines:
        colour = COLOURS.get(line.name, (255, 255, 255))
        pts = [png(float(x), float(y)) for x, y in zip(line.x, line.y, strict=True)]
        draw.line(pts, fill=colour, width=2 if line.label == FAMILIES[line.name].mean.label else 1)
        (x1, y1), (x0, y0) = pts[-1], pts[max(0, len(pts) - 6)]
        a = math.atan2(y1 - y0, x1 - x0)
        head = [
            (x1, y1),
            (x1 - 10 * math.cos(a - 0.4), y1 - 10 * math.sin(a - 0.4)),
            (x1 - 10 * math.cos(a + 0.4), y1 - 10 * math.sin(a + 0.4)),
        ]
        draw.polygon(head, fill=colour)
        if line.label == FAMILIES[line.name].mean.label:
            # at the outer end, kept inside the picture
            tx = min(max(pts[0][0] + 4, 2.0), size - 8.0 * len(line.name))
            ty = min(max(pts[0][1] + 4, 2.0), image.size[1] - 14.0)
            draw.text((tx, ty), line.name, fill=colour)
    for p in planets:
        x, y = png(p.x, p.y)
        draw.ellipse((x - 8, y - 8, x + 8, y + 8), outline=PLANET_COLOUR, width=2)
        draw.text((x + 10, y - 6), p.name.capitalize(), fill=PLANET_COLOUR)
    return atomic_save(image, out)
