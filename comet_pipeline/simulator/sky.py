"""The simulated sky as each coronagraph sees it: optics, corona, streamers, CMEs, stars, planets.

Pure numpy, float32. Everything that does not change between frames (radius and angle grids,
radial corona profile, occulter/pylon/vignetting transmission, polar look-up indices) is
computed once per detector and cached. Per frame only a small polar grid of the slowly
varying modulation (streamers, CMEs) is evaluated and gathered, stars are splatted as small
stamps, and noise is added.

Image convention: FITS array, x = column, y = row, 0-based, solar north up (+y), east to the
left (-x). The Sun moves eastward along the ecliptic by ~0.986 deg/day, so the stars drift
toward +x (west, right) at ~0.53 px per 12 min in C3 and ~2.5 px in C2, along the ecliptic,
which in a solar-north-up frame is tilted from the x axis by up to +-7.25 deg over the year
(see :func:`ecliptic_tilt_deg`). All stars share that velocity (:func:`star_velocity`).

Positions here are in that roll-0 frame. With a spacecraft roll (``SimConfig.roll_deg``)
the renderer turns the sky (stars, comets, planets, streamers, CMEs) by -roll about the Sun
centre with :func:`sky_to_array`; the instrument (occulter, pylon, vignetting, field stop,
detector defects) stays fixed in the array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator._rng import rng_for

SIZE = 1024
RSUN_ARCSEC = 959.6  # solar radius seen from 1 AU
SUN_DEG_PER_DAY = 0.9856474  # mean motion of the Sun along the ecliptic
J2000 = datetime(2000, 1, 1, 12, tzinfo=UTC)
SATURATION = 32767  # int16 limit


@dataclass(frozen=True)
class Optics:
    """Fixed properties of one coronagraph, at full (1024 x 1024) resolution."""

    detector: Detector
    plate_scale: float  # arcsec/px
    sun_x: float  # 0-based column of the Sun centre
    sun_y: float
    occulter_rsun: float
    occulter_edge_px: float
    field_stop_px: float
    vignette_start_px: float
    vignette_depth: float
    pylon_angle_deg: float  # image angle (from +x, counter-clockwise) of the pylon arm
    pylon_halfwidth_px: tuple[float, float]  # at the occulter, at the field stop
    pylon_transmission: float
    bias: float  # DN
    gain: float  # electrons per DN
    read_noise: float  # DN
    k_corona: tuple[float, float]  # DN/s at r0, power law index (K corona)
    f_corona: tuple[float, float]  # DN/s at r0, power law index (F corona)
    corona_r0: float  # R_sun
    star_min_rate: float  # faintest star peak, DN/s
    star_density: float  # stars brighter than star_min_rate per px^2
    cosmic_ray_factor: float

    @property
    def px_per_rsun(self) -> float:
        return RSUN_ARCSEC / self.plate_scale

    @property
    def occulter_px(self) -> float:
        return self.occulter_rsun * self.px_per_rsun


OPTICS: dict[Detector, Optics] = {
    Detector.C2: Optics(
        detector=Detector.C2,
        plate_scale=11.9,
        sun_x=511.6,
        sun_y=505.2,
        occulter_rsun=2.2,
        occulter_edge_px=2.0,
        field_stop_px=545.0,
        vignette_start_px=380.0,
        vignette_depth=0.35,
        pylon_angle_deg=-128.0,
        pylon_halfwidth_px=(7.0, 9.0),
        pylon_transmission=0.15,
        bias=470.0,
        gain=3.0,
        read_noise=2.6,
        k_corona=(150.0, 3.6),
        f_corona=(12.0, 2.2),
        corona_r0=2.3,
        star_min_rate=1.5,
        star_density=2.5e-4,
        cosmic_ray_factor=0.4,
    ),
    Detector.C3: Optics(
        detector=Detector.C3,
        plate_scale=56.0,
        sun_x=516.956,
        sun_y=531.632,
        occulter_rsun=3.8,
        occulter_edge_px=2.0,
        field_stop_px=535.0,
        vignette_start_px=360.0,
        vignette_depth=0.45,
        pylon_angle_deg=-128.0,
        pylon_halfwidth_px=(13.0, 21.0),
        pylon_transmission=0.04,
        bias=380.0,
        gain=3.0,
        read_noise=2.4,
        k_corona=(320.0, 3.0),
        f_corona=(40.0, 2.3),
        corona_r0=4.0,
        star_min_rate=0.25,
        star_density=1.6e-3,
        cosmic_ray_factor=1.0,
    ),
}


def seconds_since_j2000(when: datetime) -> float:
    return (when - J2000).total_seconds()


def sky_to_array(
    optics: Optics, x: np.ndarray, y: np.ndarray, roll_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """Array position of sky objects given at their solar-north-up ("roll 0") positions.

    The spacecraft (occulter, pylon, detector) rolls, the sky does not. The header WCS maps
    pixel -> helioprojective as ``plate_scale * R(roll) @ (p - sun)``, so a sky object at
    roll-0 offset ``d0`` from the Sun centre is drawn at ``sun + R(-roll) @ d0``, with
    ``R(r) = [[cos r, -sin r], [sin r, cos r]]``. At roll 0 the inputs come back unchanged
    (same objects), so the nominal bytes never depend on this arithmetic.
    """
    if roll_deg == 0.0:
        return x, y
    r = math.radians(roll_deg)
    c, s = math.cos(r), math.sin(r)
    dx = np.asarray(x, dtype=np.float64) - optics.sun_x
    dy = np.asarray(y, dtype=np.float64) - optics.sun_y
    return optics.sun_x + c * dx + s * dy, optics.sun_y - s * dx + c * dy


def sun_longitude_deg(when: datetime) -> float:
    """The Sun's true ecliptic longitude (deg, unwrapped): the almanac's low-precision series.

    Mean longitude plus the equation of centre, good to ~0.01 deg. The simulator draws its
    stars with this (its own physics, independent of the astropy ephemeris the hunter
    predicts the drift with), so the Sun runs ~3.4 % faster in January than in July.
    """
    days = seconds_since_j2000(when) / 86400.0
    anomaly = math.radians(357.528 + 0.9856003 * days)
    return (
        280.460 + SUN_DEG_PER_DAY * days + 1.915 * math.sin(anomaly) + 0.020 * math.sin(2 * anomaly)
    )


def sun_rate_deg_per_day(when: datetime) -> float:
    """d(longitude)/dt of :func:`sun_longitude_deg`, deg per day."""
    days = seconds_since_j2000(when) / 86400.0
    anomaly = math.radians(357.528 + 0.9856003 * days)
    k = math.radians(0.9856003)
    return SUN_DEG_PER_DAY + k * (1.915 * math.cos(anomaly) + 0.040 * math.cos(2 * anomaly))


def ecliptic_tilt_deg(when: datetime) -> float:
    """Angle of the ecliptic against the x axis of a solar-north-up image, degrees.

    The solar equator is inclined 7.25 deg to the ecliptic (node at longitude 75.76 deg);
    seen from Earth the projected angle is atan(cos(L - node) tan 7.25) for Sun longitude L.
    """
    longitude = math.radians(sun_longitude_deg(when))
    return math.degrees(
        math.atan(math.cos(longitude - math.radians(75.76)) * math.tan(math.radians(7.25)))
    )


def star_velocity(detector: Detector, when: datetime) -> tuple[float, float]:
    """Velocity (vx, vy) in full-resolution px per second shared by every star (roll 0)."""
    optics = OPTICS[Detector(detector)]
    tilt = math.radians(ecliptic_tilt_deg(when))
    speed = sun_rate_deg_per_day(when) * 3600.0 / optics.plate_scale / 86400.0
    return speed * math.cos(tilt), speed * math.sin(tilt)


# --------------------------------------------------------------------------- static layers


@dataclass(frozen=True)
class Static:
    """Per-detector arrays that never change (full resolution, float32 unless noted)."""

    r: np.ndarray  # px from Sun centre
    transmission: np.ndarray  # occulter x pylon x vignetting x field stop, 0..1
    corona: np.ndarray  # K+F radial profile x transmission, DN/s
    polar_index: np.ndarray  # int32 flat index into the modulation polar grid
    r_grid: np.ndarray  # polar grid radii (px), shape (NR,)
    theta_grid: np.ndarray  # polar grid angles (rad), shape (NT,)


N_R = 192
N_THETA = 720
R_MAX = 780.0


def _theta_grid() -> np.ndarray:
    """Centres of the polar grid's angle bins, -pi..pi (float32)."""
    return (np.arange(N_THETA, dtype=np.float32) + 0.5) * np.float32(
        2 * np.pi / N_THETA
    ) - np.float32(np.pi)


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angle difference wrapped into [-pi, pi)."""
    return (angle + np.float32(np.pi)) % np.float32(2 * np.pi) - np.float32(np.pi)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))).astype(np.float32)


def transmission_at(optics: Optics, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Occulter, pylon, vignetting and field-stop transmission at pixel positions."""
    dx = (np.asarray(x, dtype=np.float32) - np.float32(optics.sun_x)).astype(np.float32)
    dy = (np.asarray(y, dtype=np.float32) - np.float32(optics.sun_y)).astype(np.float32)
    r = np.hypot(dx, dy)
    occ = _sigmoid((r - optics.occulter_px) / optics.occulter_edge_px)
    stop = _sigmoid((optics.field_stop_px - r) / 6.0)
    ramp = np.clip(
        (r - optics.vignette_start_px) / (optics.field_stop_px - optics.vignette_start_px), 0, 1
    )
    vign = 1.0 - optics.vignette_depth * ramp * ramp * (3.0 - 2.0 * ramp)
    a = math.radians(optics.pylon_angle_deg)
    along = dx * math.cos(a) + dy * math.sin(a)
    across = np.abs(-dx * math.sin(a) + dy * math.cos(a))
    w0, w1 = optics.pylon_halfwidth_px
    frac = np.clip((along - optics.occulter_px) / (optics.field_stop_px - optics.occulter_px), 0, 1)
    half = w0 + (w1 - w0) * frac
    inside = _sigmoid((half - across) / 1.5) * _sigmoid(along / 2.0)
    pylon = 1.0 - (1.0 - optics.pylon_transmission) * inside
    return (occ * stop * vign * pylon).astype(np.float32)


def radial_corona(optics: Optics, r_px: np.ndarray) -> np.ndarray:
    """K + F corona brightness (DN/s) at radius ``r_px``, before transmission."""
    rs = np.maximum(np.asarray(r_px, dtype=np.float32) / optics.px_per_rsun, 0.5) / optics.corona_r0
    (ka, kp), (fa, fp) = optics.k_corona, optics.f_corona
    value = ka * rs**-kp + fa * rs**-fp
    # The bright diffraction fringe just outside the occulter edge.
    ring_r = optics.occulter_px + 1.5 * optics.occulter_edge_px
    value = value * (
        1.0 + 0.4 * np.exp(-(((r_px - ring_r) / (1.5 * optics.occulter_edge_px)) ** 2))
    )
    return value.astype(np.float32)


@lru_cache(maxsize=4)
def static_layers(detector: Detector) -> Static:
    optics = OPTICS[Detector(detector)]
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    dx = x - np.float32(optics.sun_x)
    dy = y - np.float32(optics.sun_y)
    r = np.hypot(dx, dy).astype(np.float32)
    theta = np.arctan2(dy, dx)
    trans = transmission_at(optics, x, y)
    corona = (radial_corona(optics, r) * trans).astype(np.float32)
    r_grid = (np.arange(N_R, dtype=np.float32) + 0.5) * np.float32(R_MAX / N_R)
    theta_grid = _theta_grid()
    ri = np.clip((r * (N_R / R_MAX)).astype(np.int32), 0, N_R - 1)
    ti = np.clip(((theta + np.pi) * (N_THETA / (2 * np.pi))).astype(np.int32), 0, N_THETA - 1)
    for arr in (r, trans, corona):
        arr.setflags(write=False)
    polar_index = (ri * N_THETA + ti).astype(np.int32)
    polar_index.setflags(write=False)
    return Static(r, trans, corona, polar_index, r_grid, theta_grid)


# --------------------------------------------------------------------------- streamers + CMEs


@dataclass(frozen=True)
class Streamers:
    """A day's streamer belt: position angles, widths (rad) and relative brightnesses."""

    angles: np.ndarray
    widths: np.ndarray
    amps: np.ndarray
    pole_level: float
    rays: np.ndarray  # fine radial striations: relative brightness on the polar angle grid


@lru_cache(maxsize=64)
def streamers_for_day(seed: int, day_number: int) -> Streamers:
    """The streamer set of one day; the corona at time t blends day d and d+1."""
    rng = rng_for(seed, "streamers", day_number)
    n = int(rng.integers(4, 8))
    east = rng.random(n) < 0.5
    latitude = rng.normal(0.0, 0.35, n)  # rad, belt around the equator
    angles = np.where(east, np.pi - latitude, latitude)
    n_rays = 60
    ray_angle = rng.uniform(-np.pi, np.pi, n_rays)
    ray_width = rng.uniform(0.008, 0.035, n_rays)
    ray_amp = rng.uniform(0.04, 0.3, n_rays)
    grid = _theta_grid()
    d = _wrap(grid[:, None] - ray_angle[None, :])
    rays = 1.0 + (ray_amp * np.exp(-0.5 * (d / ray_width) ** 2)).sum(axis=1)
    return Streamers(
        angles=angles.astype(np.float32),
        widths=rng.uniform(0.05, 0.18, n).astype(np.float32),
        amps=rng.uniform(0.8, 4.0, n).astype(np.float32),
        pole_level=float(rng.uniform(0.25, 0.5)),
        rays=rays.astype(np.float32),
    )


def _streamer_field(
    s: Streamers, r_rel: np.ndarray, theta: np.ndarray, scale: float = 1.0
) -> np.ndarray:
    """Angular modulation (>= pole level) at polar positions; r_rel = r / occulter radius.

    ``theta`` is the sky (roll 0) polar angle; ``scale`` multiplies the streamers' amplitudes
    (bright-streamer profiles).
    """
    lat = np.abs(np.sin(theta))  # 0 at the equator (east/west), 1 at the poles
    out = (s.pole_level + (1.0 - s.pole_level) * (1.0 - lat * lat)).astype(np.float32)
    narrowing = np.power(np.maximum(r_rel, 1.0), -0.25).astype(np.float32)
    amps = s.amps if scale == 1.0 else (s.amps * np.float32(scale)).astype(np.float32)
    for angle, width, amp in zip(s.angles, s.widths, amps, strict=True):
        d = _wrap(theta - angle)
        w = width * narrowing
        out = out + amp * np.exp(-0.5 * (d / w) ** 2)
    rays = np.interp(theta, _theta_grid(), s.rays, period=2 * np.pi).astype(np.float32)
    return out * rays


@dataclass(frozen=True)
class Cme:
    start: float  # seconds since J2000 when the front leaves the occulter
    angle: float  # central image angle, rad
    width: float  # half width, rad
    speed_px_s: float  # front speed, px/s (full resolution of this detector)
    amp: float  # front brightness relative to the local corona


def cmes_for_day(seed: int, day_number: int, detector: Detector, rate: float) -> list[Cme]:
    optics = OPTICS[Detector(detector)]
    rng = rng_for(seed, "cme", day_number, detector.value)
    n = int(rate) + int(rng.random() < rate - int(rate))
    day_start = day_number * 86400.0 - 43200.0  # J2000 is at noon
    out = []
    for _ in range(n):
        km_s = float(rng.uniform(300.0, 1500.0))
        out.append(
            Cme(
                start=day_start + float(rng.uniform(0, 86400.0)),
                angle=float(rng.uniform(-np.pi, np.pi)),
                width=float(rng.uniform(0.25, 0.8)),
                speed_px_s=km_s / 696000.0 * optics.px_per_rsun,
                amp=float(rng.uniform(1.0, 3.0)),
            )
        )
    return out


def _cme_field(
    cme: Cme, optics: Optics, t: float, r: np.ndarray, theta: np.ndarray
) -> np.ndarray | None:
    front = optics.occulter_px + cme.speed_px_s * (t - cme.start)
    if t < cme.start or front > 1.5 * R_MAX:
        return None
    d = _wrap(theta - np.float32(cme.angle))
    angular = _sigmoid((cme.width - np.abs(d)) / 0.05)
    thick = max(4.0, 0.12 * front)
    shell = np.exp(-0.5 * ((r - front) / thick) ** 2)
    core = 0.25 * _sigmoid((front - thick - r) / thick) * _sigmoid((r - 0.4 * front) / thick)
    fade = 1.0 / (1.0 + (t - cme.start) / 43200.0)
    return (cme.amp * fade * angular * (shell + core)).astype(np.float32)


def _sky_theta(theta: np.ndarray, roll_deg: float) -> np.ndarray:
    """Sky (roll 0) polar angle of array polar angle ``theta``: the sky appears rotated by
    -roll in the array, so the array angle is the sky angle minus the roll."""
    if roll_deg == 0.0:
        return theta
    return (theta + np.float32(math.radians(roll_deg))).astype(np.float32)


@lru_cache(maxsize=16)
def _streamer_grid(
    seed: int, day_number: int, detector: Detector, scale: float = 1.0, roll_deg: float = 0.0
) -> np.ndarray:
    """A day's streamer field on the detector's (array) polar grid (cached: used all day)."""
    st = static_layers(detector)
    rr, tt = np.meshgrid(st.r_grid, st.theta_grid, indexing="ij")
    r_rel = rr / np.float32(OPTICS[detector].occulter_px)
    field = _streamer_field(
        streamers_for_day(seed, day_number), r_rel, _sky_theta(tt, roll_deg), scale
    ).astype(np.float32)
    field.setflags(write=False)
    return field


def modulation(
    seed: int,
    detector: Detector,
    when: datetime,
    r: np.ndarray,
    theta: np.ndarray,
    *,
    cme_rate: float,
    with_cmes: bool = True,
    streamer_scale: float = 1.0,
    roll_deg: float = 0.0,
) -> np.ndarray:
    """Multiplicative corona structure (streamers blended between days, plus CMEs).

    ``theta`` is the array polar angle; with a roll the pattern is turned by -roll.
    """
    optics = OPTICS[Detector(detector)]
    t = seconds_since_j2000(when)
    days = (t + 43200.0) / 86400.0
    d0 = math.floor(days)
    f = np.float32(days - d0)
    r_rel = (r / np.float32(optics.occulter_px)).astype(np.float32)
    theta = _sky_theta(theta, roll_deg)
    s0, s1 = streamers_for_day(seed, d0), streamers_for_day(seed, d0 + 1)
    out: np.ndarray = (1 - f) * _streamer_field(s0, r_rel, theta, streamer_scale)
    out += f * _streamer_field(s1, r_rel, theta, streamer_scale)
    if with_cmes:
        for day in (d0 - 1, d0):
            for cme in cmes_for_day(seed, day, detector, cme_rate):
                field = _cme_field(cme, optics, t, r, theta)
                if field is not None:
                    out = out * (1.0 + field)
    return out.astype(np.float32)


def modulation_image(
    seed: int,
    detector: Detector,
    when: datetime,
    *,
    cme_rate: float,
    with_cmes: bool,
    streamer_scale: float = 1.0,
    roll_deg: float = 0.0,
) -> np.ndarray:
    """The modulation of :func:`modulation` gathered onto the full image from the polar grid."""
    detector = Detector(detector)
    st = static_layers(detector)
    optics = OPTICS[detector]
    t = seconds_since_j2000(when)
    days = (t + 43200.0) / 86400.0
    d0 = math.floor(days)
    f = np.float32(days - d0)
    polar = (1 - f) * _streamer_grid(seed, d0, detector, streamer_scale, roll_deg) + f * (
        _streamer_grid(seed, d0 + 1, detector, streamer_scale, roll_deg)
    )
    if with_cmes:
        rr, tt = np.meshgrid(st.r_grid, st.theta_grid, indexing="ij")
        tt = _sky_theta(tt, roll_deg)
        for day in (d0 - 1, d0):
            for cme in cmes_for_day(seed, day, detector, cme_rate):
                field = _cme_field(cme, optics, t, rr, tt)
                if field is not None:
                    polar = polar * (1.0 + field)
    return polar.ravel()[st.polar_index]


# --------------------------------------------------------------------------- stars


TILE_PX = 512.0
STRIP_HALF_HEIGHT = 820.0
PSF_SIGMA = 1.1


@lru_cache(maxsize=512)
def _tile_stars(
    seed: int, detector: Detector, tile: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stars of one tile of the ecliptic strip: (u along the strip, v across, peak DN/s)."""
    optics = OPTICS[detector]
    rng = rng_for(seed, "stars", detector.value, tile)
    n = int(rng.poisson(optics.star_density * TILE_PX * 2 * STRIP_HALF_HEIGHT))
    u = (tile + rng.random(n)) * TILE_PX
    v = rng.uniform(-STRIP_HALF_HEIGHT, STRIP_HALF_HEIGHT, n)
    # Cumulative counts N(>F) ~ F^-0.9: many faint, few bright (the brightest saturate).
    peak = optics.star_min_rate * rng.random(n) ** (-1.0 / 0.9)
    return u, v, np.minimum(peak, 2.0e5)


def star_positions(
    seed: int, detector: Detector, when: datetime
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image positions (x, y) and peak rates (DN/s) of the stars in the field at ``when``."""
    detector = Detector(detector)
    optics = OPTICS[detector]
    circumference = 360.0 * 3600.0 / optics.plate_scale
    n_tiles = int(round(circumference / TILE_PX))
    tile_px = circumference / n_tiles
    # where the Sun is along the strip: its true longitude since J2000's mean one, in px
    u_sun = ((sun_longitude_deg(when) - 280.460) * 3600.0 / optics.plate_scale) % circumference
    first = math.floor((u_sun - 800.0) / tile_px)
    last = math.floor((u_sun + 800.0) / tile_px)
    tilt = math.radians(ecliptic_tilt_deg(when))
    xs, ys, ps = [], [], []
    for k in range(first, last + 1):
        u, v, peak = _tile_stars(seed, detector, k % n_tiles)
        u = u / TILE_PX * tile_px + (k - k % n_tiles) * tile_px
        along = u_sun - u  # grows with time: stars drift toward +x (west)
        xs.append(optics.sun_x + along * math.cos(tilt) - v * math.sin(tilt))
        ys.append(optics.sun_y + along * math.sin(tilt) + v * math.cos(tilt))
        ps.append(peak)
    x, y, p = np.concatenate(xs), np.concatenate(ys), np.concatenate(ps)
    # a disc about the Sun that holds the array at any roll (its corners are < 760 px away)
    keep = np.hypot(x - optics.sun_x, y - optics.sun_y) < 760.0
    return x[keep], y[keep], p[keep]


def splat(
    image: np.ndarray, x: np.ndarray, y: np.ndarray, peak: np.ndarray, sigma: float, half: int = 3
) -> None:
    """Add Gaussian point sources (peak value at the exact position) into ``image`` in place."""
    if len(x) == 0:
        return
    h, w = image.shape
    ix = np.rint(x).astype(np.int64)
    iy = np.rint(y).astype(np.int64)
    offs = np.arange(-half, half + 1)
    px = ix[:, None] + offs[None, :]  # (N, K)
    py = iy[:, None] + offs[None, :]
    gx = np.exp(-0.5 * ((px - x[:, None]) / sigma) ** 2)
    gy = np.exp(-0.5 * ((py - y[:, None]) / sigma) ** 2)
    vals = (peak[:, None, None] * gy[:, :, None] * gx[:, None, :]).astype(np.float32)
    yy = np.broadcast_to(py[:, :, None], vals.shape)
    xx = np.broadcast_to(px[:, None, :], vals.shape)
    ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
    flat = (yy[ok] * w + xx[ok]).astype(np.int64)
    image += np.bincount(flat, weights=vals[ok], minlength=h * w).astype(np.float32).reshape(h, w)


# --------------------------------------------------------------------------- planets


@dataclass(frozen=True)
class Planet:
    name: str
    x: float  # full-resolution px, north-up (roll 0) frame: roll is applied by the renderer
    y: float
    peak: float  # DN/s


#: Magnitude of a star whose peak is ``Optics.star_min_rate`` (the faintest drawn).
LIMITING_MAGNITUDE = {Detector.C2: 7.0, Detector.C3: 9.0}


def planets_at(detector: Detector, when: datetime) -> list[Planet]:
    """The planets in the field at ``when``, where astropy's built-in ephemeris puts them.

    Real planets cross the LASCO fields every year (Mercury several times): the hunter must
    label them, so the simulator draws them where the ephemeris says and as bright as their
    magnitude (Venus and Jupiter saturate and bleed).
    """
    from comet_pipeline.imaging.ephemeris import FrameGeometry, planets_in_frame

    detector = Detector(detector)
    optics = OPTICS[detector]
    geometry = FrameGeometry(when, optics.sun_x, optics.sun_y, optics.plate_scale, 0.0)
    out = []
    for body in planets_in_frame(geometry, (SIZE, SIZE), margin=8.0):
        peak = optics.star_min_rate * 10.0 ** (
            -0.4 * (body.magnitude - LIMITING_MAGNITUDE[detector])
        )
        out.append(Planet(body.name, body.x, body.y, float(peak)))
    return out
