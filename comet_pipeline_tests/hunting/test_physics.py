"""The hunter's physics against skies it was not tuned on: drift, static sources, storms,
known objects and roll (the simulator's sky profiles, frames processed by the real imaging)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from comet_pipeline.domain.models import Detector
from comet_pipeline.hunting.drift import estimate_drift
from comet_pipeline.hunting.hunter import hunt
from comet_pipeline.hunting.sliding import SlidingHunter
from comet_pipeline.hunting.sources import SourceList
from comet_pipeline.hunting.stats import HuntStats
from comet_pipeline.imaging.ephemeris import FrameGeometry, star_drift
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.profiles import profile_config
from comet_pipeline.simulator.render import scene_rate
from comet_pipeline.simulator.sky import OPTICS

from ._simframes import sim_frames

SEASONS = [
    datetime(2025, 1, 4, 6, tzinfo=UTC),  # perihelion: the Sun fastest
    datetime(2025, 4, 5, 6, tzinfo=UTC),
    datetime(2025, 7, 5, 6, tzinfo=UTC),  # aphelion: slowest
    datetime(2025, 10, 5, 6, tzinfo=UTC),
]


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(dx, dy) that carries image ``a`` onto ``b``: phase correlation, parabolic sub-pixel."""
    fa, fb = np.fft.rfft2(a), np.fft.rfft2(b)
    cross = fb * np.conj(fa)
    corr = np.fft.irfft2(cross / np.maximum(np.abs(cross), 1e-12), s=a.shape)
    iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)
    h, w = corr.shape

    def sub(c_m: float, c_0: float, c_p: float) -> float:
        den = c_m - 2 * c_0 + c_p
        return 0.5 * (c_m - c_p) / den if den else 0.0

    dx = ix + sub(corr[iy, ix - 1], corr[iy, ix], corr[iy, (ix + 1) % w])
    dy = iy + sub(corr[iy - 1, ix], corr[iy, ix], corr[(iy + 1) % h, ix])
    return (dx - w if dx > w / 2 else dx), (dy - h if dy > h / 2 else dy)


@pytest.mark.parametrize("when", SEASONS, ids=lambda t: t.strftime("%m-%d"))
@pytest.mark.parametrize("roll", [0.0, 180.0])
@pytest.mark.parametrize("detector", [Detector.C2, Detector.C3])
def test_predicted_drift_matches_the_simulated_star_motion_within_5_percent(detector, roll, when):
    """The simulator moves its stars by its own almanac series; the hunter predicts the
    motion with astropy's ephemeris and the frame's WCS: they must agree on the pixels."""
    hours = 1.0 if detector is Detector.C2 else 4.0  # ~12 px of motion either way
    config = SimConfig(seed=3, corona=False, comets=False, planets=False, roll_deg=roll)
    a = scene_rate(config, detector, when)
    b = scene_rate(config, detector, when + timedelta(hours=hours))
    dx, dy = _shift(np.log1p(a), np.log1p(b))
    measured = np.array([dx, dy]) / hours
    optics = OPTICS[detector]
    geometry = FrameGeometry(
        when + timedelta(hours=hours / 2), optics.sun_x, optics.sun_y, optics.plate_scale, roll
    )
    predicted = np.array(star_drift(geometry))
    assert np.hypot(*(measured - predicted)) <= 0.05 * np.hypot(*predicted), (measured, predicted)
    # west is +x at roll 0 and -x rolled by 180 deg
    assert np.sign(predicted[0]) == (1 if roll == 0 else -1)


def test_the_vote_ignores_sources_that_stand_still_and_the_ephemeris_wins_a_disagreement():
    """Fifty stars drifting, two hundred static residuals: the old vote chose (0, 0)."""
    rng = np.random.default_rng(4)
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    geometry = FrameGeometry(t0, 511.6, 505.2, 11.9)
    drift = np.array(star_drift(geometry))
    stars = rng.uniform(100, 900, (50, 2))
    static = rng.uniform(100, 900, (200, 2))
    times = [t0 + timedelta(minutes=12 * k) for k in range(6)]
    frames = []
    for k in range(6):
        xy = np.vstack([stars + drift * 0.2 * k, static + rng.normal(0, 0.1, static.shape)])
        n = len(xy)
        frames.append(SourceList(xy[:, 0], xy[:, 1], np.ones(n), np.full(n, 10.0), np.ones(n)))
    vote = estimate_drift(frames, times, max_rate=25.0, tolerance=1.0, zero_exclusion=4.0)
    assert vote.source == "vote" and np.hypot(*(np.array(vote.velocity) - drift)) < 0.5
    est = estimate_drift(
        frames, times, geometry=geometry, max_rate=25.0, tolerance=1.0, zero_exclusion=4.0
    )
    assert est.source == "ephemeris+vote" and not est.disagreed
    assert np.hypot(*(np.array(est.velocity) - drift)) < 0.2
    # stars that moved the "wrong" way (a bad clock, a wrong CROTA): the prediction is kept
    ones, tens = np.ones(50), np.full(50, 10.0)
    wrong = []
    for k in range(6):
        xy = stars - drift * 0.2 * k
        wrong.append(SourceList(xy[:, 0], xy[:, 1], ones, tens, ones))
    est = estimate_drift(
        wrong, times, geometry=geometry, max_rate=25.0, tolerance=1.0, zero_exclusion=4.0
    )
    assert est.disagreed and est.source == "ephemeris"
    assert est.velocity == pytest.approx(tuple(drift))


def _hunt_sim(config: SimConfig, detector: str, start: datetime, hours: float):
    _, frames = sim_frames(config, detector, start, start + timedelta(hours=hours))
    hunter = SlidingHunter(detector)
    until = start + timedelta(hours=1)
    for fr in frames:
        while fr.observed_at >= until:
            hunter.hunt_until(until)
            until += timedelta(hours=1)
        hunter.add(fr)
    hunter.hunt_until(until)
    return frames, hunter


def test_a_sparse_c2_day_with_strong_static_rings_yields_no_candidate():
    config = profile_config("sparse", seed=11, comets=False)
    frames, hunter = _hunt_sim(config, "c2", datetime(2025, 8, 10, 2, tzinfo=UTC), 12.0)
    assert len(frames) >= 45
    assert [c for c in hunter.candidates if c.is_new] == []
    summary = hunter.stats.summary()
    assert summary["drift_source"].keys() <= {"ephemeris", "ephemeris+vote"}
    assert summary["static_sources_masked"] > 0  # the rings left something that stood still


def test_a_dense_c3_field_yields_no_candidate():
    config = profile_config("dense", seed=12, comets=False)
    frames, hunter = _hunt_sim(config, "c3", datetime(2025, 9, 20, 4, tzinfo=UTC), 8.0)
    assert len(frames) >= 30
    assert np.median([len(s) for s in hunter._cache.sources.values()]) > 500  # crowded
    assert [c for c in hunter.candidates if c.is_new] == []


def _storm_start(config: SimConfig) -> datetime:
    """An hour inside a storm of ``config`` (the profile's episodes are seeded per day)."""
    from comet_pipeline.simulator.detector_effects import storm_factor

    t = datetime(2025, 6, 1, tzinfo=UTC)
    while storm_factor(config, t) < 20.0:
        t += timedelta(minutes=20)
    return t - timedelta(minutes=30)


def test_a_storm_hour_stays_quiet_and_bounded():
    config = profile_config("storm", seed=13, comets=False)
    start = _storm_start(config)
    _, frames = sim_frames(config, "c3", start - timedelta(hours=3), start + timedelta(hours=2))
    stats = HuntStats()
    assert [c for c in hunt(frames, detector="c3", stats=stats) if c.is_new] == []
    assert len(stats.storm_frames) >= 2, "no frame was recognised as a storm frame"
    assert all(kept < found for found, kept in stats.storm_frames.values())  # capped


def test_hot_pixels_and_warm_columns_never_become_candidates():
    config = profile_config("defects", seed=14, comets=False)
    for det in ("c2", "c3"):
        frames, hunter = _hunt_sim(config, det, datetime(2025, 2, 20, 3, tzinfo=UTC), 6.0)
        assert len(frames) >= 15
        assert [c for c in hunter.candidates if c.is_new] == []
        assert hunter.stats.summary()["static_sources_masked"] > 20


def test_a_planet_crossing_c3_is_labelled_known_and_not_counted():
    # 2025-05-27: astropy puts Mercury in C3, 250 px west of the Sun, 3.3 px/h
    config = SimConfig(seed=15, comets=False)
    start = datetime(2025, 5, 27, 0, tzinfo=UTC)
    frames, hunter = _hunt_sim(config, "c3", start, 6.0)
    known = [c for c in hunter.candidates if not c.is_new]
    assert [c.known for c in known] == ["known: mercury"]
    assert known[0].n_frames >= 20
    assert [c for c in hunter.candidates if c.is_new] == []


def test_a_comet_on_a_rolled_day_is_found_and_reported_in_the_stored_frame():
    from comet_pipeline.simulator.comets import comets_born

    config = profile_config(
        "rolled",
        seed=21,
        comets_per_day=1.0,
        c2_fast_comets_per_day=0.0,
        comet_snr_range=(15.0, 15.0),
        cme_per_day=0.0,
    )
    day = datetime(2025, 3, 10, tzinfo=UTC)
    comet = comets_born(config, day.date(), Detector.C2)[0]
    start = comet.start.replace(microsecond=0)
    sim, frames = sim_frames(config, "c2", start, start + timedelta(hours=2, minutes=30))
    assert all(f.roll_deg == 180.0 for f in frames)
    truth = [t for t in sim.truth(start, start + timedelta(hours=3), Detector.C2)]
    truth = [t for t in truth if t.id == comet.id][0]
    best = hunt(frames, detector="c2")[0]
    pos = {f.name: (f.x, f.y) for f in truth.frames}
    errs = [np.hypot(d.x - pos[d.name][0], d.y - pos[d.name][1]) for d in best.detections]
    assert len(errs) >= 8 and max(errs) <= 2.0
    assert "Roll: 180" in best.report  # the report says the stored frame is rolled
    # rolled by 180 deg, the Kreutz comet comes from the north of the array (solar south)
    assert np.median([d.y for d in best.detections]) > frames[0].sun()[1]
