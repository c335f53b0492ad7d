"""The hunter on the simulated archive, frames processed with the imaging layer in memory."""

from datetime import UTC, date, datetime, timedelta

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.hunting.hunter import hunt
from comet_pipeline.simulator.comets import comets_born
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.sky import cmes_for_day

from ._simframes import sim_frames

DAY = date(2025, 3, 10)


def test_single_bright_comet_on_a_clean_simulated_day_is_found_within_2px():
    # exactly one Kreutz comet born per day (rate 1.0), bright, no CME/planet confounders
    config = SimConfig(
        seed=21,
        comets_per_day=1.0,
        c2_fast_comets_per_day=0.0,
        comet_snr_range=(15.0, 15.0),
        cme_per_day=0.0,
        planets=False,
    )
    comet = comets_born(config, DAY, Detector.C2)[0]
    start = comet.start.replace(microsecond=0)
    sim, frames = sim_frames(config, "c2", start, start + timedelta(hours=2, minutes=30))
    truth = [
        t
        for t in sim.truth(start, start + timedelta(hours=2, minutes=30), Detector.C2)
        if t.id == comet.id
    ]
    assert truth and len(truth[0].frames) >= 8
    cands = hunt(frames, detector="c2")
    assert cands, "the comet was not found"
    best = cands[0]
    pos = {f.name: (f.x, f.y) for f in truth[0].frames}
    errs = [
        np.hypot(d.x - pos[d.name][0], d.y - pos[d.name][1])
        for d in best.detections
        if d.name in pos
    ]
    assert len(errs) >= 0.8 * len(truth[0].frames)
    assert max(errs) <= 2.0
    assert len(cands) == 1  # nothing else on a clean day
    assert best.inward > 0.8  # a Kreutz comet heads for the Sun


def test_stars_cosmic_rays_and_a_cme_give_no_candidate():
    config = SimConfig(seed=5, comets=False, cme_per_day=3.0)
    day_number = (DAY - date(2000, 1, 1)).days
    cme = cmes_for_day(config.seed, day_number, Detector.C3, config.cme_per_day)[0]
    cme_start = datetime(2000, 1, 1, 12, tzinfo=UTC) + timedelta(seconds=cme.start)
    start = cme_start - timedelta(minutes=30)
    sim, frames = sim_frames(config, "c3", start, start + timedelta(hours=5))
    assert len(frames) >= 20
    # no comet is rendered, so none is in the truth (seed 5 has 4 comets in these 3 days
    # when they are rendered)
    assert sim.truth(start - timedelta(days=1), start + timedelta(days=2)) == []
    # the CME is in these frames: a broad bright front well above the noise
    brightest = max(float(np.nanpercentile(f.image, 99.5)) for f in frames)
    assert brightest > 3.0
    found = hunt(frames, detector="c3")
    assert [c for c in found if c.is_new] == []
    # astropy puts Saturn in C3 that day: shown as a known object, never as a candidate
    assert {c.known for c in found} <= {"known: saturn", "known: neptune"}
