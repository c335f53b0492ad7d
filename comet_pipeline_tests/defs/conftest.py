"""Fixtures for the Dagster layer: Definitions bound to a temp COMET_HOME and a frozen clock."""

from __future__ import annotations

from datetime import datetime

import pytest
from dagster import DagsterInstance

from comet_pipeline.definitions import build_definitions
from comet_pipeline.defs.resources import ArchiveResource, ClockResource
from comet_pipeline.settings import Settings
from comet_pipeline_tests.shared import NOW, SEED

PARTITION = "2025-06-10-03:00"


def make_defs(settings: Settings, now: datetime = NOW, **overrides):
    settings.home.mkdir(parents=True, exist_ok=True)  # what `comet-pipeline init` does
    clock = ClockResource(frozen_at=now.isoformat())
    archive = ArchiveResource(
        archive_url=settings.archive_url,
        schedule_url=settings.schedule_url,
        sim_seed=SEED,
        backoff_seconds=0.0,
        clock=clock,
    )
    return build_definitions(settings, clock=clock, archive=archive, **overrides)


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as inst:
        yield inst
