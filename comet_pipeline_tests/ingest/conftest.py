"""Fixtures for the ingestion layer: a real SQLite file and the simulator behind the client."""

from __future__ import annotations

import pytest

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.domain import Detector
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import LifecycleStore, SQLiteStore
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.shared import HOUR, NOW, SEED

__all__ = ["DETECTORS", "HOUR", "NOW", "SEED"]

DETECTORS = (Detector.C2, Detector.C3)


@pytest.fixture
def sim(clock: ManualClock) -> SimArchive:
    return SimArchive(SimConfig(seed=SEED), clock=clock)


@pytest.fixture
def client(sim: SimArchive) -> ArchiveClient:
    return simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)


@pytest.fixture
def store(settings: Settings) -> LifecycleStore:
    settings.home.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(settings.layout.lifecycle_db)
