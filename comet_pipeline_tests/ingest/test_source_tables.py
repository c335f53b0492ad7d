"""The hourly hunt's per-frame source tables, on three simulated C3 hours with a comet.

Written once per hunted frame from the hunter's own cache (never by detecting again),
read back by plain astropy with their units, left alone by an overlapping hunt, not
flagged by the disk scan; retention is in test_retention.
"""

from __future__ import annotations

import io
import shutil
from datetime import timedelta
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Column, MaskedColumn, Table

from comet_pipeline.domain import Detector
from comet_pipeline.hunting import hunter
from comet_pipeline.hunting.sources import SourceList
from comet_pipeline.imaging.regions import NOISE_SIGMA
from comet_pipeline.ingest.analysis import frame_sources_table
from comet_pipeline.ingest.hunt import hunt_window
from comet_pipeline.ingest.scan import scan_home
from comet_pipeline.ingest.source_tables import ecsv_bytes, source_table_path
from comet_pipeline.store import SQLiteStore

from .comet_home import CometHome, build_comet_home
from .conftest import NOW

C3 = (Detector.C3,)
COLUMNS = ("x", "y", "flux", "snr", "sharpness")


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> CometHome:
    return build_comet_home(tmp_path_factory.mktemp("comet"))


@pytest.fixture
def store(home, tmp_path):
    """A copy of the home's store (its frames' products stay where the home has them);
    what a hunt here writes goes to ``tmp_path / "products"``."""
    copy = tmp_path / "lifecycle.db"
    shutil.copy(home.settings.layout.lifecycle_db, copy)
    opened = SQLiteStore(copy)
    yield opened
    opened.close()


def _read(path: Path) -> Table:
    with u.add_enabled_units([NOISE_SIGMA]):  # plain astropy, the project's unit enabled
        return Table.read(path, format="ascii.ecsv")


def _tables(products: Path) -> dict[Path, tuple[int, int]]:
    """Every file under products/sources: (inode, mtime in ns)."""
    return {
        p: (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in (products / "sources").rglob("*")
        if p.is_file()
    }


def test_the_hunt_saves_each_frames_source_list_it_linked_from(home, store, tmp_path, monkeypatch):
    lists: dict[str, list[SourceList]] = {}
    detect = hunter.frame_sources

    def spy(frame, config):  # the hunter's per-frame detector: what its cache holds
        found = detect(frame, config)
        lists.setdefault(frame.name, []).append(found)
        return found

    monkeypatch.setattr(hunter, "frame_sources", spy)
    products = tmp_path / "products"
    result = hunt_window(store, products, home.end - timedelta(hours=1), home.end, C3, now=NOW)

    frames = store.frames_between(Detector.C3, home.start, home.end)
    assert len(frames) > 10 and result.frames == {Detector.C3: len(frames)}
    assert result.source_tables == {Detector.C3: len(frames)}
    assert result.source_tables_written == len(frames)
    # each frame detected once: the tables are the cache's lists, not a second detection
    assert {name: len(found) for name, found in lists.items()} == {f.name: 1 for f in frames}
    expected = {source_table_path(products, Detector.C3, f.name, f.observed_at): f for f in frames}
    assert set(_tables(products)) == set(expected)
    for path, frame in expected.items():
        t, stem = frame.observed_at, frame.name.removesuffix(".fts")
        day = products / "sources" / "c3" / f"{t:%Y%m%d}"
        assert path == day / f"{t:%Y%m%d_%H%M%S}_{stem}.sources.ecsv"
        table = _read(path)
        cached = lists[frame.name][0]
        order = np.argsort(-cached.snr, kind="stable")  # brightest first
        assert table.colnames == list(COLUMNS) and len(table) == len(cached) > 0
        for name in COLUMNS:  # the same rows, exactly (ECSV keeps every float's digits)
            np.testing.assert_array_equal(table[name], getattr(cached, name)[order])
        assert table["x"].unit == u.pix and table["y"].unit == u.pix
        assert table["flux"].unit == NOISE_SIGMA
        assert table["snr"].unit == u.dimensionless_unscaled
        assert table["sharpness"].unit == u.dimensionless_unscaled
        assert table["x"].description == "FITS column (0-based)"
        assert table.meta["frame"] == frame.name and table.meta["detector"] == "c3"
        assert table.meta["observed_at"] == frame.observed_at.isoformat()

    # the comet is in the tables where the simulator put it
    on_comet = 0
    for name, (x, y, peak) in home.truth.items():
        frame = next(f for f in frames if f.name == name)
        table = _read(source_table_path(products, Detector.C3, name, frame.observed_at))
        on_comet += peak > 8 and np.hypot(table["x"] - x, table["y"] - y).min() <= 2.0
    assert on_comet >= 5

    # what ``analyse sources`` would detect now is this same table, meta and all
    frame = frames[len(frames) // 2]
    monkeypatch.setattr(hunter, "frame_sources", detect)
    detected = frame_sources_table(frame)
    saved = _read(source_table_path(products, Detector.C3, frame.name, frame.observed_at))
    assert detected.colnames == saved.colnames and dict(detected.meta) == dict(saved.meta)
    for name in COLUMNS:
        np.testing.assert_array_equal(detected[name], saved[name])
        assert detected[name].unit == saved[name].unit


def test_an_overlapping_hunt_writes_only_the_frames_without_a_table(home, store, tmp_path):
    products = tmp_path / "products"
    split = home.start + timedelta(hours=2)
    early = store.frames_between(Detector.C3, home.start, split)
    late = store.frames_between(Detector.C3, split, home.end)
    assert len(early) >= 5 and late

    first = hunt_window(store, products, split - timedelta(hours=1), split, C3, now=NOW)
    assert first.source_tables == {Detector.C3: len(early)}
    before = _tables(products)
    assert len(before) == len(early)

    # hours ending split and split + 1 h: the first window again, then one more hour
    second = hunt_window(store, products, split - timedelta(hours=1), home.end, C3, now=NOW)
    assert second.source_tables == {Detector.C3: len(late)}
    after = _tables(products)
    assert len(after) == len(early) + len(late)
    assert {p: after[p] for p in before} == before  # the same files, never rewritten

    third = hunt_window(store, products, home.end - timedelta(hours=1), home.end, C3, now=NOW)
    assert third.source_tables_written == 0 and _tables(products) == after


def test_a_hunt_too_short_to_link_writes_no_table(home, store, tmp_path):
    """Frames the hunter never searched (a window below ``min_frames``) get no table."""
    products = tmp_path / "products"
    first = store.frames_between(Detector.C3, home.start, home.end)[0]
    hour = first.observed_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    short = timedelta(minutes=30)  # 2 or 3 frames at the 12-minute cadence
    alone = hunt_window(store, products, hour - timedelta(hours=1), hour, C3, now=NOW, window=short)
    assert alone.frames[Detector.C3] > 0 and alone.source_tables == {Detector.C3: 0}
    assert not (products / "sources").exists()


def test_the_scan_does_not_flag_the_tables(home):
    store = SQLiteStore(home.settings.layout.lifecycle_db)
    try:
        report = scan_home(store, home.settings.layout)
        frames = store.frames_between(Detector.C3, home.start, home.end)
    finally:
        store.close()
    tables = list((home.settings.layout.products_dir / "sources").rglob("*.sources.ecsv"))
    assert len(tables) == len(frames) > 10  # the home's own hunt wrote them
    assert report.clean, report.summary()
    assert not [p for p in report.unknown_files if "sources" in p.parts]


def test_ecsv_bytes_are_astropys_own(tmp_path):
    """The quick path for float tables writes exactly what astropy's ECSV writer does."""
    rng = np.random.default_rng(7)
    values = rng.normal(size=400) * 10.0 ** rng.integers(-30, 30, 400)
    values = np.concatenate([values, [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e16, 1e-5, 5e-324]])
    table = Table(
        [
            Column(values, name="x", unit=u.pix, description="a column"),
            Column(values[::-1].copy(), name="flux", unit=NOISE_SIGMA),
        ],
        meta={"frame": "a b.fts", "sun_x": 511.5},
    )
    other = Table(
        [MaskedColumn([1.0, 2.0], mask=[False, True], name="m"), Column(["a b", "c"], name="s")]
    )
    for t in (table, table[:0], other, Table()):
        expected = io.StringIO()
        t.write(expected, format="ascii.ecsv")
        assert ecsv_bytes(t) == expected.getvalue().encode("utf-8")
    path = tmp_path / "t.ecsv"
    path.write_bytes(ecsv_bytes(table))
    back = _read(path)
    np.testing.assert_array_equal(back["x"], values)
    assert back["flux"].unit == NOISE_SIGMA
