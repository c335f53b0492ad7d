from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image

from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import build_candidate
from comet_pipeline.hunting.model import Detection, HuntFrame
from comet_pipeline.hunting.report import cutout_strip, report_text, strip_png


def _dets(n=5, t0=datetime(2025, 3, 1, 23, 30, tzinfo=UTC)):
    return [
        Detection(f"3000000{i}.fts", t0 + timedelta(minutes=12 * i), 100 + 2 * i, 50 + 3 * i, 10, 6)
        for i in range(n)
    ]


def test_report_across_midnight_dates_the_later_lines():
    text = report_text("c2", _dets(), image_size=1024)
    assert "Camera: C2" in text and "Image size: 1024x1024" in text
    assert "Date: 2025-03-01" in text
    assert "  23:30    100.0,    50.0" in text
    assert "2025-03-02 00:18" in text


def test_cutout_strip_is_north_up_and_centred(tmp_path):
    dets = _dets(3)
    frames = []
    for d in dets:
        img = np.random.default_rng(0).normal(0, 1, (200, 200)).astype(np.float32)
        img[int(d.y) + 10, int(d.x)] = 50.0  # a marker 10 px NORTH (+y) of the target
        frames.append(HuntFrame(d.name, d.observed_at, img))
    cand = build_candidate("c3", dets, sun=(100, 100), config=HuntConfig(), image_size=200)
    strip = cutout_strip(frames, cand, size=48)
    assert strip.shape == (48, 3 * 48 + 2 * 2)
    tile = strip[:, :48]
    # north up: the marker is 10 rows ABOVE the centre row in PNG order
    assert tile[24 - 10 - 1, 24] == 255 or tile[24 - 10, 24] == 255
    png = strip_png(strip, tmp_path / "s.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(tmp_path / "s.png").size == (strip.shape[1] * 2, 96)
