"""The hour's composites from frames the ingest services really processed, on disk and
as the Dagster asset materializes them."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from dagster import materialize
from PIL import Image

from comet_pipeline.defs.assets.composites import frame_composites
from comet_pipeline.defs.resources import StoreResource, pipeline_resource
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.ingest.composites import C2C3, TEMPORAL, build_composites
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.clocks import ManualClock

from .conftest import DETECTORS, HOUR, NOW, SEED

END = HOUR + timedelta(hours=1)
PARTITION = f"{HOUR:%Y-%m-%d-%H:%M}"


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Settings:
    """A home whose store holds HOUR's C2 and C3 frames, discovered, downloaded and
    processed by the services (one module-wide run: ~3 s)."""
    settings = Settings(home=tmp_path_factory.mktemp("composites") / "home")
    settings.home.mkdir(parents=True)
    clock = ManualClock(NOW)
    sim = SimArchive(SimConfig(seed=SEED), clock=clock)
    client = simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)
    store = SQLiteStore(settings.layout.lifecycle_db)
    discover_window(store, client, DETECTORS, HOUR, END, now=NOW, run_id="r1")
    download_window(store, client, settings.layout.raw_dir, HOUR, END, clock=clock, owner="r2")
    done = process_window(
        store, FrameProcessor(settings.layout.frames_dir), HOUR, END, clock=clock, owner="r3"
    )
    assert done.outcomes["processed"] >= 6, done.errors
    return settings


def test_an_hour_gives_a_temporal_composite_per_detector_and_c2_on_c3(processed):
    store = SQLiteStore(processed.layout.lifecycle_db)
    products_dir = processed.layout.products_dir
    result = build_composites(store, products_dir, HOUR, DETECTORS)
    assert result.skipped == {}
    kinds = sorted((p.kind, p.detector.value) for p in result.products)
    assert kinds == [(C2C3, "c3"), (TEMPORAL, "c2"), (TEMPORAL, "c3")]
    for product in result.products:
        assert product.png.is_relative_to(products_dir / "composites")
        with Image.open(product.png) as png:
            assert png.mode == "RGB" and png.size == (1024, 1024)
        with Image.open(product.thumbnail) as thumb:
            assert thumb.size == (256, 256)
        with fits.open(product.fits) as hdul:
            cube, head = hdul[1].data, hdul[1].header
        assert cube.shape == (len(product.channels), 1024, 1024)
        # every channel's frame and observed time is in the header, in channel order
        for i, ch in enumerate(product.channels, start=1):
            assert head[f"CH{i}NAME"] == ch.frame
            assert head[f"CH{i}TIME"].startswith(f"{ch.observed_at:%Y-%m-%dT%H:%M:%S}")
            assert head[f"CH{i}DET"] == ch.detector
        assert head["COMPKIND"] == product.kind

    temporal = {p.detector: p for p in result.products if p.kind == TEMPORAL}
    for det, product in temporal.items():
        frames = sorted(store.frames_between(det, HOUR, END), key=lambda f: f.observed_at)
        times = [ch.observed_at for ch in product.channels]
        assert times == sorted(times) and times[0] == frames[0].observed_at
        assert times[-1] == frames[-1].observed_at
        assert timedelta(minutes=30) <= times[-1] - times[0] < timedelta(hours=1)
        # the drift shifts follow the stars: west (+x at roll 0), ~5 times more in C2
        assert product.channels[0].shift[0] > 0 > product.channels[2].shift[0]
    c2_shift = temporal[Detector.C2].channels[0].shift[0]
    c3_shift = temporal[Detector.C3].channels[0].shift[0]
    assert 3.5 < c2_shift / c3_shift < 6.5

    # C2 on C3: the cube's planes are C3 itself and C2 on the C3 grid (with C3's WCS)
    pair = next(p for p in result.products if p.kind == C2C3)
    c3_frame, c2_frame = (store.frame(ch.frame) for ch in pair.channels)
    assert c3_frame is not None and c2_frame is not None
    assert c3_frame.detector is Detector.C3 and c2_frame.detector is Detector.C2
    assert abs(c3_frame.observed_at - c2_frame.observed_at) <= timedelta(minutes=30)
    c3_data, c3_header = read_image(Path(c3_frame.path(PROCESSED) or ""))
    with fits.open(pair.fits) as hdul:
        cube, head = hdul[1].data, hdul[1].header
        finite = np.isfinite(c3_data)
        assert np.abs(cube[0][finite] - c3_data[finite]).max() < 0.2
        assert 0.02 < np.isfinite(cube[1]).mean() < 0.08  # C2's field, small on C3's grid
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            assert np.allclose(
                WCS(head).celestial.pixel_to_world_values(10.0, 20.0),
                WCS(c3_header).pixel_to_world_values(10.0, 20.0),
            )

    # the same hour again: the same files, byte for byte
    before = {p.png: p.png.read_bytes() for p in result.products}
    again = build_composites(store, products_dir, HOUR, DETECTORS)
    assert {p.png: p.png.read_bytes() for p in again.products} == before


def test_an_hour_without_enough_frames_is_skipped_with_the_reason(processed):
    store = SQLiteStore(processed.layout.lifecycle_db)
    result = build_composites(
        store, processed.layout.products_dir, HOUR - timedelta(hours=5), DETECTORS
    )
    assert result.products == []
    assert set(result.skipped) == {"c2 temporal", "c3 temporal", C2C3}
    assert "3 needed" in result.skipped["c3 temporal"]


def test_the_asset_materializes_the_hour_with_previews_and_channel_times(processed):
    store = StoreResource(db_path=str(processed.layout.lifecycle_db))
    got = materialize(
        [frame_composites],
        resources={"store": store, "pipeline": pipeline_resource(processed)},
        partition_key=PARTITION,
    )
    assert got.success
    (mat,) = got.asset_materializations_for_node("frame_composites")
    meta = mat.metadata
    assert meta["composites"].value == 3
    assert "asinh" in meta["stretch"].value
    assert "data:image/png;base64," in meta["c3_temporal_preview"].value
    assert "data:image/png;base64," in meta["c2c3_preview"].value
    channels = meta["c2_temporal_channels"].value
    assert channels.count("\n") == 4  # header, rule, three channels
    assert Path(meta["c2c3_fits"].value).is_file()
