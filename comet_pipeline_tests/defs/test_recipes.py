"""Recipes through Dagster: run config picks one, every FITS product of the run says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from comet_pipeline.defs.jobs import INGEST_HOUR_JOB
from comet_pipeline.defs.resources import pipeline_resource
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.products import PRODUCTS
from comet_pipeline.imaging.products.registry import FITS
from comet_pipeline.settings import Settings
from comet_pipeline.store import SQLiteStore

from .conftest import PARTITION, make_defs

HOUR = datetime(2025, 6, 10, 3, tzinfo=UTC)
FITS_PRODUCTS = [s.name for s in PRODUCTS if s.content_type == FITS]


def _recipe_config(name: str) -> dict:
    return {
        "ops": {
            "processed_frames": {"config": {"recipe": name}},
            "comet_candidates": {"config": {"recipe": name}},
        }
    }


def _headers(settings: Settings) -> list:
    store = SQLiteStore(settings.layout.lifecycle_db)
    frames = store.frames_between(Detector.C3, HOUR, HOUR + timedelta(hours=1))
    assert frames, "the hour processed no C3 frame"
    paths = [Path(p) for f in frames for n in FITS_PRODUCTS if (p := f.path(n))]
    assert len(paths) == len(frames) * len(FITS_PRODUCTS)
    return [read_image(p)[1] for p in paths]


@pytest.fixture
def c3_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", detectors=(Detector.C3,))


def test_run_config_recipe_reaches_every_products_header(c3_settings, instance):
    job = make_defs(c3_settings).resolve_job_def(INGEST_HOUR_JOB)
    result = job.execute_in_process(
        partition_key=PARTITION, instance=instance, run_config=_recipe_config("faint-c3")
    )
    assert result.success
    for header in _headers(c3_settings):
        assert header["RECIPE"] == "faint-c3"
        assert (header["RCPHIST"], header["RCPMINH"], header["RCPBGWIN"]) == (20, 5, 10.0)
    # the hunt's knobs too: the hour's 5 C3 frames are fewer than faint-c3's min_frames 7
    assert len(_headers(c3_settings)) == 5 * len(FITS_PRODUCTS)
    assert _hunted_windows(result) == 0


def test_the_resources_recipe_applies_when_the_run_names_none(c3_settings, instance):
    # what `comet-pipeline recipes run NAME` does: the recipe on the pipeline resource
    defs = make_defs(c3_settings, pipeline=pipeline_resource(c3_settings, recipe="clean-movie"))
    result = defs.resolve_job_def(INGEST_HOUR_JOB).execute_in_process(
        partition_key=PARTITION, instance=instance
    )
    assert result.success
    for header in _headers(c3_settings):
        assert header["RECIPE"] == "clean-movie" and header["RCPMAXGP"] == 60.0


def test_default_run_records_no_recipe(c3_settings, instance):
    job = make_defs(c3_settings).resolve_job_def(INGEST_HOUR_JOB)
    result = job.execute_in_process(
        partition_key=PARTITION, instance=instance, run_config=_recipe_config("default")
    )
    assert result.success
    assert all("RECIPE" not in h for h in _headers(c3_settings))
    assert _hunted_windows(result) == 1  # today's min_frames 5: the same 5 frames are hunted


def test_an_unknown_recipe_fails_the_step_before_any_frame_is_processed(c3_settings, instance):
    job = make_defs(c3_settings).resolve_job_def(INGEST_HOUR_JOB)
    with pytest.raises(ValueError, match="no recipe 'faint'; known: default, faint-c3"):
        job.execute_in_process(
            partition_key=PARTITION, instance=instance, run_config=_recipe_config("faint")
        )
    assert not SQLiteStore(c3_settings.layout.lifecycle_db).frames_between(
        Detector.C3, HOUR, HOUR + timedelta(hours=1)
    )
    with pytest.raises(ValueError, match="no recipe"):
        pipeline_resource(c3_settings, recipe="nope")


def _hunted_windows(result) -> int:
    meta = result.asset_materializations_for_node("comet_candidates")[-1].metadata
    return meta["hunter/c3"].value["windows"]
