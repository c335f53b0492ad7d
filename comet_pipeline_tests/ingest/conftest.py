"""Fixtures for the ingestion layer: a real SQLite file and the simulator behind the client."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.domain import Detector
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import LifecycleStore, SQLiteStore
from comet_pipeline_tests.clocks import ManualClock

SEED = 7
#: An hour well inside the simulated day, and a "now" one day later (everything arrived).
HOUR = datetime(2025, 6, 10, 3, tzinfo=UTC)
NOW = datetime(2025, 6, 11, 12, tzinfo=UTC)
DETECTORS = (Detector.C2, Detector.C3)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def sim(clock: ManualClock) -> SimArchive:
    return SimArchive(SimConfig(seed=SEED), clock=clock)


@pytest.fixture
def client(sim: SimArchive) -> ArchiveClient:
    return simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def store(settings: Settings) -> LifecycleStore:
    settings.home.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(settings.layout.lifecycle_db)
