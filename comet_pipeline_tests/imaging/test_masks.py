import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.imaging.masks import field_mask, find_pylon_angle, missing_blocks
from comet_pipeline_tests.imaging import synth

N = 1024


def _radius_rsun(info):
    yy, xx = np.mgrid[0:N, 0:N]
    return np.hypot(xx - info.sun_x, yy - info.sun_y) * info.plate_scale / 960.0


def _angle(info):
    yy, xx = np.mgrid[0:N, 0:N]
    return np.degrees(np.arctan2(yy - info.sun_y, xx - info.sun_x)) % 360


def test_c2_occulter_field_stop_and_thin_pylon():
    info = synth.info_for(Detector.C2)
    mask = field_mask((N, N), "c2", info.sun_x, info.sun_y, info.plate_scale, 0.0)
    r = _radius_rsun(info)
    away = np.abs(_angle(info) - 232.0) > 10  # outside the pylon's sector
    truth = (r < 2.3) | (r > 6.6)
    edge = (np.abs(r - 2.3) < 0.02) | (np.abs(r - 6.6) < 0.02)  # 1-2 px rounding band
    assert np.array_equal(mask[away & ~edge], truth[away & ~edge])
    drawn = synth.drawn_dark(info, (N, N))["pylon"] & (r > 2.3) & (r < 6.6)
    assert mask[drawn].all()
    extra = mask & ~truth & ~drawn
    assert extra.sum() < 0.5 * drawn.sum()  # margin of a few px along a thin arm


def test_c3_pylon_lower_left_and_turns_with_roll():
    info = synth.info_for(Detector.C3)
    sx, sy, scale = info.sun_x, info.sun_y, info.plate_scale
    m0 = field_mask((N, N), "c3", sx, sy, scale, 0.0)
    m180 = field_mask((N, N), "c3", sx, sy, scale, 180.0)
    r = _radius_rsun(info)
    drawn = synth.drawn_dark(info, (N, N))["pylon"] & (r > 4.4) & (r < 30.8)
    assert m0[drawn].all()
    rotated = np.rot90(drawn, 2)  # the arm seen after a 180° roll (about the array centre)
    px = 10 * 960 / scale  # 10 R☉ in pixels, along 232° and opposite
    a = np.radians(232.0)
    lower_left = (int(round(sy + px * np.sin(a))), int(round(sx + px * np.cos(a))))
    upper_right = (int(round(sy - px * np.sin(a))), int(round(sx - px * np.cos(a))))
    assert m0[lower_left] and not m0[upper_right]
    assert m180[upper_right] and not m180[lower_left]
    assert rotated.sum() > 0
    # width: the arm is ~13-21 px half-width + 3 px margin, nothing well beyond
    across = np.array([-np.sin(a), np.cos(a)])
    for off, expected in ((15.0, True), (30.0, False)):
        y = lower_left[0] + across[1] * off
        x = lower_left[1] + across[0] * off
        assert m0[int(round(y)), int(round(x))] == expected
    assert field_mask((N, N), "c3", sx, sy, scale, 0.0) is m0  # cached


def test_find_pylon_angle_from_data():
    info = synth.info_for(Detector.C3)
    corona = synth.corona(info, (N, N))
    for angle in (225.0, 47.5):
        dark = synth.drawn_dark(info, (N, N), angle)
        raw = synth.render_raw(
            info,
            corona,
            rng=np.random.default_rng(1),
            dark_mask=dark["pylon"] | dark["occulter"],
        )
        coarse = raw[2::4, 2::4].astype(np.float32) - np.float32(info.offset)
        found = find_pylon_angle(coarse, 4, info.sun_x, info.sun_y, info.plate_scale)
        assert found is not None and abs(found - angle) < 0.6
    raw = synth.render_raw(info, corona, rng=np.random.default_rng(2))
    coarse = raw[2::4, 2::4].astype(np.float32) - np.float32(info.offset)
    assert find_pylon_angle(coarse, 4, info.sun_x, info.sun_y, info.plate_scale) is None


def test_missing_blocks_aligned_unaligned_not_isolated():
    rng = np.random.default_rng(3)
    raw = rng.integers(400, 900, size=(N, N)).astype(np.uint16)
    truth = np.zeros((N, N), bool)
    for r, c in ((0, 0), (320, 640), (352, 640)):  # aligned; two adjacent
        truth[r : r + 32, c : c + 32] = True
    truth[517:549, 201:233] = True  # not on the 32-grid
    raw[truth] = 0
    mostly = np.zeros((N, N), bool)
    mostly[768:800, 96:128] = True
    mostly[770, 100:110] = False  # 10 surviving pixels: still a missing block
    raw[mostly] = 0
    truth |= mostly
    isolated = [(900, 900), (10, 500), (600, 33)]
    for r, c in isolated:
        raw[r, c] = 0
    sparse = np.zeros((N, N), bool)
    sparse[64:96:2, 800:832] = True  # a half-zero block is not a drop-out
    raw[sparse] = 0
    mask, count = missing_blocks(raw)
    assert count == 5
    assert np.array_equal(mask, truth & (raw == 0))
    for r, c in isolated:
        assert not mask[r, c]
    assert not mask[sparse].any()


def test_no_zeros_fast_path():
    mask, count = missing_blocks(np.full((64, 64), 5, np.uint16))
    assert count == 0 and not mask.any()
