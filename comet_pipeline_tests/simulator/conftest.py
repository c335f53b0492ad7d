"""Shared fixtures: a fixed day far from DST edges and an archive whose clock we move."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator import SimArchive, SimConfig, SimObservation
from comet_pipeline_tests.clocks import ManualClock

DAY = date(2024, 3, 5)


def synoptic_observation(det: Detector, when: datetime, exptime: float = 20.0) -> SimObservation:
    """One synoptic 1024x1024 observation at ``when`` (to render directly, no operations)."""
    return SimObservation(
        name=f"{det.telescope_digit}0000001.fts",
        detector=det,
        observed_at=when,
        exptime=exptime,
        naxis1=1024,
        naxis2=1024,
        binning=1,
        filter="Clear",
        polarizer="Clear",
        program="Normal",
        arrived_at=when,
        os_num=1,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2024, 3, 20, tzinfo=UTC))


@pytest.fixture
def archive(clock: ManualClock) -> SimArchive:
    return SimArchive(SimConfig(seed=7), clock=clock)
