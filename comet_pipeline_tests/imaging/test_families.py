"""The families' corridors against an independent orbit, the simulator, and the planets."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import CartesianRepresentation, SkyCoord, get_body_barycentric
from astropy.time import Time
from PIL import Image
from scipy.integrate import solve_ivp

from comet_pipeline.archive.fits_header import helioprojective_wcs
from comet_pipeline.domain import Detector, FitsInfo
from comet_pipeline.imaging import families as fam
from comet_pipeline.imaging.ephemeris import FrameGeometry
from comet_pipeline.imaging.geometry import R_SUN_ARCSEC
from comet_pipeline.imaging.masks import FIELD
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.sky import OPTICS
from comet_pipeline_tests.shared import SEED

DAY = datetime(2025, 6, 10, 12, tzinfo=UTC)
C_AU_PER_S = 173.144632674 / 86400.0
GM_SUN = fam.GAUSS_K**2 / 86400.0**2  # AU^3 / s^2


def _independent_orbit(el: fam.OrbitalElements, perihelion: datetime):
    """Heliocentric ICRS position (AU) at a time: the two-body problem integrated numerically
    from the perihelion state (no Barker's equation), orientation via astropy's ecliptic."""
    from astropy.coordinates import ICRS, HeliocentricMeanEcliptic

    v_peri = math.sqrt(2.0 * GM_SUN / el.q_au)  # parabola
    w, node, inc = (math.radians(v) for v in (el.peri_deg, el.node_deg, el.incl_deg))

    def rot(vec):  # orbit plane -> ecliptic: R_z(node) R_x(inc) R_z(w)
        def rz(a):
            return np.array(
                [[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]
            )

        rx = np.array(
            [[1, 0, 0], [0, math.cos(inc), -math.sin(inc)], [0, math.sin(inc), math.cos(inc)]]
        )
        return rz(node) @ rx @ rz(w) @ vec

    def accel(_t, s):
        r = s[:3]
        return np.concatenate([s[3:], -GM_SUN * r / np.linalg.norm(r) ** 3])

    state0 = np.concatenate([rot(np.array([el.q_au, 0, 0])), rot(np.array([0, v_peri, 0]))])
    t_peri = perihelion.timestamp()

    def at(unix_s: float) -> np.ndarray:
        dt = unix_s - t_peri
        sol = solve_ivp(accel, (0.0, dt), state0, rtol=1e-11, atol=1e-14, method="DOP853")
        ecl = sol.y[:3, -1]
        # the ecliptic of J2000 -> ICRS with astropy's frames (equinox J2000)
        c = SkyCoord(
            CartesianRepresentation(*(ecl * u.AU)),
            frame=HeliocentricMeanEcliptic(equinox="J2000", obstime="J2000"),
        )
        # HeliocentricMeanEcliptic -> ICRS moves the origin to the barycentre: undo it
        icrs = c.transform_to(ICRS()).cartesian.xyz.to_value(u.AU)
        sun = get_body_barycentric("sun", Time("J2000"), ephemeris="builtin").xyz.to_value(u.AU)
        return icrs - sun

    return at


def _independent_pixels(el, perihelion, times, info: FitsInfo):
    """Pixels of the comet seen from L1 at ``times``: retarded time iterated, the Sun's
    offset frame of astropy (rotated to solar north) and the archive's helioprojective WCS."""
    at = _independent_orbit(el, perihelion)
    wcs = helioprojective_wcs(info)
    pole = SkyCoord(ra=286.13 * u.deg, dec=63.87 * u.deg, frame="icrs")
    out = []
    for t in times:
        tt = Time(t, format="unix", scale="utc")
        sun = get_body_barycentric("sun", tt, ephemeris="builtin").xyz.to_value(u.AU)
        earth = get_body_barycentric("earth", tt, ephemeris="builtin").xyz.to_value(u.AU)
        obs = sun + 0.99 * (earth - sun)
        t_emit = t
        for _ in range(4):  # light time
            te = Time(t_emit, format="unix", scale="utc")
            sun_e = get_body_barycentric("sun", te, ephemeris="builtin").xyz.to_value(u.AU)
            comet = sun_e + at(t_emit)
            t_emit = t - np.linalg.norm(comet - obs) / C_AU_PER_S
        sun_c = SkyCoord(CartesianRepresentation(*((sun - obs) * u.AU)), frame="icrs")
        comet_c = SkyCoord(CartesianRepresentation(*((comet - obs) * u.AU)), frame="icrs")
        # solar north on the sky: the direction towards the pole's point at the Sun
        sun_dir = SkyCoord(sun_c.spherical.lon, sun_c.spherical.lat, frame="icrs")
        off = SkyCoord(comet_c.spherical.lon, comet_c.spherical.lat, frame="icrs").transform_to(
            sun_dir.skyoffset_frame(rotation=sun_dir.position_angle(pole))
        )
        hpln = -off.lon.wrap_at(180 * u.deg).to_value(u.deg)  # offset lon grows east, HPLN west
        hplt = off.lat.to_value(u.deg)  # the WCS works in degrees
        x, y = wcs.wcs_world2pix([[hpln, hplt]], 0)[0]
        out.append((x, y))
    return np.array(out)


def _info(detector: Detector, when: datetime) -> FitsInfo:
    o = OPTICS[detector]
    return FitsInfo(
        when,
        detector,
        20.0,
        1024,
        1024,
        1,
        0.0,
        o.sun_x,
        o.sun_y,
        o.plate_scale,
        0.0,
        "",
        "",
        "",
        0,
        "0.5",
    )


@pytest.mark.parametrize("detector", list(Detector))
def test_kreutz_path_passes_within_pixels_of_an_independently_computed_orbit(detector):
    o = OPTICS[detector]
    geometry = FrameGeometry(DAY, o.sun_x, o.sun_y, o.plate_scale, 0.0)
    (line,) = [
        ln
        for ln in fam.orbit_polylines(geometry, detector, perihelion=DAY, families=("Kreutz",))
        if ln.label == "Kreutz I"
    ]
    assert len(line) > 50
    times = np.linspace(line.unix_s[0], line.unix_s[-1], 6)
    truth = _independent_pixels(fam.FAMILIES["Kreutz"].mean, DAY, times, _info(detector, DAY))
    x = np.interp(times, line.unix_s, line.x)
    y = np.interp(times, line.unix_s, line.y)
    err = np.hypot(x - truth[:, 0], y - truth[:, 1])
    # same place at the same time: orbit, light time, projection and WCS all agree
    assert err.max() < 2.0, err


def test_the_corridor_moves_through_the_year_and_crosses_c3_slower_than_c2():
    june = {d: fam.envelope("Kreutz", d, DAY) for d in Detector}
    december = fam.envelope("Kreutz", Detector.C2, DAY + timedelta(days=180))
    assert all(e.visible for e in june.values())
    # the Sun-grazing path ends at the occulter from the south-west in June, south-east
    # (entry ~220 deg) in December: the Earth has gone half round the Sun
    assert 290 < june[Detector.C2].entry_angle_deg[0] < 340
    assert 200 < december.entry_angle_deg[0] < 240
    # C3's plate scale is ~4.7 x C2's: slower in px/h, far longer in the field
    assert june[Detector.C3].speed_px_h[1] < june[Detector.C2].speed_px_h[0]
    assert june[Detector.C3].hours_in_field[0] > 5 * june[Detector.C2].hours_in_field[1]


def _corridor_distances(config: SimConfig, start: datetime, days: int):
    """Per simulated Kreutz comet: its detector and, per truth frame, the distance (px) to
    the featured corridor drawn for that frame's time and the cosine between its motion
    and the corridor's direction there."""
    sim = SimArchive(config)
    out = []
    for detector in Detector:
        o = OPTICS[detector]
        for truth in sim.truth(start, start + timedelta(days=days), detector):
            if truth.group != "Kreutz" or len(truth.frames) < 3:
                continue
            dist, cos = [], []
            field = FIELD[detector]
            r_sun_px = R_SUN_ARCSEC / o.plate_scale
            for a, b in zip(truth.frames, truth.frames[1:], strict=False):
                rho = math.hypot(a.x - o.sun_x, a.y - o.sun_y) / r_sun_px
                if not field.inner_rsun <= rho <= field.outer_rsun:
                    continue  # the corridor is drawn only where the frame holds sky
                g = FrameGeometry(a.observed_at, o.sun_x, o.sun_y, o.plate_scale, 0.0)
                near = fam.nearest_on_corridor(g, detector, a.x, a.y)
                assert near is not None
                d, (tx, ty) = near
                step = math.hypot(b.x - a.x, b.y - a.y)
                dist.append(d)
                cos.append(((b.x - a.x) * tx + (b.y - a.y) * ty) / step)
            out.append((detector, np.array(dist), np.array(cos)))
    return out


@pytest.mark.parametrize(
    "day", [datetime(2025, 3, 20, tzinfo=UTC), datetime(2025, 9, 1, tzinfo=UTC)]
)
def test_featured_kreutz_corridor_passes_within_pixels_of_the_simulated_kreutz_comets(day):
    """With no scatter about the subgroups' elements, every simulated Kreutz comet, frame by
    frame, lies on the corridor drawn for that frame and moves along it: the simulator goes
    from time to position (Barker solved, light time iterated), the corridor from true
    anomaly to position, so they agree only if both put the orbit in the same place."""
    config = SimConfig(seed=SEED, comets_per_day=2.0, kreutz_spread_deg=0.0, kreutz_q_spread=0.0)
    comets = _corridor_distances(config, day, 2)
    assert {d for d, _, _ in comets} == set(Detector) and len(comets) >= 4
    for _detector, dist, cos in comets:
        assert dist.max() < 2.0, dist.max()
        assert cos.min() > 0.99


def test_scattered_kreutz_comets_stay_inside_the_corridor_band():
    """With the default scatter (+-3 deg, q +-20 %) the members spread into a band about the
    mean path, as real ones do: a few R_sun wide (C2 ~80 px, C3 ~17 px per R_sun; widest in
    C3 in June, when the orbits are seen foreshortened), heading the same way."""
    config = SimConfig(seed=SEED, comets_per_day=2.0)
    comets = _corridor_distances(config, datetime(2025, 6, 8, tzinfo=UTC), 3)
    assert len(comets) >= 4
    medians = []
    for detector, dist, cos in comets:
        r_sun_px = R_SUN_ARCSEC / OPTICS[detector].plate_scale
        medians.append(float(np.median(dist)) / r_sun_px)
        assert np.median(dist) < 4.0 * r_sun_px
        assert np.median(cos) > 0.95
    assert max(medians) > 0.05  # scattered: not all on the mean path


def test_planets_in_the_fields_match_published_conjunctions():
    # Jupiter's solar conjunction: 2025-06-24 (0.6 R_sun from the centre: behind C3's
    # occulter that day, in the field four days before); Mercury's superior conjunction
    # 2025-05-30 (1.2 deg from the Sun)
    assert len(fam.planet_hours(Detector.C3, datetime(2025, 6, 20, tzinfo=UTC))["jupiter"]) == 24
    assert "jupiter" not in fam.planet_hours(Detector.C3, datetime(2025, 6, 24, tzinfo=UTC))
    assert "mercury" in fam.planet_hours(Detector.C3, datetime(2025, 5, 30, tzinfo=UTC))
    assert fam.planet_hours(Detector.C3, datetime(2025, 6, 10, tzinfo=UTC)) == {}


def test_overlay_draws_the_corridor_where_the_polyline_is(tmp_path):
    preview = tmp_path / "grey.png"
    Image.fromarray(np.full((512, 512), 60, np.uint8), mode="L").save(preview)
    geometry = fam.nominal_geometry(Detector.C2, DAY)
    lines = fam.family_polylines(geometry, Detector.C2)
    out = fam.draw_overlay(preview, tmp_path / "o.png", lines, [], naxis1=1024, naxis2=1024)
    rgb = np.asarray(Image.open(out).convert("RGB"))
    kreutz = next(ln for ln in lines if ln.label == "Kreutz I")
    k = len(kreutz) // 2
    # FITS (x, y) -> PNG 512: x/2, row flipped
    px, py = (kreutz.x[k] + 0.5) / 2 - 0.5, 511 - ((kreutz.y[k] + 0.5) / 2 - 0.5)
    patch = rgb[int(py) - 1 : int(py) + 2, int(px) - 1 : int(px) + 2].reshape(-1, 3)
    assert any(tuple(p) == fam.COLOURS["Kreutz"] for p in patch)
    assert tuple(rgb[5, 5]) == (60, 60, 60)  # the rest is the preview
