"""Shared fixtures: a fixed day far from DST edges and an archive whose clock we move."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from comet_pipeline.simulator import SimArchive, SimConfig
from comet_pipeline_tests.clocks import ManualClock

DAY = date(2024, 3, 5)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2024, 3, 20, tzinfo=UTC))


@pytest.fixture
def archive(clock: ManualClock) -> SimArchive:
    return SimArchive(SimConfig(seed=7), clock=clock)
