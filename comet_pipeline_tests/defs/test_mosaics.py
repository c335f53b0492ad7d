"""The mosaic assets materialized by Dagster over real processed frames of the simulator."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dagster import materialize

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.defs.assets.mosaics import daily_mosaic, hourly_mosaic
from comet_pipeline.defs.resources import pipeline_resource, store_resource
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.mosaics import daily_paths, hourly_paths
from comet_pipeline.ingest.process import process_window
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.shared import HOUR, NOW, SEED

DETECTORS = (Detector.C2, Detector.C3)


def _processed_hour(settings: Settings) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    clock = ManualClock(NOW)
    client: ArchiveClient = simulated_client(
        "sim://lasco",
        "sim://schedule",
        sim_archive=SimArchive(SimConfig(seed=SEED), clock=clock),
        backoff=0,
    )
    store = SQLiteStore(settings.layout.lifecycle_db)
    end = HOUR + timedelta(hours=1)
    discover_window(store, client, DETECTORS, HOUR, end, now=NOW, run_id="r")
    download_window(store, client, settings.layout.raw_dir, HOUR, end, clock=clock, owner="a")
    process_window(
        store, FrameProcessor(settings.layout.frames_dir), HOUR, end, clock=clock, owner="b"
    )


def test_hourly_and_daily_mosaics_materialize_and_report_their_files(settings, instance):
    _processed_hour(settings)
    resources = {"store": store_resource(settings), "pipeline": pipeline_resource(settings)}
    products = settings.layout.products_dir

    hourly = materialize(
        [hourly_mosaic], resources=resources, partition_key="2025-06-10-03:00", instance=instance
    )
    assert hourly.success
    meta = hourly.asset_materializations_for_node("hourly_mosaic")[-1].metadata
    assert meta["mosaics"].value == 1 and meta["hours_without_pair"].value == 0
    assert Path(meta["fits"].value) == hourly_paths(products, HOUR).fits
    assert Path(meta["png"].value).is_file()

    empty = materialize(
        [hourly_mosaic], resources=resources, partition_key="2025-06-10-05:00", instance=instance
    )
    assert empty.success  # an hour without frames is reported, not failed
    meta = empty.asset_materializations_for_node("hourly_mosaic")[-1].metadata
    assert meta["mosaics"].value == 0 and "no processed C2 and C3" in meta["hours"].value

    daily = materialize(
        [daily_mosaic], resources=resources, partition_key="2025-06-10", instance=instance
    )
    assert daily.success
    meta = daily.asset_materializations_for_node("daily_mosaic")[-1].metadata
    assert meta["mosaics"].value == 1 and meta["hours"].value == 1
    assert meta["hourly_built_here"].value == 0  # 03:00 was made by the hourly asset
    assert Path(meta["fits"].value) == daily_paths(products, HOUR.date()).fits
