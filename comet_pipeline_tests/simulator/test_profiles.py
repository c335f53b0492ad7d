"""Sky profiles: each renders valid FITS by seed and stresses what its docstring says.

Also the physical roll (the sky turns in the array, the instrument does not) and how a
profile is selected (``sim://lasco-<profile>``, ``--profile``).
"""

from __future__ import annotations

import io
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from scipy import ndimage

from comet_pipeline import cli
from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.defs.resources import ArchiveResource, ClockResource
from comet_pipeline.domain.models import Detector
from comet_pipeline.settings import Settings, SettingsError
from comet_pipeline.simulator import SimArchive, SimConfig
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.detector_effects import defects_for, storm_factor
from comet_pipeline.simulator.profiles import (
    PROFILES,
    archive_url_for,
    profile_config,
    profile_from_url,
    profile_names,
)
from comet_pipeline.simulator.render import field_stars, fits_bytes, render_image
from comet_pipeline.simulator.sky import OPTICS, sky_to_array, transmission_at
from comet_pipeline_tests.simulator.conftest import DAY, synoptic_observation

T0 = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
QUIET = dict(noise=False, corona=False, stars=False, cosmic_rays=False, artefacts=False)
QUIET_ALL = dict(QUIET, comets=False)


# --------------------------------------------------------------------------- the registry


def test_profiles_are_named_documented_and_nominal_is_the_default() -> None:
    assert profile_names() == [
        "nominal", "sparse", "dense", "rolled", "storm", "defects", "active", "noisy", "hostile",
    ]  # fmt: skip
    assert all(p.doc for p in PROFILES.values())
    assert profile_config("nominal", seed=4) == SimConfig(seed=4)
    cfg = profile_config("hostile", seed=2)
    assert (cfg.profile, cfg.seed, cfg.roll_deg) == ("hostile", 2, 180.0)
    assert cfg.storms_per_day > 0 and cfg.hot_pixels > 0 and cfg.star_density_scale[0] > 1
    assert profile_config("rolled", roll_deg=90.0).roll_deg == 90.0  # overrides win


def test_an_unknown_profile_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown sky profile 'stormy'.*nominal, sparse"):
        profile_config("stormy")
    with pytest.raises(TypeError, match="not SimConfig fields: rol_deg"):
        profile_config("rolled", rol_deg=3.0)


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_profile_renders_valid_fits_deterministically(name: str) -> None:
    day = DAY
    a, b = SimArchive(profile_config(name, seed=5)), SimArchive(profile_config(name, seed=5))
    for det in Detector:
        obs = [o for o in a.observations(day, det) if o.synoptic][20]
        data = a.render(obs)
        assert data == b.render(obs), "same profile and seed, same bytes"
        with fits.open(io.BytesIO(data)) as hdul:
            hdul.verify("exception")
            image = hdul[0].data
            info = parse_fits_header(hdul[0].header)
        assert image.shape == (1024, 1024) and image.dtype.kind == "i"
        assert image.min() >= 0 and image.max() <= 32767 and np.median(image) > info.offset
        assert info.roll_deg == a.config.roll_deg
        other = SimArchive(profile_config(name, seed=6))
        other_obs = [o for o in other.observations(day, det) if o.synoptic][20]
        assert other.render(other_obs) != data


# --------------------------------------------------------------------------- stars


def _detectable(config: SimConfig, det: Detector, when: datetime) -> int:
    """Stars inside the occulter / field-stop annulus with a transmitted peak >= min rate."""
    optics = OPTICS[det]
    x, y, p = field_stars(config, det, when)
    r = np.hypot(x - optics.sun_x, y - optics.sun_y)
    inside = (r > optics.occulter_px) & (r < optics.field_stop_px)
    inside &= (x >= 0) & (x < 1024) & (y >= 0) & (y < 1024)
    bright = p * transmission_at(optics, x, y) >= optics.star_min_rate
    return int((inside & bright).sum())


@pytest.mark.parametrize(
    ("name", "c2", "c3"), [("nominal", 180, 1170), ("sparse", 20, 200), ("dense", 400, 3000)]
)
def test_star_counts_scale_as_the_profile_says(name: str, c2: int, c3: int) -> None:
    for det, expected in ((Detector.C2, c2), (Detector.C3, c3)):
        counts = [
            _detectable(profile_config(name, seed=s), det, T0 + timedelta(hours=7 * s))
            for s in (1, 2, 3)
        ]
        assert abs(np.mean(counts) - expected) < 0.25 * expected, (name, det, counts)


def test_density_keeps_the_same_stars_from_frame_to_frame() -> None:
    for scale in (0.2, 1.7):
        cfg = SimConfig(seed=3, star_density_scale=(scale, scale))
        t1 = T0 + timedelta(seconds=720)
        for det in Detector:
            nominal = [set(field_stars(SimConfig(seed=3), det, t)[2]) for t in (T0, t1)]
            both = nominal[0] & nominal[1]  # stars of the catalogue in both frames
            kept = [set(field_stars(cfg, det, t)[2]) & both for t in (T0, t1)]
            assert kept[0] == kept[1] and len(kept[0]) > 0


# --------------------------------------------------------------------------- detector defects


def test_defects_sit_on_the_same_array_pixels_in_every_frame_and_at_roll_180() -> None:
    base = profile_config("defects", seed=8, static_ring_amp=0.0, **QUIET_ALL)
    frames = [
        (base, T0),
        (base, T0 + timedelta(days=3, hours=5)),
        (replace(base, roll_deg=180.0), T0 + timedelta(hours=2)),
    ]
    dark = defects_for(8, Detector.C2, base.hot_pixels, base.warm_columns).rate
    assert np.count_nonzero(dark) >= base.hot_pixels
    for config, when in frames:
        obs = synoptic_observation(Detector.C2, when, exptime=25.1)
        image = render_image(config, obs).astype(np.float64)
        bias = float(np.median(image))
        expected = np.minimum(dark * 25.1 + bias, 32767)
        assert np.abs(image - np.rint(expected)).max() <= 1.0


def test_warm_columns_and_hot_pixels_stand_out_in_full_frames_rolled_or_not() -> None:
    config = profile_config("defects", seed=8)
    d = defects_for(8, Detector.C2, config.hot_pixels, config.warm_columns)
    hottest = np.argsort(d.rate[d.hot_y, d.hot_x])[-20:]
    for roll in (0.0, 180.0):
        image = render_image(
            replace(config, roll_deg=roll), synoptic_observation(Detector.C2, T0, 25.1)
        )
        image = image.astype(np.float64)
        local = ndimage.median_filter(image, size=5)
        excess = (image - local)[d.hot_y[hottest], d.hot_x[hottest]]
        assert np.all(excess > 0.5 * d.rate[d.hot_y[hottest], d.hot_x[hottest]] * 25.1 - 30)
        for x, y0, y1 in zip(d.column_x, d.column_y0, d.column_y1, strict=True):
            if not 2 <= x < 1022:
                continue
            col = image[y0:y1, x] - 0.5 * (image[y0:y1, x - 2] + image[y0:y1, x + 2])
            want = float(np.median(d.rate[y0:y1, x])) * 25.1
            assert abs(float(np.median(col)) - want) < 0.3 * want + 10, (roll, x, want)


def test_static_rings_flicker_from_frame_to_frame() -> None:
    config = profile_config("sparse", seed=2, **QUIET_ALL)
    a = render_image(config, synoptic_observation(Detector.C3, T0)).astype(np.float64)
    b = render_image(config, synoptic_observation(Detector.C3, T0 + timedelta(seconds=720))).astype(
        np.float64
    )
    optics = OPTICS[Detector.C3]
    y, x = np.mgrid[0:1024, 0:1024]
    r = np.hypot(x - optics.sun_x, y - optics.sun_y)
    ring = np.abs(r - (optics.occulter_px + 4 * optics.occulter_edge_px)) < 1.5
    assert a[ring].mean() > np.median(a) + 100  # a bright ring
    ratio = (b[ring] - np.median(b)).mean() / (a[ring] - np.median(a)).mean()
    assert abs(ratio - 1.0) > 0.01  # ... whose brightness is not the same in every frame


# --------------------------------------------------------------------------- storms


def _hits(image: np.ndarray) -> int:
    bias = float(np.median(image))
    return int(ndimage.label(image > bias + 50, structure=np.ones((3, 3)))[1])


def test_a_storm_frame_has_thousands_of_hits_and_a_quiet_one_a_few() -> None:
    config = profile_config("storm", seed=3)
    archive = SimArchive(config)
    obs = [o for day in (DAY, DAY + timedelta(days=1)) for o in archive.observations(day, "c3")]
    factors = [storm_factor(config, o.observed_at) for o in obs]
    assert max(factors) > 20 and min(factors) == 1.0
    storm = obs[int(np.argmax(factors))]
    quiet = obs[factors.index(1.0)]
    only_rays = replace(config, noise=False, corona=False, stars=False, artefacts=False)
    only_rays = replace(only_rays, comets=False)
    assert _hits(render_image(only_rays, storm).astype(np.float64)) > 1000
    assert _hits(render_image(only_rays, quiet).astype(np.float64)) < 300
    # episodes of a few hours, one or two a day
    in_storm = [f > 1.0 for f in factors]
    assert 0.05 < np.mean(in_storm) < 0.5


# --------------------------------------------------------------------------- roll


def test_sky_to_array_matches_the_header_wcs() -> None:
    optics = OPTICS[Detector.C2]
    x0, y0 = np.array([100.0, 700.0, 511.6]), np.array([300.0, 900.0, 600.0])
    assert sky_to_array(optics, x0, y0, 0.0)[0] is x0  # untouched at roll 0
    for roll in (180.0, 37.0):
        xa, ya = sky_to_array(optics, x0, y0, roll)
        worlds = []
        for r, (x, y) in ((0.0, (x0, y0)), (roll, (xa, ya))):
            data = fits_bytes(
                SimConfig(roll_deg=r, **QUIET_ALL), synoptic_observation(Detector.C2, T0)
            )
            with fits.open(io.BytesIO(data)) as hdul:
                wcs = helioprojective_wcs(parse_fits_header(hdul[0].header))
            worlds.append(np.array(wcs.pixel_to_world_values(x, y)) * 3600.0)  # arcsec
        np.testing.assert_allclose(worlds[1], worlds[0], atol=1e-3)
    xa, ya = sky_to_array(optics, x0, y0, 180.0)
    np.testing.assert_allclose(xa, 2 * optics.sun_x - x0)
    np.testing.assert_allclose(ya, 2 * optics.sun_y - y0)


def test_comet_truth_at_roll_180_is_the_rotated_roll_0_truth() -> None:
    nominal = SimConfig(seed=11, comets_per_day=3.0)
    rolled = replace(nominal, roll_deg=180.0, profile="rolled")
    start, end = datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC)
    truth = {c.id: c for c in SimArchive(nominal).truth(start, end, Detector.C2)}
    turned = {c.id: c for c in SimArchive(rolled).truth(start, end, Detector.C2)}
    optics = OPTICS[Detector.C2]
    matched = 0
    for cid, comet in turned.items():
        frames0 = {f.name: f for f in truth[cid].frames} if cid in truth else {}
        for f in comet.frames:
            if f.name in frames0:
                g = frames0[f.name]
                assert f.x == pytest.approx(2 * optics.sun_x - g.x, abs=1e-6)
                assert f.y == pytest.approx(2 * optics.sun_y - g.y, abs=1e-6)
                matched += 1
    assert matched > 10


def _centroids(image: np.ndarray) -> np.ndarray:
    peaks = (image == ndimage.maximum_filter(image, size=9)) & (image > 150) & (image < 30000)
    out = []
    for y, x in zip(*np.nonzero(peaks), strict=True):
        if 4 <= y < 1020 and 4 <= x < 1020:
            cut = np.clip(image[y - 3 : y + 4, x - 3 : x + 4], 0, None)
            gy, gx = np.mgrid[-3:4, -3:4]
            out.append((x + (gx * cut).sum() / cut.sum(), y + (gy * cut).sum() / cut.sum()))
    return np.array(out)


@pytest.mark.parametrize("det", list(Detector))
def test_the_star_pattern_turns_with_the_roll_and_the_pylon_does_not(det: Detector) -> None:
    optics = OPTICS[det]
    stars_only = SimConfig(seed=4, **{**QUIET_ALL, "stars": True})
    images = [
        render_image(replace(stars_only, roll_deg=r), synoptic_observation(det, T0)).astype(
            np.float64
        )
        for r in (0.0, 180.0)
    ]
    bias = float(np.median(images[0][:8, :8]))
    up, turned = (_centroids(im - bias) for im in images)
    # turn the rolled stars back by 180 deg about the Sun: they land on the unrolled ones
    back = np.column_stack([2 * optics.sun_x - turned[:, 0], 2 * optics.sun_y - turned[:, 1]])
    d = np.hypot(back[:, None, 0] - up[None, :, 0], back[:, None, 1] - up[None, :, 1]).min(1)
    assert len(back) > 10 and np.mean(d < 0.5) > 0.8, np.median(d)
    # ... while the instrument (pylon) stays where it is in the array
    corona = SimConfig(seed=4, **{**QUIET_ALL, "corona": True})
    for roll in (0.0, 180.0):
        image = render_image(replace(corona, roll_deg=roll), synoptic_observation(det, T0)).astype(
            np.float64
        )
        angles = np.radians(np.arange(-180.0, 180.0, 0.5))
        radius = 0.6 * optics.field_stop_px
        xs = np.rint(optics.sun_x + radius * np.cos(angles)).astype(int)
        ys = np.rint(optics.sun_y + radius * np.sin(angles)).astype(int)
        darkest = math.degrees(angles[int(np.argmin(image[ys, xs]))])
        assert abs(darkest - optics.pylon_angle_deg) < 3.0, (roll, darkest)


# --------------------------------------------------------------------------- selection


def test_sim_urls_name_profiles() -> None:
    assert profile_from_url("sim://lasco") == "nominal"
    assert profile_from_url("sim://lasco/240305/c2/img_hdr.txt") == "nominal"
    assert profile_from_url("sim://lasco-rolled/240305/c2/img_hdr.txt") == "rolled"
    assert profile_from_url("sim://schedule") is None
    assert profile_from_url("https://umbra.nascom.nasa.gov/pub/lasco") is None
    assert archive_url_for("storm") == "sim://lasco-storm" and archive_url_for("nominal") == (
        "sim://lasco"
    )
    with pytest.raises(ValueError, match="valid profiles: nominal"):
        profile_from_url("sim://lasco-bogus/240305/c2/")


def test_the_client_builds_and_serves_the_profile_the_url_names(tmp_path: Path) -> None:
    now = datetime(2024, 3, 6, 12, tzinfo=UTC)
    with simulated_client(
        "sim://lasco-rolled", "sim://schedule", sim_seed=3, sim_clock=lambda: now
    ) as client:
        first = client.fetch_index(DAY, Detector.C2).items[0]
        result = client.download(DAY, Detector.C2, first.name, tmp_path / first.name)
        info = client.verify_fits(result.path, first)
    assert info.roll_deg == 180.0
    archive = SimArchive(profile_config("nominal", seed=3), clock=lambda: now)
    with pytest.raises(ValueError, match="names sky profile 'storm'"):
        simulated_client("sim://lasco-storm", "sim://schedule", sim_archive=archive)
    with pytest.raises(ValueError, match="unknown sky profile 'bogus'"):
        simulated_client("sim://lasco-bogus", "sim://schedule")


def test_the_dagster_resource_builds_the_profile_of_its_url() -> None:
    clock = ClockResource(frozen_at="2024-03-06T12:00:00+00:00")
    resource = ArchiveResource(
        archive_url="sim://lasco-storm", schedule_url="sim://schedule", sim_seed=9, clock=clock
    )
    sim = resource._simulator()
    assert sim is not None and sim.config == profile_config("storm", seed=9)


def test_settings_reject_an_unknown_profile_with_the_valid_names(tmp_path: Path) -> None:
    env = {"COMET_HOME": str(tmp_path), "COMET_ARCHIVE_URL": "sim://lasco-dense"}
    assert Settings.from_env(env).archive_url == "sim://lasco-dense"
    with pytest.raises(SettingsError, match="COMET_ARCHIVE_URL.*valid profiles: nominal"):
        Settings.from_env({**env, "COMET_ARCHIVE_URL": "sim://lasco-bogus"})
    with pytest.raises(SettingsError, match="names nothing the simulator serves"):
        Settings.from_env({**env, "COMET_ARCHIVE_URL": "sim://lasco_rolled"})


def test_cli_simulate_archive_takes_a_profile(capsys, monkeypatch, tmp_path: Path) -> None:
    from comet_pipeline.simulator import server

    monkeypatch.setenv("COMET_HOME", str(tmp_path))
    seen: dict[str, object] = {}
    monkeypatch.setattr(server, "serve_forever", lambda **kw: seen.update(kw))
    assert cli.main(["simulate-archive", "--profile", "storm", "--seed", "4", "--port", "0"]) == 0
    assert seen["profile"] == "storm" and seen["seed"] == 4
    assert cli.main(["simulate-archive", "--profile", "stormy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("comet-pipeline: unknown sky profile 'stormy'") and "hostile" in err
