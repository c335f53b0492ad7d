"""A home holding the platform's products as the real services make them: one simulated
hour discovered, downloaded and processed, then its composites, its hourly mosaic, the
day's mosaic and the day's featured targets (with the day's downlink slots). ~5 s."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from comet_pipeline.domain import Detector
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.composites import build_composites
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.featured import build_featured
from comet_pipeline.ingest.mosaics import build_daily_mosaic, build_hourly_mosaic
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.slots import scheduled_slots, sync_slots
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.shared import CLOSED_DAGSTER_URL, HOUR, NOW, SEED

DETECTORS = (Detector.C2, Detector.C3)
END = HOUR + timedelta(hours=1)
DAY = HOUR.date()


def products_home(base: Path) -> Settings:
    """Settings on ``base/home`` with HOUR's products (and DAY's) written by the services."""
    settings = Settings(home=base / "home", dagster_url=CLOSED_DAGSTER_URL)
    settings.home.mkdir(parents=True)
    clock = ManualClock(NOW)
    sim = SimArchive(SimConfig(seed=SEED), clock=clock)
    client = simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)
    store = SQLiteStore(settings.layout.lifecycle_db)
    try:
        discover_window(store, client, DETECTORS, HOUR, END, now=NOW, run_id="r1")
        # the hour's arrivals mark the passes that brought them DONE, the others MISSED
        arrivals = [
            f.arrived_at
            for d in DETECTORS
            for f in store.files_between(d, HOUR, END)
            if f.arrived_at is not None
        ]
        sync_slots(store, scheduled_slots(client), DAY, NOW, arrivals)
        download_window(store, client, settings.layout.raw_dir, HOUR, END, clock=clock, owner="a")
        done = process_window(
            store, FrameProcessor(settings.layout.frames_dir), HOUR, END, clock=clock, owner="b"
        )
        assert done.outcomes["processed"] >= 6, (done.outcomes, done.errors)
        products = settings.layout.products_dir
        made = build_composites(store, products, HOUR, DETECTORS)
        assert made.skipped == {}, made.skipped
        assert build_hourly_mosaic(store, products, HOUR).files is not None
        assert build_daily_mosaic(store, products, DAY).files is not None
        featured = build_featured(store, products, DAY, DETECTORS)
        assert set(featured.overlays) == set(DETECTORS)
    finally:
        store.close()
    return settings
