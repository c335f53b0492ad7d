"""Orientation: FITS (0,0) is the lower-left as displayed, PNG (0,0) the upper-left."""

import io

import numpy as np
from PIL import Image

from comet_pipeline.imaging.orientation import fits_to_png, png_to_fits, to_display
from comet_pipeline.imaging.png import encode_grey_png, write_png_set
from comet_pipeline.imaging.stretch import MASKED_GREY, asinh_stretch, symmetric_stretch

N = 1024


def _asymmetric():
    """Dark frame with a bright 8x8 square near FITS (x=100, y=40) and a 4x16 bar top-right."""
    a = np.zeros((N, N), np.uint8)
    a[40:48, 100:108] = 255  # rows 40-47 (near the bottom in FITS), columns 100-107 (left)
    a[900:904, 800:816] = 200  # high rows = top in FITS convention
    return a


def _read(path):
    with Image.open(path) as im:
        return im.mode, im.size, np.asarray(im)


def test_png_is_fits_flipped_vertically(tmp_path):
    a = _asymmetric()
    full, prev, thumb = tmp_path / "f.png", tmp_path / "p.png", tmp_path / "t.png"
    write_png_set(to_display(a), full, prev, thumb)
    mode, size, png = _read(full)
    assert (mode, size) == ("L", (N, N))
    ys, xs = np.nonzero(png == 255)
    # FITS rows 40..47 -> PNG rows (N-1-47)..(N-1-40): near the bottom of the PNG
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (N - 1 - 47, N - 1 - 40, 100, 107)
    ys2, _ = np.nonzero(png == 200)
    assert ys2.max() < 200  # the "top" bar is at the top of the PNG
    # conversion formula, at full size and scaled
    x_png, y_png = fits_to_png(103.5, 43.5, N, N)
    assert (x_png, y_png) == (103.5, N - 1 - 43.5)
    for size, path in ((512, prev), (256, thumb)):
        mode, shape, small = _read(path)
        assert (mode, shape) == ("L", (size, size))
        xs_, ys_ = fits_to_png(103.5, 43.5, N, N, size=size)  # centre of the square
        assert small[int(round(ys_)), int(round(xs_))] > 200
        assert png_to_fits(xs_, ys_, N, N, size=size) == (103.5, 43.5)


def test_rolled_frame_rotated_north_up():
    a = _asymmetric()
    shown = to_display(a, roll_deg=180.0)
    ys, xs = np.nonzero(shown == 255)
    # rolled 180°: the FITS array is north-down; display = rot180(flipud) = fliplr
    assert (ys.min(), xs.min()) == (40, N - 1 - 107)
    assert fits_to_png(100, 40, N, N, roll_deg=180.0) == (N - 1 - 100, 40)
    assert png_to_fits(*fits_to_png(12.0, 34.0, N, N, roll_deg=-179.0), N, N, roll_deg=-179.0) == (
        12.0,
        34.0,
    )
    assert to_display(a, roll_deg=1.5)[N - 1 - 40, 100] == 255  # small roll: flip only


def test_encoder_round_trips_and_is_deterministic():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(37, 53), dtype=np.uint8)
    data = encode_grey_png(a)
    assert data == encode_grey_png(a.copy())
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "L" and im.size == (53, 37)
        assert np.array_equal(np.asarray(im), a)
        assert "time" not in str(im.info).lower()


def test_stretch_masked_grey_and_range():
    x = np.array([[np.nan, -10.0, 0.0, 1.0, 100.0]], np.float32)
    out = asinh_stretch(x, 0.0, 1.0)
    assert out.dtype == np.uint8
    assert out.tolist() == [[MASKED_GREY, 0, 0, 255, 255]]
    d = symmetric_stretch(np.array([[0.0, -5.0, 5.0, np.nan]], np.float32), 5.0)
    assert d[0, 0] in (127, 128) and d[0, 1] == 0 and d[0, 2] == 255 and d[0, 3] == MASKED_GREY
