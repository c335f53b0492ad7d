"""The sky on the real rendering path: star drift rate and direction, comet truth positions."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import ndimage

from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator import SimArchive, SimConfig
from comet_pipeline.simulator.render import render_image
from comet_pipeline.simulator.sky import OPTICS, star_velocity
from comet_pipeline_tests.simulator.conftest import DAY, synoptic_observation

QUIET = dict(noise=False, corona=False, cosmic_rays=False, artefacts=False, comets=False)


def _frame(config: SimConfig, det: Detector, when: datetime) -> np.ndarray:
    obs = synoptic_observation(det, when)
    return render_image(config, obs).astype(np.float64)


def _stars(image: np.ndarray, bias: float) -> np.ndarray:
    """Centroids (x, y) of isolated, unsaturated stars."""
    signal = image - bias
    peaks = (signal == ndimage.maximum_filter(signal, size=9)) & (signal > 150) & (signal < 30000)
    ys, xs = np.nonzero(peaks)
    out = []
    for y, x in zip(ys, xs, strict=True):
        if 4 <= y < 1020 and 4 <= x < 1020:
            cut = np.clip(signal[y - 3 : y + 4, x - 3 : x + 4], 0, None)
            gy, gx = np.mgrid[-3:4, -3:4]
            out.append((x + (gx * cut).sum() / cut.sum(), y + (gy * cut).sum() / cut.sum()))
    return np.array(out)


@pytest.mark.parametrize(("det", "nominal"), [(Detector.C3, 0.5), (Detector.C2, 2.5)])
def test_star_drift_per_frame_is_the_stated_rate(det: Detector, nominal: float) -> None:
    config = SimConfig(seed=4, stars=True, **QUIET)
    t0 = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    a = _frame(config, det, t0)
    b = _frame(config, det, t0 + timedelta(seconds=720))
    bias = float(np.median(a[:8, :8]))
    sa, sb = _stars(a, bias), _stars(b, bias)
    assert len(sa) > 10
    moves = []
    for x, y in sa:
        d = np.hypot(sb[:, 0] - x, sb[:, 1] - y)
        k = int(np.argmin(d))
        if d[k] < 6:
            moves.append(sb[k] - (x, y))
    moves = np.array(moves)
    assert len(moves) > 10
    dx, dy = np.median(moves, axis=0)
    vx, vy = star_velocity(det, t0 + timedelta(seconds=370))
    stated = math.hypot(vx, vy) * 720
    assert abs(stated - nominal) / nominal < 0.1, "stated rate should be the real one"
    assert abs(math.hypot(dx, dy) - stated) / stated < 0.1, (dx, dy, stated)
    # same direction for all: toward +x (west), along the (tilted) ecliptic
    assert dx > 0
    assert abs(math.degrees(math.atan2(dy, dx) - math.atan2(vy, vx))) < 6
    spread = np.hypot(*(moves - (dx, dy)).T)
    assert np.median(spread) < 0.1 * stated + 0.05


def test_comet_truth_matches_the_brightest_pixel_of_its_rendering() -> None:
    config = SimConfig(seed=21, comets_per_day=1.0, c2_fast_comets_per_day=1.0)
    archive = SimArchive(config)
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    truth = archive.truth(start, start + timedelta(days=1))
    groups = {(c.detector, c.group) for c in truth}
    assert {(Detector.C3, "Kreutz"), (Detector.C2, "Kreutz"), (Detector.C2, "Marsden")} <= groups
    with_comets = replace(config, noise=False, stars=False, cosmic_rays=False, artefacts=False)
    without = replace(with_comets, comets=False)
    checked = 0
    for comet in truth:
        for frame in comet.frames[:: max(1, len(comet.frames) // 3)][:3]:
            obs = archive.observation(frame.observed_at.date(), comet.detector, frame.name)
            assert obs is not None
            diff = render_image(with_comets, obs).astype(float) - render_image(without, obs)
            x0, y0 = int(round(frame.x)), int(round(frame.y))
            win = diff[max(0, y0 - 10) : y0 + 11, max(0, x0 - 10) : x0 + 11]
            wy, wx = np.unravel_index(int(np.argmax(win)), win.shape)
            by, bx = wy + max(0, y0 - 10), wx + max(0, x0 - 10)
            assert math.hypot(bx - frame.x, by - frame.y) <= 1.0, (comet.id, frame, bx, by)
            assert win.max() > 0
            checked += 1
    assert checked >= 6


def test_comet_tracks_look_like_sungrazers() -> None:
    archive = SimArchive(SimConfig(seed=21, comets_per_day=1.0, c2_fast_comets_per_day=1.0))
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    truth = archive.truth(start - timedelta(days=2), start + timedelta(days=2))
    snrs = [f.peak_snr for c in truth for f in c.frames]
    assert min(snrs) < 5 and max(snrs) > 20, "brightness from near the noise to obvious"
    for comet in truth:
        optics = OPTICS[comet.detector]
        f = comet.frames
        if len(f) < 4:
            continue
        r_first = math.hypot(f[0].x - optics.sun_x, f[0].y - optics.sun_y)
        r_last = math.hypot(f[-1].x - optics.sun_x, f[-1].y - optics.sun_y)
        assert r_last < r_first, "moves inward"
        steps = [
            math.hypot(b.x - a.x, b.y - a.y)
            / ((b.observed_at - a.observed_at).total_seconds() / 720)
            for a, b in zip(f, f[1:], strict=False)
        ]
        speed = float(np.median(steps))
        # Kreutz comets on their orbits (perihelion towards ecliptic latitude +35 deg) rise
        # from the south; C3 0.5-3 px a frame (slowest when seen foreshortened, in June),
        # C2 8-32 (40-160 px/h, entry to occulter)
        if comet.detector is Detector.C3:
            assert 0.4 < speed < 4.0
            assert f[0].y < optics.sun_y, "Kreutz comets come from the south"
        elif comet.group == "Kreutz":
            assert 7 < speed < 32 and f[0].y < optics.sun_y
        else:
            assert 12 < speed < 24 and f[0].y > optics.sun_y
        assert steps[-1] > steps[0] * 0.98, "slightly accelerating"
