"""The operations model: passes, observations, names, duplicates and arrival times."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import numpy as np
from astropy.io import fits

from comet_pipeline.archive.layout import validate_file_name
from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator import SimArchive, SimConfig
from comet_pipeline.simulator.operations import READOUT_S, passes_between
from comet_pipeline_tests.simulator.conftest import DAY

DAYS = [DAY + timedelta(days=k) for k in range(6)]


def test_passes_are_realistic_and_never_overlap(archive: SimArchive) -> None:
    passes = passes_between(archive.config, DAYS[0], DAYS[-1])
    per_day = {d: [p for p in passes if p.bot.date() == d] for d in DAYS}
    assert all(3 <= len(v) <= 5 for v in per_day.values())
    for p in passes:
        assert timedelta(hours=1) <= p.eot - p.bot <= timedelta(hours=4)
        assert p.bot.minute % 5 == 0 and p.antenna
    for a, b in zip(passes, passes[1:], strict=False):
        assert a.eot <= b.bot, (a, b)
    many = passes_between(archive.config, date(2024, 1, 1), date(2024, 3, 1))
    assert any(p.eot.date() > p.bot.date() for p in many), "some pass should cross midnight"
    assert {"D24", "D34", "D54"} <= {p.antenna for p in many}


def test_observations_cadence_names_and_kinds(archive: SimArchive) -> None:
    for det in Detector:
        all_obs = [o for d in DAYS for o in archive.observations(d, det)]
        names = [o.name for o in all_obs]
        assert len(set(names)) == len(names)
        assert all(validate_file_name(n) == n and n[0] == det.telescope_digit for n in names)
        synoptic = [o for o in all_obs if o.synoptic and o.duplicate_of is None]
        per_day = len(synoptic) / len(DAYS)
        assert 95 <= per_day <= 120, per_day
        gaps = [
            (b.observed_at - a.observed_at).total_seconds()
            for a, b in zip(synoptic, synoptic[1:], strict=False)
        ]
        typical = sorted(gaps)[len(gaps) // 2]
        assert 690 <= typical <= 750
        assert max(gaps) >= 2 * 720, "expected at least one gap"
        assert any(o.naxis1 == 512 for o in all_obs), "expected a binned image"
        assert any(o.polarizer != "Clear" for o in all_obs), "expected a polarized image"
        # counters follow arrival, not observation time
        assert names != sorted(names)


def test_duplicates_repeat_the_observation_under_a_new_number(archive: SimArchive) -> None:
    dups = [
        (o, d)
        for day in DAYS
        for det in Detector
        for o in archive.observations(day, det)
        if o.duplicate_of
        for d in [archive.observation(day, det, o.duplicate_of)]
    ]
    assert dups, "expected duplicates over six days"
    for dup, orig in dups:
        assert orig is not None and dup.name != orig.name
        assert dup.observed_at == orig.observed_at and dup.exptime == orig.exptime
        assert dup.arrived_at > orig.arrived_at
    dup, orig = dups[0]
    a, b = (fits.getdata(io.BytesIO(archive.render(o))) for o in (dup, orig))
    assert np.array_equal(a, b), "a duplicate carries the same pixels"
    assert fits.getheader(io.BytesIO(archive.render(dup)))["FILENAME"] == dup.name


def test_arrival_follows_the_passes(archive: SimArchive) -> None:
    passes = passes_between(
        archive.config, DAYS[0] - timedelta(days=1), DAYS[-1] + timedelta(days=2)
    )
    realtime = stored = 0
    for day in DAYS:
        for obs in archive.observations(day, Detector.C3):
            if obs.duplicate_of:
                continue
            ready = obs.observed_at + timedelta(seconds=obs.exptime + READOUT_S)
            during = [p for p in passes if p.bot <= ready < p.eot]
            if during:
                realtime += 1
                assert timedelta(0) < obs.arrived_at - ready <= timedelta(minutes=10)
            else:
                stored += 1
                nxt = min((p for p in passes if p.bot > ready), key=lambda p: p.bot)
                assert nxt.bot <= obs.arrived_at <= nxt.eot, (obs, nxt)
    assert realtime > 50 and stored > 100


def test_a_day_does_not_depend_on_evaluation_order() -> None:
    config = SimConfig(seed=11)
    fresh = SimArchive(config)
    direct = fresh.observations(DAY, Detector.C2)
    other = SimArchive(config)
    for d in (DAY + timedelta(days=1), DAY - timedelta(days=1), DAY + timedelta(days=9)):
        other.observations(d, Detector.C2)
        other.observations(d, Detector.C3)
    assert other.observations(DAY, Detector.C2) == direct
    assert other.passes(DAY) == fresh.passes(DAY)


def test_seeds_change_the_operations() -> None:
    a = SimArchive(SimConfig(seed=1)).observations(DAY, Detector.C2)
    b = SimArchive(SimConfig(seed=2)).observations(DAY, Detector.C2)
    assert [o.observed_at for o in a] != [o.observed_at for o in b]


def test_schedule_covers_fourteen_days_from_the_current_schedule(
    archive: SimArchive, clock
) -> None:
    clock.now = datetime(2024, 3, 10, 5, 0, tzinfo=UTC)  # before the 06:30 regeneration
    assert archive.schedule_first_day() == date(2024, 3, 9)
    clock.now = datetime(2024, 3, 10, 7, 0, tzinfo=UTC)
    assert archive.schedule_first_day() == date(2024, 3, 10)
