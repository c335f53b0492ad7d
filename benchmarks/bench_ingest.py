"""Ingest 24 simulated hours of C2+C3 end to end through Dagster, and without it.

Figures: seconds through Dagster (the slots run plus one in-process run over the 24-hour
partition range: discover, download, process, hunt), seconds for the same services called
directly, the difference per hourly partition, and the same for a one-hour run (what a
sensor launches). Medians over fresh COMET_HOMEs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import DagsterInstance

from comet_pipeline.cli.runner import ingest_range
from comet_pipeline.defs.resources import ArchiveResource, ClockResource
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.hunt import hunt_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.slots import listed_arrivals, scheduled_slots, sync_slots
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore

DAY = datetime(2025, 6, 10, tzinfo=UTC)
NOW = DAY + timedelta(days=2)
HOURS = 24
REPEAT = 3


def _through_dagster(home: Path) -> tuple[float, int]:
    settings = Settings(home=home)
    home.mkdir(parents=True, exist_ok=True)
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
    store = SQLiteStore(settings.layout.lifecycle_db)
    frames = sum(len(store.frames_between(d, DAY, NOW)) for d in Detector)
    return elapsed, frames


def _services_only(home: Path, start: datetime = DAY, hours: int = HOURS) -> float:
    """The same work as the Dagster runs (slots, discover, download, process, hunt)."""
    settings = Settings(home=home)
    home.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    store = SQLiteStore(settings.layout.lifecycle_db)
    client = simulated_client(
        "sim://lasco", "sim://schedule", sim_archive=SimArchive(SimConfig(), clock=lambda: NOW)
    )
    end = start + timedelta(hours=hours)
    day = start.date()
    listed = listed_arrivals(client, tuple(Detector), [day - timedelta(days=1), day])
    sync_slots(store, scheduled_slots(client), day, NOW, listed)
    discover_window(store, client, tuple(Detector), start, end, now=NOW)
    download_window(
        store, client, settings.layout.raw_dir, start, end, clock=lambda: NOW, owner="bench"
    )
    process_window(
        store,
        FrameProcessor(settings.layout.frames_dir),
        start,
        end,
        clock=lambda: NOW,
        owner="bench",
    )
    hunt_window(store, settings.layout.products_dir, start, end, tuple(Detector), now=NOW)
    return time.perf_counter() - t0


def _one_partition_overhead() -> tuple[float, float]:
    """Median seconds of one hourly run through Dagster and of the same hour without it."""
    dagster_s, services_s = [], []
    for hour in (3, 9, 15):
        start = DAY + timedelta(hours=hour)
        with tempfile.TemporaryDirectory() as tmp, DagsterInstance.ephemeral() as instance:
            settings = Settings(home=Path(tmp) / "home")
            settings.home.mkdir()  # what `comet-pipeline init` does
            clock = ClockResource(frozen_at=NOW.isoformat())
            archive = ArchiveResource(
                archive_url="sim://lasco", schedule_url="sim://schedule", clock=clock
            )
            t0 = time.perf_counter()
            ok = ingest_range(
                settings,
                start,
                start + timedelta(hours=1),
                instance=instance,
                clock=clock,
                archive=archive,
            )
            dagster_s.append(time.perf_counter() - t0)
            assert all(ok)
        with tempfile.TemporaryDirectory() as tmp:
            services_s.append(_services_only(Path(tmp) / "home", start, hours=1))
    return statistics.median(dagster_s), statistics.median(services_s)


def run() -> dict:
    dagster_s, services_s, frames = [], [], 0
    for _ in range(REPEAT):
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, frames = _through_dagster(Path(tmp) / "home")
            dagster_s.append(elapsed)
        with tempfile.TemporaryDirectory() as tmp:
            services_s.append(_services_only(Path(tmp) / "home"))
    d, s = statistics.median(dagster_s), statistics.median(services_s)
    one_dagster, one_services = _one_partition_overhead()
    return {
        "hours": HOURS,
        "frames": frames,
        "ingest_24h_through_dagster_s": round(d, 1),
        "ingest_24h_services_only_s": round(s, 1),
        "dagster_overhead_per_partition_ms": round((d - s) / HOURS * 1000, 0),
        "ms_per_frame_through_dagster": round(d / max(frames, 1) * 1000, 1),
        "one_hour_run_through_dagster_s": round(one_dagster, 2),
        "one_hour_services_only_s": round(one_services, 2),
        "dagster_overhead_single_partition_run_s": round(one_dagster - one_services, 2),
        "target_s": 60,
        "runs": REPEAT,
    }
