"""Static-source masks, storm caps, planet labels and their persistence, on small inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import build_candidate
from comet_pipeline.hunting.known import bleed_masks, known_label
from comet_pipeline.hunting.model import Detection
from comet_pipeline.hunting.persist import candidate_from_rows, candidate_row, detection_rows
from comet_pipeline.hunting.report import report_text
from comet_pipeline.hunting.sources import SourceList
from comet_pipeline.hunting.static import static_masks
from comet_pipeline.hunting.storm import cap_sources
from comet_pipeline.imaging.ephemeris import KnownObject
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.store._helpers import T0, many_files


def _sources(xy: np.ndarray, sharp: float | np.ndarray = 2.0) -> SourceList:
    n = len(xy)
    sharpness = np.broadcast_to(np.asarray(sharp, float), (n,)).copy()
    return SourceList(xy[:, 0], xy[:, 1], np.ones(n), np.full(n, 8.0), sharpness)


def test_a_source_at_one_pixel_in_most_frames_is_static_a_slow_mover_is_not():
    frames = []
    for k in range(12):
        pts = [(200.0 + 0.5 * k, 300.0)]  # the slowest C3 comet: 0.5 px/frame (2.5 px/h)
        pts.append((100.0, 100.0 + 0.8 * k))  # 4 px/h: drifts off its pixel in 2 frames
        if k % 6:  # a hot pixel seen in 10 of 12 frames, jittering by a tenth of a pixel
            pts.append((500.3 + 0.1 * (k % 2), 700.6))
        frames.append(_sources(np.array(pts)))
    masks = static_masks(frames, (1024, 1024), radius=1.5, min_fraction=0.5, min_frames=8)
    hot = [m[-1] for f, m in zip(frames, masks, strict=True) if len(f) == 3]
    assert all(hot) and len(hot) == 10
    assert not any(m[1] for m in masks)
    # the slowest mover stays near a pixel ~7 frames: below "half the window, >= 8 frames"
    assert not any(m[0] for m in masks)
    # too short a window to call anything static
    assert not any(m.any() for m in static_masks(frames[:6], (1024, 1024), min_frames=8))


def test_a_storm_frame_keeps_its_most_psf_like_sources_and_may_not_seed():
    rng = np.random.default_rng(1)
    quiet = [_sources(rng.uniform(0, 1000, (300, 2))) for _ in range(9)]
    real = rng.uniform(0, 1000, (200, 2))
    hits = rng.uniform(0, 1000, (4800, 2))
    storm = _sources(np.vstack([real, hits]), np.r_[np.full(200, 2.05), np.full(4800, 6.0)])
    capped = cap_sources([*quiet[:5], storm, *quiet[5:]], HuntConfig())
    assert capped.storm == [False] * 5 + [True] + [False] * 4
    kept = capped.sources[5]
    assert len(kept) == int(1.3 * 300) and capped.found[5] == 5000
    assert np.count_nonzero(np.isclose(kept.sharpness, 2.05)) == 200  # every PSF-like one
    assert [len(s) for s in capped.sources[:5]] == [300] * 5  # quiet frames untouched


def test_known_labels_and_bleed_bands():
    venus = [[KnownObject("venus", 400.0 + 3 * k, 300.0, -3.9)] for k in range(6)]
    frames = np.arange(6)
    x = np.array([400.5 + 3 * k for k in range(6)])
    y = np.full(6, 301.0)
    assert known_label(frames, x, y, venus, radius=6.0) == "known: venus"
    assert known_label(frames, x + 40, y, venus, radius=6.0) is None
    # bright planet: the row and column bands through it are masked, not its core
    s = _sources(np.array([[400.0, 300.5], [600.0, 302.0], [402.0, 150.0], [600.0, 600.0]]))
    [mask] = bleed_masks([s], [venus[0]])
    assert mask.tolist() == [False, True, True, False]


def test_a_known_object_is_stored_labelled_and_read_back(tmp_path):
    files = many_files(6)
    dets = [
        Detection(f.name, f.observed_at, 600 - 2 * i, 200 + 4 * i, 50, 7)
        for i, f in enumerate(files)
    ]
    cand = build_candidate(
        "c3", dets, sun=(516.9, 532.6), config=HuntConfig(), known="known: mercury"
    )
    store = SQLiteStore(tmp_path / "lifecycle.db")
    store.register_files(files, now=T0)
    store.upsert_candidate(candidate_row(cand), now=T0)
    store.replace_detections(cand.id, detection_rows(cand))
    [row] = store.candidates(detector="c3")
    assert row.known == "known: mercury"
    back = candidate_from_rows(row, store.detections_for(row.id), sun=(516.9, 532.6))
    assert back.known == "known: mercury" and not back.is_new


def test_the_report_states_the_roll():
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    dets = [Detection(f"{i}.fts", t0 + timedelta(minutes=12 * i), 10, 20, 1, 5) for i in range(3)]
    rolled = report_text("c2", dets, roll_deg=180.0)
    assert "Roll: 180 deg" in rolled and "north is DOWN" in rolled
    assert "displayed north up" in report_text("c2", dets)
