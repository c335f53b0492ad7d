"""The day's watch list on a real store: processed simulator frames, slots, overlays."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comet_pipeline.domain import Detector, Slot, SlotState
from comet_pipeline.imaging.families import COLOURS
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.featured import build_featured, data_gaps, pass_gaps
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.slots import scheduled_slots, sync_slots

from .conftest import DETECTORS, HOUR, NOW

DAY = HOUR.date()
START = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)


@pytest.fixture
def processed(store, client, settings, clock):
    """One hour of both cameras discovered, downloaded and processed; the day's slots."""
    end = HOUR + timedelta(hours=1)
    discover_window(store, client, DETECTORS, HOUR, end, now=NOW, run_id="r")
    download_window(store, client, settings.layout.raw_dir, HOUR, end, clock=clock, owner="r")
    process_window(
        store, FrameProcessor(settings.layout.frames_dir), HOUR, end, clock=clock, owner="r"
    )
    sync_slots(store, scheduled_slots(client), DAY, NOW)
    return store


def test_featured_day_overlays_corridors_on_the_midday_preview(processed, settings):
    result = build_featured(processed, settings.layout.products_dir, DAY, DETECTORS)
    assert set(result.overlays) == set(DETECTORS)
    for detector, path in result.overlays.items():
        rgb = np.asarray(Image.open(path).convert("RGB"))
        # the Kreutz corridor is drawn in its colour on the frame's preview
        assert (rgb == np.array(COLOURS["Kreutz"])).all(axis=2).sum() > 100, detector
        frame = processed.frame(result.overlay_frames[detector])
        assert frame is not None and frame.observed_at.hour == HOUR.hour  # the only hour held
    kreutz = {e.detector: e for e in result.envelopes if e.family == "Kreutz"}
    assert kreutz[Detector.C3].hours_in_field[0] > kreutz[Detector.C2].hours_in_field[1]
    # June: the corridor is long in both fields (see KREUTZ_WELL_PLACED_HOURS)
    assert result.kreutz_well_placed == {Detector.C2: True, Detector.C3: True}
    assert result.planets == []  # 10 June 2025: Mercury has left C3, Jupiter not yet in
    # only 03:00 holds files: the rest of the day is a data gap for both cameras
    assert [(g.detector, g.start.hour, g.end.hour) for g in result.data_gaps] == [
        (d, h0, h1) for d in DETECTORS for h0, h1 in ((0, 3), (4, 0))
    ]
    summary = json.loads(Path(result.summary).read_text())
    assert summary["kreutz_well_placed"] == {"c2": True, "c3": True}
    assert len(summary["envelopes"]) == 4 * len(DETECTORS)


def test_pass_gaps_are_the_hours_no_live_pass_overlaps(store):
    passes = [
        Slot(START + timedelta(hours=2), START + timedelta(hours=3, minutes=30), "DSS-14"),
        Slot(START + timedelta(hours=10), START + timedelta(hours=11), "DSS-63"),
        # a missed pass brought nothing down: its hours are a gap too
        Slot(START + timedelta(hours=15), START + timedelta(hours=18), "DSS-43"),
    ]
    store.upsert_slots(passes, NOW)
    store.set_slot_state(passes[2].bot, SlotState.MISSED, reason="test", now=NOW)
    gaps = pass_gaps(store, START, START + timedelta(days=1))
    assert [(g.start.hour, g.hours) for g in gaps] == [(0, 2.0), (4, 6.0), (11, 13.0)]
    assert all(g.detector is None for g in gaps)


def test_an_empty_store_is_one_gap_per_camera_and_no_overlay(store, settings):
    assert [g.hours for g in data_gaps(store, Detector.C2, START, START + timedelta(days=1))] == [
        24.0
    ]
    result = build_featured(store, settings.layout.products_dir, DAY, DETECTORS)
    assert result.overlays == {} and len(result.pass_gaps) == 1
    assert result.summary is not None and result.summary.is_file()
