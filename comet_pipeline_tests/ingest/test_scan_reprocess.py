"""Scan and bulk re-processing on a real store, real simulator files and real products."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from comet_pipeline.domain import Detector, FileState
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PROCESSED_PNG
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.reprocess import reprocess_range
from comet_pipeline.ingest.scan import repair, scan_and_repair, scan_home, sha256_of
from comet_pipeline.store import IllegalTransition

from .conftest import HOUR, NOW

END = HOUR + timedelta(hours=1)
C3 = (Detector.C3,)


def ingest_hour(store, client, layout, clock) -> list:
    """One simulated C3 hour through the normal services: discovered, fetched, processed."""
    discover_window(store, client, C3, HOUR, END, now=NOW, run_id="r1")
    download_window(store, client, layout.raw_dir, HOUR, END, clock=clock, owner="r2")
    process_window(store, FrameProcessor(layout.frames_dir), HOUR, END, clock=clock, owner="r3")
    frames = store.frames_between(Detector.C3, HOUR, END)
    assert len(frames) >= 3
    return frames


def test_a_clean_home_scans_clean(store, client, settings, clock):
    frames = ingest_hour(store, client, settings.layout, clock)
    report = scan_home(store, settings.layout)
    assert report.clean, (report.missing_products, report.bad_raw, report.unknown_files[:5])
    assert report.raw_checked == len(frames)
    assert report.products_checked == sum(len(f.products) for f in frames)


def test_scan_finds_a_deleted_product_a_changed_raw_file_and_a_stray_and_repairs_them(
    store, client, settings, clock
):
    layout = settings.layout
    frames = ingest_hour(store, client, layout, clock)
    lost, changed = frames[1], frames[2]
    png = Path(lost.path(PROCESSED_PNG))
    png_bytes = png.read_bytes()
    png.unlink()
    record = store.get_file(changed.name)
    raw = Path(record.raw_path)
    good_sha = record.sha256
    assert sha256_of(raw) == good_sha
    data = bytearray(raw.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the data
    raw.write_bytes(bytes(data))
    stray = layout.frames_dir / "c3" / "stray.png"
    stray.write_bytes(b"not ours")

    report = scan_home(store, layout)
    assert [(m.frame, m.product) for m in report.missing_products] == [(lost.name, PROCESSED_PNG)]
    assert [(b.name, b.expected) for b in report.bad_raw] == [(changed.name, good_sha)]
    assert report.bad_raw[0].actual not in (None, good_sha)
    assert report.unknown_files == [stray]
    assert not report.clean

    found, fixed = scan_and_repair(
        store, client, layout, clock=clock, run_id="scan-1", detectors=C3
    )
    assert fixed is not None and fixed.reprocess == [lost.name]
    assert fixed.refetch == [changed.name] and not fixed.not_applied
    assert fixed.steps.outcomes["ready"] == 1 and fixed.steps.outcomes["processed"] == 2
    assert not fixed.steps.errors
    # the product is back, byte for byte; the raw file matches its checksum again
    assert png.read_bytes() == png_bytes
    assert sha256_of(raw) == good_sha == store.get_file(changed.name).sha256
    for name in (lost.name, changed.name):
        assert store.get_file(name).state is FileState.PROCESSED
    trail = {t.reason or "": t for t in store.transitions_for(lost.name)}
    reset = next(t for r, t in trail.items() if r.startswith("scan: product"))
    assert (reset.from_state, reset.to_state, reset.run_id) == (
        FileState.PROCESSED,
        FileState.READY,
        "scan-1",
    )
    moves = [(t.from_state, t.to_state) for t in store.transitions_for(changed.name)]
    assert (FileState.PROCESSED, FileState.DISCOVERED) in moves
    assert moves[-1] == (FileState.PROCESSING, FileState.PROCESSED)
    again = scan_home(store, layout)
    assert not again.missing_products and not again.bad_raw
    assert again.unknown_files == [stray]  # reported, never deleted
    assert stray.is_file()


def test_a_frame_whose_raw_file_is_gone_is_fetched_again(store, client, settings, clock):
    layout = settings.layout
    frames = ingest_hour(store, client, layout, clock)
    target = frames[0]
    Path(target.path(PROCESSED_PNG)).unlink()
    Path(store.get_file(target.name).raw_path).unlink()
    report = scan_home(store, layout)
    assert {b.name for b in report.bad_raw} == {target.name}
    fixed = repair(store, report, layout, now=NOW, run_id="scan-2")
    assert fixed.refetch == [target.name] and not fixed.reprocess  # refetch covers both
    assert store.get_file(target.name).state is FileState.DISCOVERED


def test_reprocess_range_resets_every_frame_audited_and_makes_them_again(
    store, client, settings, clock
):
    layout = settings.layout
    frames = ingest_hour(store, client, layout, clock)
    before = {f.name: Path(f.path(PROCESSED_PNG)).read_bytes() for f in frames}
    result = reprocess_range(
        store, client, layout, HOUR, END, detectors=C3, recipe="default", clock=clock, run_id="rp"
    )
    assert sorted(result.reset_ready) == sorted(before) and not result.reset_refetch
    assert result.steps.outcomes["processed"] == len(before) and not result.incomplete
    for f in store.frames_between(Detector.C3, HOUR, END):
        assert store.get_file(f.name).state is FileState.PROCESSED
        assert Path(f.path(PROCESSED_PNG)).read_bytes() == before[f.name]  # deterministic
        reasons = [t.reason for t in store.transitions_for(f.name) if t.run_id == "rp"]
        assert reasons[0] == "re-processing: recipe default, products as before"


def test_reprocess_with_a_recipe_records_it_on_the_products(store, client, settings, clock):
    from astropy.io import fits

    from comet_pipeline.imaging.products import PROCESSED

    frames = ingest_hour(store, client, settings.layout, clock)
    result = reprocess_range(
        store,
        client,
        settings.layout,
        HOUR,
        END,
        detectors=C3,
        recipe="faint-c3",
        clock=clock,
        run_id="rp3",
    )
    assert result.steps.outcomes["processed"] == len(frames)
    for f in store.frames_between(Detector.C3, HOUR, END):
        with fits.open(f.path(PROCESSED)) as hdul:
            header = hdul[1].header
        assert header["RECIPE"] == "faint-c3" and header["RCPHIST"] == 20
        reasons = [t.reason for t in store.transitions_for(f.name) if t.run_id == "rp3"]
        assert reasons[0].startswith("re-processing: recipe faint-c3")


def test_reprocess_only_missing_touches_only_the_frame_that_lacks_a_product(
    store, client, settings, clock
):
    layout = settings.layout
    frames = ingest_hour(store, client, layout, clock)
    Path(frames[1].path(PROCESSED_PNG)).unlink()
    result = reprocess_range(
        store,
        client,
        layout,
        HOUR,
        END,
        detectors=C3,
        products=[PROCESSED_PNG],
        clock=clock,
        run_id="rp2",
        only_missing=True,
    )
    assert result.reset_ready == [frames[1].name]
    assert Path(frames[1].path(PROCESSED_PNG)).is_file() and not result.incomplete


def test_reprocess_refuses_unknown_recipes_and_products(store, settings, clock):
    for kwargs, message in (
        ({"recipe": "sharper"}, "no recipe 'sharper'; known: default"),
        ({"products": ["no_such_product"]}, "unknown"),
    ):
        with pytest.raises(ValueError, match=message):
            reprocess_range(
                store, None, settings.layout, HOUR, END, clock=clock, run_id="x", **kwargs
            )


def test_reset_is_guarded_and_needs_a_reason(store, client, settings, clock):
    name = ingest_hour(store, client, settings.layout, clock)[0].name
    with pytest.raises(ValueError, match="reason"):
        store.reset_file(name, FileState.READY, expected=FileState.PROCESSED, reason=" ", now=NOW)
    with pytest.raises(IllegalTransition):
        store.reset_file(name, FileState.READY, expected=FileState.PROCESSING, reason="x", now=NOW)
    # a stale belief (the file is PROCESSED, not READY) is not applied and leaves no audit row
    trail = store.transitions_for(name)
    assert not store.reset_file(
        name, FileState.DISCOVERED, expected=FileState.READY, reason="x", now=NOW
    )
    assert store.transitions_for(name) == trail
