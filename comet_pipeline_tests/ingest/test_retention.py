"""Retention over a real store and real files: what goes, what stays, what the store knows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from comet_pipeline.domain import (
    CandidateRecord,
    CandidateStatus,
    DetectionRecord,
    Detector,
    FileState,
    Frame,
    ProductFile,
)
from comet_pipeline.imaging.pipeline import sample_path_for
from comet_pipeline.ingest.retention import RAW, apply_retention, disk_usage
from comet_pipeline.settings import Retention
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.store._helpers import T0, archive_file, path_to

NOW = T0 + timedelta(days=100)
POLICY = Retention(raw_days=14, fits_days=60, png_days=None)
#: name -> days before NOW it was observed
AGES = {"old.fts": 70, "old_wanted.fts": 70, "old_rejected.fts": 70, "mid.fts": 20, "new.fts": 1}


def _file(path: Path, size: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return str(path)


@pytest.fixture
def home_store(tmp_path):
    home = tmp_path / "home"
    store = SQLiteStore(home / "lifecycle.db")
    files = [archive_file(n, NOW - timedelta(days=d)) for n, d in AGES.items()]
    files.append(archive_file("waiting.fts", NOW - timedelta(days=70)))  # never processed
    store.register_files(files, now=T0)
    for f in files:
        raw = _file(home / "raw" / f.name, 2000)
        steps = path_to(FileState.READY if f.name == "waiting.fts" else FileState.PROCESSED)
        for state in steps:
            extra = {"raw_path": raw} if state is FileState.DOWNLOADED else {}
            assert store.transition(f.name, state, now=T0, **extra)
        if f.name == "waiting.fts":
            continue
        stem = home / "frames" / f.name.removesuffix(".fts")
        store.record_frame(
            Frame(
                f.name,
                Detector.C2,
                f.observed_at,
                products={
                    "calibrated": ProductFile(_file(Path(f"{stem}.cal.fits"), 4000), 4000),
                    "processed": ProductFile(_file(Path(f"{stem}.bgsub.fits"), 4000), 4000),
                    "preview": ProductFile(_file(Path(f"{stem}.preview.png"), 300), 300),
                },
            ),
            now=T0,
        )
        _file(sample_path_for(Path(f"{stem}.cal.fits")), 100)
    for cid, status, frame in [
        ("C2-wanted", CandidateStatus.NEW, "old_wanted.fts"),
        ("C2-rejected", CandidateStatus.REJECTED, "old_rejected.fts"),
    ]:
        store.upsert_candidate(
            CandidateRecord(
                cid, "c2", NOW, NOW, 1, 0.5, 5.0, 1.0, 0.0, CandidateStatus.NEW, None, None
            ),
            now=T0,
        )
        store.replace_detections(cid, [DetectionRecord(frame, NOW, 1.0, 2.0)])
        if status is not CandidateStatus.NEW:
            store.review_candidate(cid, status, by="ada", now=T0)
    return home, store


def test_old_fits_and_raw_go_pngs_and_what_candidates_need_stay(home_store):
    home, store = home_store
    result = apply_retention(store, home, POLICY, now=NOW)
    gone = {(f, p) for f in ("old", "old_rejected") for p in ("cal.fits", "bgsub.fits")}
    for stem in ("old", "old_wanted", "old_rejected", "mid", "new"):
        for suffix in ("cal.fits", "bgsub.fits", "preview.png"):
            path = home / "frames" / f"{stem}.{suffix}"
            assert path.exists() is ((stem, suffix) not in gone), path
    assert not sample_path_for(home / "frames" / "old.cal.fits").exists()  # went with it
    assert (home / "frames" / "old_wanted.sample.npy").exists()
    old = store.frame("old.fts")
    assert set(old.products) == {"preview"} and set(old.pruned) == {"calibrated", "processed"}
    assert old.pruned["calibrated"] == NOW and old.path("calibrated") is None
    # raw: older than 14 days and processed, unless a candidate needs the frame
    raw_left = {p.name for p in (home / "raw").iterdir()}
    assert raw_left == {"old_wanted.fts", "new.fts", "waiting.fts"}
    assert result.files[Detector.C2, "calibrated"] == 2
    assert result.files[Detector.C2, RAW] == 3  # old, old_rejected, mid
    assert result.size_bytes[Detector.C2, "processed"] == 8000
    assert result.removed_files == 2 + 2 + 3 and result.missing == 0
    assert set(result.cutoffs) == {"fits", RAW}  # PNGs are kept for ever

    again = apply_retention(store, home, POLICY, now=NOW)
    assert again.removed_files == 0 and again.missing == 0  # marked: not offered twice


def test_disk_usage_counts_what_is_left(home_store):
    home, store = home_store
    before = {(u.product): u for u in disk_usage(store, home)}
    assert before["calibrated"].files == 5 and before[RAW].files == 6
    assert before[RAW].size_bytes == 6 * 2000
    apply_retention(store, home, POLICY, now=NOW)
    after = {(u.product): u for u in disk_usage(store, home)}
    assert after["calibrated"].files == 3 and after["calibrated"].size_bytes == 3 * 4000
    assert after["preview"].files == 5
    assert after[RAW].files == 3


def test_a_file_already_gone_is_marked_not_counted(home_store):
    home, store = home_store
    (home / "frames" / "old.cal.fits").unlink()
    result = apply_retention(store, home, POLICY, now=NOW)
    assert result.missing == 1 and result.files[Detector.C2, "calibrated"] == 1
    assert "calibrated" in store.frame("old.fts").pruned


def test_reprocessing_a_frame_brings_its_products_back(home_store):
    home, store = home_store
    apply_retention(store, home, POLICY, now=NOW)
    frame = store.frame("old.fts")
    remade = Frame(
        frame.name,
        frame.detector,
        frame.observed_at,
        products={"calibrated": ProductFile(_file(home / "frames" / "old.cal.fits", 10), 10)},
    )
    store.record_frame(remade, now=NOW)
    assert set(store.frame("old.fts").products) == {"calibrated"}
    assert store.frame("old.fts").pruned == {}


def test_retention_days_come_from_the_settings():
    from comet_pipeline.settings import Settings, SettingsError

    env = {"COMET_HOME": "/tmp/h", "COMET_KEEP_RAW_DAYS": "7", "COMET_KEEP_FITS_DAYS": "forever"}
    assert Settings.from_env(env).retention == Retention(raw_days=7, fits_days=None)
    assert Settings.from_env({"COMET_HOME": "/tmp/h"}).retention == Retention(14, 60, None)
    with pytest.raises(SettingsError, match="COMET_KEEP_PNG_DAYS"):
        Settings.from_env({"COMET_HOME": "/tmp/h", "COMET_KEEP_PNG_DAYS": "0"})


def test_composites_and_mosaics_follow_the_same_days(tmp_path):
    """Old composites and mosaics lose their FITS past fits_days (their PNGs stay: PNGs are
    kept for ever here); one of an old day written recently stays, as does a recent day."""
    import os

    from comet_pipeline.store import SQLiteStore

    home = tmp_path / "home"
    products = home / "products"
    old_day, new_day = NOW - timedelta(days=70), NOW - timedelta(days=1)
    files = {
        "old_fits": products
        / f"composites/temporal/{old_day:%Y%m%d}/{old_day:%Y%m%d}_0300_c3_temporal.fits.fz",
        "old_png": products
        / f"composites/temporal/{old_day:%Y%m%d}/{old_day:%Y%m%d}_0300_c3_temporal.png",
        "old_mosaic": products / f"mosaics/daily/{old_day:%Y%m%d}_mosaic.fits.fz",
        "rewritten": products
        / f"mosaics/hourly/{old_day:%Y%m%d}/{old_day:%Y%m%d}_0400_mosaic.fits.fz",
        "new_fits": products
        / f"mosaics/hourly/{new_day:%Y%m%d}/{new_day:%Y%m%d}_0400_mosaic.fits.fz",
    }
    for name, path in files.items():
        _file(path, 1000)
        written = (NOW - timedelta(hours=1)) if name == "rewritten" else old_day
        os.utime(path, (written.timestamp(), written.timestamp()))
    home.mkdir(exist_ok=True)
    result = apply_retention(SQLiteStore(home / "lifecycle.db"), home, POLICY, now=NOW)
    assert {n for n, p in files.items() if not p.exists()} == {"old_fits", "old_mosaic"}
    assert result.derived_files == {"composites/fits": 1, "mosaics/fits": 1}
    assert result.derived_bytes["mosaics/fits"] == 1000 and result.removed_files == 2


def test_the_hunts_source_tables_go_with_the_fits_days(tmp_path):
    """Source tables (products/sources/<det>/<day>/, ECSV) are pruned by their day like the
    composites, on the FITS days (a table measures its frame's science pixels); the
    day folder is the layout the hunt writes."""
    import os

    from comet_pipeline.ingest.source_tables import source_table_path
    from comet_pipeline.store import SQLiteStore

    home = tmp_path / "home"
    products = home / "products"
    old_day, new_day = NOW - timedelta(days=70), NOW - timedelta(days=1)
    files = {
        "old": source_table_path(products, Detector.C3, "32193405.fts", old_day),
        "old_c2": source_table_path(products, Detector.C2, "22193405.fts", old_day),
        "rewritten": source_table_path(products, Detector.C3, "32193406.fts", old_day),
        "new": source_table_path(products, Detector.C3, "32199999.fts", new_day),
    }
    assert files["old"].parent == products / "sources" / "c3" / f"{old_day:%Y%m%d}"
    written = {"old": old_day, "old_c2": old_day, "rewritten": NOW - timedelta(hours=1)}
    for name, path in files.items():
        _file(path, 500)
        when = written.get(name, new_day).timestamp()
        os.utime(path, (when, when))
    home.mkdir(exist_ok=True)
    store = SQLiteStore(home / "lifecycle.db")
    # FITS kept for ever (PNGs a week): the tables stay too
    forever = Retention(raw_days=None, fits_days=None, png_days=7)
    assert apply_retention(store, home, forever, now=NOW).derived_files == {}
    assert all(p.exists() for p in files.values())

    result = apply_retention(store, home, POLICY, now=NOW)
    assert {n for n, p in files.items() if not p.exists()} == {"old", "old_c2"}
    assert result.derived_files == {"sources/table": 2}
    assert result.derived_bytes["sources/table"] == 1000 and result.removed_files == 2
