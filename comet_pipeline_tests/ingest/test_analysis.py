"""The analysis services on real products: six simulated C3 hours with a bright comet."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from PIL import Image

from comet_pipeline.domain import Detector, ProductFile
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.products import CALIBRATED, PROCESSED
from comet_pipeline.imaging.regions import NOISE_SIGMA
from comet_pipeline.ingest.analysis import (
    AnalysisError,
    Annulus,
    Box,
    frame_sources_by_name,
    frame_stats_table,
    read_table,
    region_statistics,
    write_table,
)
from comet_pipeline.ingest.lightcurve import light_curve, write_light_curve
from comet_pipeline.store import SQLiteStore

from .comet_home import CometHome, build_comet_home


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> CometHome:
    return build_comet_home(tmp_path_factory.mktemp("comet"))


@pytest.fixture
def store(home):
    opened = SQLiteStore(home.settings.layout.lifecycle_db)
    yield opened
    opened.close()


def test_the_light_curve_has_a_row_per_detection_and_reads_back(home, store, tmp_path):
    cid = home.candidate.id
    detections = store.detections_for(cid)
    curve = light_curve(store, cid)
    table = curve.table()
    assert len(table) == len(detections) == home.candidate.n_frames
    assert list(table["file"]) == [d.file for d in sorted(detections, key=lambda d: d.observed_at)]
    assert all(table["measured"])
    on_truth = [i for i, name in enumerate(table["file"]) if name in home.truth]
    assert len(on_truth) >= 5
    for i in on_truth:
        x, y, _ = home.truth[table["file"][i]]
        assert np.hypot(table["x"][i] - x, table["y"][i] - y) <= 2.0
        assert table["snr"][i] > 5.0
        assert table["flux"][i] > 5 * table["flux_err"][i] > 0
    assert table["flux"].unit == NOISE_SIGMA and table["x"].unit == u.pix
    assert table["hours"][0] == 0.0 and np.all(np.diff(table["hours"]) > 0)

    files = write_light_curve(curve, tmp_path / "curves")
    assert files.rows == len(table) and files.measured == len(table)
    back = read_table(files.table)
    assert len(back) == len(table)
    for name in table.colnames:
        assert back[name].unit == table[name].unit, name
    np.testing.assert_allclose(back["flux"], table["flux"])
    np.testing.assert_allclose(back["snr"], table["snr"])
    assert list(back["file"]) == list(table["file"])
    assert back.meta["candidate"] == cid
    with u.add_enabled_units([NOISE_SIGMA]):  # plain astropy reads it as well
        assert len(Table.read(files.table, format="ascii.ecsv")) == len(table)

    with Image.open(files.plot) as png:
        assert png.format == "PNG" and png.size == (640, 420)
        pixels = np.asarray(png.convert("RGB"))
    assert 2_000 < files.plot.stat().st_size < 200_000
    blue = np.all(pixels == (31, 90, 180), axis=-1).sum()  # the flux points were drawn
    assert blue > 20 * len(table)


def test_a_detection_whose_product_is_gone_stays_as_an_unmeasured_row(home, tmp_path):
    copy = tmp_path / "copy.db"
    shutil.copy(home.settings.layout.lifecycle_db, copy)
    store = SQLiteStore(copy)
    try:
        first = store.detections_for(home.candidate.id)[0]
        frame = store.frame(first.file)
        assert frame is not None
        gone = dict(frame.products)
        gone[PROCESSED] = ProductFile(str(tmp_path / "pruned.bgsub.fits.fz"), 0)
        store.record_frame(replace(frame, products=gone), now=frame.observed_at)
        table = light_curve(store, home.candidate.id).table()
    finally:
        store.close()
    assert len(table) == home.candidate.n_frames
    row = list(table["file"]).index(first.file)
    assert not table["measured"][row] and np.isnan(table["flux"][row])
    assert table["measured"].sum() == len(table) - 1


def test_the_sources_of_a_frame_hold_the_simulated_comet(home, store, tmp_path):
    # the frames where the hunt linked the comet (on this sky it misses the first one,
    # where the comet's tail makes it fail the shape cuts): the table is the hunter's own
    linked = {d.file for d in store.detections_for(home.candidate.id)}
    assert len(linked & set(home.truth)) >= 0.8 * len(home.truth)
    names = sorted(linked & set(home.truth))[:: max(1, len(home.truth) // 4)]
    for name in names:
        table = frame_sources_by_name(store, name)
        x, y, _ = home.truth[name]
        near = np.hypot(table["x"] - x, table["y"] - y)
        assert near.min() <= 2.0, name
        assert table["snr"][int(np.argmin(near))] > 5
    assert table["x"].unit == u.pix and table["flux"].unit == NOISE_SIGMA
    assert set(table.colnames) == {"x", "y", "flux", "snr", "sharpness"}
    assert np.all(np.diff(table["snr"]) <= 0)  # brightest first
    assert table.meta["frame"] == name and table.meta["detector"] == "c3"

    back = read_table(write_table(table, tmp_path / "s.ecsv"))
    assert len(back) == len(table) and back["flux"].unit == NOISE_SIGMA
    vot = read_table(write_table(table, tmp_path / "s.xml", "votable"))
    assert len(vot) == len(table)
    np.testing.assert_allclose(vot["x"], table["x"])
    assert vot["x"].unit == u.pix and vot["flux"].unit == NOISE_SIGMA


def test_regions_on_a_real_processed_frame(home, store):
    name = sorted(home.truth)[len(home.truth) // 2]
    frame = store.frame(name)
    assert frame is not None
    # processed is in units of the local noise: an annulus out in the field is ~N(0, 1)
    ring = region_statistics(store, name, Annulus(150, 250))
    image, header = read_image(frame.path(PROCESSED))
    assert ring.center == (header["CRPIX1"] - 1, header["CRPIX2"] - 1)
    assert ring.stats.count > 50_000
    assert abs(ring.stats.median) < 0.2 and 0.8 < ring.stats.mad_sigma < 1.25
    assert ring.unit == NOISE_SIGMA

    # the comet: a bright max in a small disc at its true position, not in one beside it
    x, y, _ = home.truth[name]
    on = region_statistics(store, name, Annulus(0, 3, x, y)).stats
    off = region_statistics(store, name, Annulus(0, 3, x + 40, y)).stats
    assert on.max > 5 and on.sum > off.sum + 20

    # the whole calibrated frame: what the frames table says of it
    whole = region_statistics(store, name, Box(0, 0, 1023, 1023), product=CALIBRATED)
    masked = frame.stats["masked_fraction"]
    assert whole.stats.count == round((1 - masked) * image.size)
    assert whole.stats.median == pytest.approx(frame.stats["median"], rel=0.02)
    assert whole.unit == u.Unit("DN/s")
    box = region_statistics(store, name, Box(int(x) - 2, int(y) - 2, int(x) + 2, int(y) + 2))
    assert box.stats.count == 25 and "inclusive" in box.describe()

    with pytest.raises(AnalysisError):
        region_statistics(store, "no-such.fts", Box(0, 0, 1, 1))
    with pytest.raises(AnalysisError):
        region_statistics(store, name, Annulus(0, 3, x, None))


def test_the_frame_statistics_by_time(home, store):
    frames = store.frames_between(Detector.C3, home.start, home.end)
    table = frame_stats_table(store, Detector.C3, home.start, home.end)
    assert len(table) == len(frames) > 10
    assert list(table["name"]) == [f.name for f in frames]
    for key in ("median", "noise_sigma", "masked_fraction", "saturated_fraction"):
        np.testing.assert_allclose(table[key], [f.stats[key] for f in frames])
    assert table["median"].unit == u.Unit("DN/s") and table["roll_deg"].unit == u.deg
    hour = frame_stats_table(store, Detector.C3, home.start, home.start + timedelta(hours=1))
    assert 0 < len(hour) < len(table)
    assert len(frame_stats_table(store, Detector.C2, home.start, home.end)) == 0
