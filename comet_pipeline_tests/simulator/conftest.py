"""Shared fixtures: a fixed day far from DST edges and an archive whose clock we move."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from comet_pipeline.simulator import SimArchive, SimConfig

DAY = date(2024, 3, 5)


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2024, 3, 20, tzinfo=UTC))


@pytest.fixture
def archive(clock: MovableClock) -> SimArchive:
    return SimArchive(SimConfig(seed=7), clock=clock)
