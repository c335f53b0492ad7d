"""Ingest 24 simulated hours of C2+C3 end to end through Dagster, and without it.

Figures: seconds through Dagster (one in-process run over the 24-hour partition range,
plus the slots run), seconds for the same services called directly, and the difference
per hourly partition (Dagster's overhead). Median over a few fresh COMET_HOMEs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import DagsterInstance

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.sim.archive import SimArchive
from comet_pipeline.archive.sim.config import SimConfig
from comet_pipeline.defs.resources import ArchiveResource, ClockResource
from comet_pipeline.demo import ingest_range
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.slots import scheduled_slots, sync_slots
from comet_pipeline.settings import Settings
from comet_pipeline.store import LifecycleStore

DAY = datetime(2025, 6, 10, tzinfo=UTC)
NOW = DAY + timedelta(days=2)
HOURS = 24
REPEAT = 3


def _through_dagster(home: Path) -> tuple[float, int]:
    settings = Settings(home=home)
    clock = ClockResource(frozen_at=NOW.isoformat())
    archive = ArchiveResource(archive_url="sim://lasco", schedule_url="sim://schedule", clock=clock)
    start = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        ok = ingest_range(
            settings,
            DAY,
            DAY + timedelta(hours=HOURS),
            instance=instance,
            clock=clock,
            archive=archive,
        )
    elapsed = time.perf_counter() - start
    assert all(ok), "a Dagster run failed"
    store = LifecycleStore(settings.layout.lifecycle_db)
    frames = sum(len(store.frames_between(d, DAY, NOW)) for d in Detector)
    return elapsed, frames


def _services_only(home: Path) -> float:
    settings = Settings(home=home)
    home.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    store = LifecycleStore(settings.layout.lifecycle_db)
    client = ArchiveClient.create(
        "sim://lasco", "sim://schedule", sim_archive=SimArchive(SimConfig(), clock=lambda: NOW)
    )
    end = DAY + timedelta(hours=HOURS)
    sync_slots(store, scheduled_slots(client), DAY.date(), NOW)
    discover_window(store, client, tuple(Detector), DAY, end, now=NOW)
    download_window(
        store, client, settings.layout.raw_dir, DAY, end, clock=lambda: NOW, owner="bench"
    )
    process_window(
        store,
        FrameProcessor(settings.layout.frames_dir),
        DAY,
        end,
        clock=lambda: NOW,
        owner="bench",
    )
    return time.perf_counter() - start


def run() -> dict:
    dagster_s, services_s, frames = [], [], 0
    for _ in range(REPEAT):
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, frames = _through_dagster(Path(tmp) / "home")
            dagster_s.append(elapsed)
        with tempfile.TemporaryDirectory() as tmp:
            services_s.append(_services_only(Path(tmp) / "home"))
    d, s = statistics.median(dagster_s), statistics.median(services_s)
    return {
        "hours": HOURS,
        "frames": frames,
        "ingest_24h_through_dagster_s": round(d, 1),
        "ingest_24h_services_only_s": round(s, 1),
        "dagster_overhead_per_partition_ms": round((d - s) / HOURS * 1000, 0),
        "ms_per_frame_through_dagster": round(d / max(frames, 1) * 1000, 1),
        "target_s": 60,
        "runs": REPEAT,
    }
