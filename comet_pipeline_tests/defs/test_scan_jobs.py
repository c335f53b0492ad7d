"""The disk scan asset and its check, and the ``reprocess_range`` job, run by Dagster
against real resources on a tmp home (services ingest the hour first)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dagster import materialize

from comet_pipeline.definitions import build_resources
from comet_pipeline.defs.resources import ArchiveResource, ClockResource
from comet_pipeline.defs.scan import DISK_MATCHES_STORE, disk_scan, reprocess_range
from comet_pipeline.domain import Detector, FileState
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PROCESSED_PNG
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.shared import HOUR, NOW, SEED

END = HOUR + timedelta(hours=1)


def _resources(settings):
    clock = ClockResource(frozen_at=NOW.isoformat())
    archive = ArchiveResource(
        archive_url=settings.archive_url,
        schedule_url=settings.schedule_url,
        sim_seed=SEED,
        backoff_seconds=0.0,
        clock=clock,
    )
    return build_resources(settings, clock=clock, archive=archive)


def _ingest(settings, resources) -> SQLiteStore:
    settings.home.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.layout.lifecycle_db)
    client, clock = resources["archive"].get(), ManualClock(NOW)
    layout = settings.layout
    discover_window(store, client, (Detector.C3,), HOUR, END, now=NOW, run_id="r")
    download_window(store, client, layout.raw_dir, HOUR, END, clock=clock, owner="r")
    process_window(store, FrameProcessor(layout.frames_dir), HOUR, END, clock=clock, owner="r")
    return store


def test_disk_scan_warns_then_repairs_a_deleted_product(settings):
    resources = _resources(settings)
    store = _ingest(settings, resources)
    frame = store.frames_between(Detector.C3, HOUR, END)[0]
    png = Path(frame.path(PROCESSED_PNG))
    png.unlink()

    result = materialize([disk_scan], resources=resources)
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == DISK_MATCHES_STORE.name and not check.passed
    assert check.metadata["missing_products"].value == 1
    meta = result.asset_materializations_for_node("disk_scan")[0].metadata
    assert meta["reprocessed"].value == 1 and meta["step_errors"].value == 0
    assert png.is_file() and store.get_file(frame.name).state is FileState.PROCESSED

    again = materialize([disk_scan], resources=resources)
    assert again.get_asset_check_evaluations()[0].passed


def test_reprocess_range_job_resets_and_reprocesses_with_its_config(settings):
    resources = _resources(settings)
    store = _ingest(settings, resources)
    names = [f.name for f in store.frames_between(Detector.C3, HOUR, END)]
    config = {
        "start": HOUR.isoformat(),
        "end": END.isoformat(),
        "detectors": ["c3"],
        "products": [PROCESSED_PNG],
        "recipe": "default",
    }
    result = reprocess_range.execute_in_process(
        run_config={"ops": {"reprocess_frames": {"config": config}}}, resources=resources
    )
    assert result.success and result.output_for_node("reprocess_frames") == len(names)
    for name in names:
        assert store.get_file(name).state is FileState.PROCESSED
        runs = [t for t in store.transitions_for(name) if t.run_id == result.run_id]
        assert (runs[0].from_state, runs[0].to_state) == (FileState.PROCESSED, FileState.READY)
        assert runs[0].reason == f"re-processing: recipe default, products {PROCESSED_PNG}"
        assert runs[-1].to_state is FileState.PROCESSED

    bad = reprocess_range.execute_in_process(
        run_config={"ops": {"reprocess_frames": {"config": {**config, "recipe": "nope"}}}},
        resources=resources,
        raise_on_error=False,
    )
    assert not bad.success
