from datetime import timedelta

import numpy as np
from PIL import Image, ImageSequence

from comet_pipeline.imaging.playback import frame_label, write_playback
from comet_pipeline.imaging.png import write_png
from comet_pipeline_tests.imaging.synth import T0


def _frames(tmp_path):
    """Three 1024 PNGs of increasing brightness, handed over out of time order."""
    items = []
    for k, level in enumerate((40, 120, 200)):
        path = write_png(np.full((1024, 1024), level, np.uint8), tmp_path / f"{k}.png")
        items.append((T0 + k * timedelta(minutes=12), path))
    return [items[2], items[0], items[1]]


def _levels(path):
    with Image.open(path) as im:
        n = getattr(im, "n_frames", 1)
        means = [
            float(np.asarray(f.convert("L"))[200:, :].mean()) for f in ImageSequence.Iterator(im)
        ]
        return im.format, im.size, n, means


def test_webp_in_time_order_with_label(tmp_path):
    dest = write_playback(_frames(tmp_path), tmp_path / "day.webp", fps=8, size=512, detector="c3")
    fmt, size, n, means = _levels(dest)
    assert (fmt, size, n) == ("WEBP", (512, 512), 3)
    assert means[0] < means[1] < means[2]  # 40, 120, 200: time order restored
    with Image.open(dest) as im:
        top = np.asarray(im.convert("L"))[:20, :200]
    assert top.max() > 200 and top.min() < 20  # white text on a black box burned in
    assert frame_label(T0, "c3") == "2024-01-01 00:00 UT  C3"


def test_apng_and_arrays_and_same_bytes(tmp_path):
    arrays = [
        (T0 + timedelta(minutes=12 * k), np.full((64, 64), float(k), np.float32)) for k in range(3)
    ]
    a = write_playback(arrays, tmp_path / "a.png", size=256)
    fmt, size, n, _ = _levels(a)
    assert (fmt, size, n) == ("PNG", (256, 256), 3)
    first = a.read_bytes()
    write_playback(arrays, tmp_path / "a.png", size=256)
    assert a.read_bytes() == first
