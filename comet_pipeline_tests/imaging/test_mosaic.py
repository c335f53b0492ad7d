"""C2 into C3's grid: a point source lands where the WCS say, the seam is feathered."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.wcs import WCS

from comet_pipeline.imaging.mosaic import (
    FEATHER_PX,
    block_mean,
    build_mosaic,
    combine,
    reproject,
    same_grid,
)

RSUN = 960.0  # arcsec, near enough for field sizes
N = 1024


def _wcs(crpix: tuple[float, float], scale: float, roll: float = 0.0) -> WCS:
    w = WCS(naxis=2)
    w.wcs.ctype = ["HPLN-TAN", "HPLT-TAN"]
    w.wcs.cunit = ["arcsec", "arcsec"]
    w.wcs.crpix = [crpix[0] + 1.0, crpix[1] + 1.0]
    w.wcs.crval = [0.0, 0.0]
    w.wcs.cdelt = [scale, scale]
    r = math.radians(roll)
    w.wcs.pc = [[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]]
    w.wcs.set()
    return w


def _annulus(wcs: WCS, inner_rsun: float, outer_rsun: float, value: float = 0.0) -> np.ndarray:
    """A detector's field: ``value`` between the occulter and the field stop, NaN elsewhere."""
    y, x = np.mgrid[0:N, 0:N]
    lon, lat = wcs.all_pix2world(x, y, 0)
    lon = (lon + 180.0) % 360.0 - 180.0  # degrees, Sun at 0
    r = np.hypot(lon, lat) * 3600.0 / RSUN
    out = np.full((N, N), np.nan, dtype=np.float32)
    out[(r > inner_rsun) & (r < outer_rsun)] = value
    return out


def _pixel(wcs: WCS, tx: float, ty: float) -> tuple[float, float]:
    x, y = wcs.all_world2pix(tx / 3600.0, ty / 3600.0, 0)
    return float(x), float(y)


def _gaussian(data: np.ndarray, x0: float, y0: float, sigma: float, amp: float) -> None:
    y, x = np.mgrid[0 : data.shape[0], 0 : data.shape[1]]
    data += (amp * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))).astype(np.float32)


def _centroid(data: np.ndarray, x0: float, y0: float, half: int = 5) -> tuple[float, float]:
    xi, yi = round(x0), round(y0)
    cut = np.nan_to_num(data[yi - half : yi + half + 1, xi - half : xi + half + 1])
    cut = np.clip(cut, 0.0, None)
    y, x = np.mgrid[yi - half : yi + half + 1, xi - half : xi + half + 1]
    return float((cut * x).sum() / cut.sum()), float((cut * y).sum() / cut.sum())


@pytest.mark.parametrize(
    ("c2_roll", "c3_roll", "tx", "ty"),
    [
        (0.0, 0.0, 2500.0, 1500.0),  # inside C3's occulter: C2 alone
        (0.0, 0.0, -3100.0, -2600.0),  # the overlap (~4.2 R_sun): C2 inside its field
        (180.0, 180.0, 1800.0, -3300.0),  # both rolled: the arrays are turned
        (1.5, -0.7, -800.0, 3900.0),  # small rolls that differ
    ],
)
def test_a_point_source_in_c2_lands_within_a_pixel_of_the_output_wcs_position(
    c2_roll, c3_roll, tx, ty
):
    c2_wcs = _wcs((512.6, 506.2), 11.9, c2_roll)
    c3_wcs = _wcs((517.9, 532.6), 56.0, c3_roll)
    c2 = _annulus(c2_wcs, 2.2, 6.0)
    c3 = _annulus(c3_wcs, 3.7, 30.0)
    sx, sy = _pixel(c2_wcs, tx, ty)
    _gaussian(c2, sx, sy, sigma=4.0, amp=40.0)  # NaN stays NaN outside the field

    mosaic = build_mosaic(c2, c2_wcs, c3, c3_wcs, noise_units=False)

    ex, ey = _pixel(mosaic.wcs, tx, ty)  # where the output WCS puts (Tx, Ty)
    cx, cy = _centroid(mosaic.data, ex, ey)
    assert math.hypot(cx - ex, cy - ey) <= 1.0, (cx, cy, ex, ey)
    assert math.hypot(cx - ex, cy - ey) <= 0.2  # in practice far better than the brief's 1 px
    assert np.nanmax(mosaic.data) > 1.0  # the source survived (box-averaged, not lost)
    assert mosaic.c2_pixels > 20_000 and mosaic.blended_pixels > 0


def test_outside_c2_the_mosaic_is_c3_and_the_seam_is_a_smooth_ramp():
    c2_wcs = _wcs((512.6, 506.2), 11.9)
    c3_wcs = _wcs((517.9, 532.6), 56.0)
    c2 = _annulus(c2_wcs, 2.2, 6.0, value=2.0)
    c3 = _annulus(c3_wcs, 3.7, 30.0, value=10.0)
    mosaic = build_mosaic(c2, c2_wcs, c3, c3_wcs, noise_units=False)

    cx, cy = _pixel(c3_wcs, 0.0, 0.0)  # the Sun centre in the output grid
    y, x = np.mgrid[0:N, 0:N]
    r_px = np.hypot(x - cx, y - cy)
    c2_edge_px = 6.0 * RSUN / 56.0
    far = r_px > c2_edge_px + 4
    np.testing.assert_array_equal(mosaic.data[far], c3[far])  # C3 untouched, NaN included
    deep = (r_px > 4.5 * RSUN / 56 + 0) & (r_px < c2_edge_px - FEATHER_PX - 3)
    np.testing.assert_allclose(mosaic.data[deep], 2.0, atol=1e-5)  # C2 inside its field
    inner = r_px < 3.0 * RSUN / 56.0
    inner &= r_px > 2.2 * RSUN / 56.0 + 2
    np.testing.assert_allclose(mosaic.data[inner], 2.0, atol=1e-5)  # C3 blind there: C2 alone

    # along a ray across C2's field stop: monotone from 2 to 10, no jump
    row = round(cy)
    cols = np.arange(round(cx + c2_edge_px - 15), round(cx + c2_edge_px + 6))
    ray = mosaic.data[row, cols]
    assert np.all(np.isfinite(ray))
    steps = np.diff(ray)
    assert np.all(steps >= -1e-5) and ray[0] == pytest.approx(2.0) and ray[-1] == 10.0
    assert steps.max() < 0.35 * 8.0  # a smoothstep over 6 px rises at most 1.5 x 8 / 6 per px
    assert (ray > 2.01).sum() - (ray > 9.99).sum() >= 4  # the ramp spans several pixels


def test_noise_units_keep_c2s_noise_comparable_to_c3s():
    rng = np.random.default_rng(5)
    c2_wcs = _wcs((512.6, 506.2), 11.9)
    c3_wcs = _wcs((517.9, 532.6), 56.0)
    c2 = _annulus(c2_wcs, 2.2, 6.0) + rng.standard_normal((N, N)).astype(np.float32)
    c3 = _annulus(c3_wcs, 3.7, 30.0) + rng.standard_normal((N, N)).astype(np.float32)
    cx, cy = _pixel(c3_wcs, 0.0, 0.0)
    y, x = np.mgrid[0:N, 0:N]
    r_px = np.hypot(x - cx, y - cy)
    ring = (r_px > 3.0 * RSUN / 56) & (r_px < 5.0 * RSUN / 56)
    kept = np.nanstd(build_mosaic(c2, c2_wcs, c3, c3_wcs).data[ring])
    averaged = np.nanstd(build_mosaic(c2, c2_wcs, c3, c3_wcs, noise_units=False).data[ring])
    assert 0.6 < kept < 1.2  # bilinear resampling smooths a little
    assert averaged < 0.3  # a 4x4 mean: 1/4


def test_block_mean_ignores_nan_and_drops_sparse_blocks():
    data = np.arange(16, dtype=np.float32).reshape(4, 4)
    data[0, 0] = np.nan
    data[2:, 2:] = np.nan
    data[2, 2] = 7.0
    out = block_mean(data, 2)
    assert out[0, 0] == pytest.approx((1 + 4 + 5) / 3)
    assert np.isnan(out[1, 1])  # one finite pixel of four
    assert out[1, 0] == pytest.approx((8 + 9 + 12 + 13) / 4)


def test_reprojection_onto_a_shifted_grid_moves_the_array_and_the_same_grid_is_kept():
    a = _wcs((517.9, 532.6), 56.0)
    b = _wcs((520.9, 530.6), 56.0)  # the pointing moved by (+3, -2) px
    data = np.random.default_rng(1).standard_normal((N, N)).astype(np.float32)
    assert same_grid(a, a, (N, N)) and not same_grid(a, b, (N, N))
    assert reproject(data, a, a, (N, N)) is data or np.array_equal(
        reproject(data, a, a, (N, N)), data
    )
    moved = reproject(data, a, b, (N, N))
    np.testing.assert_allclose(moved[100:900, 103:903], data[102:902, 100:900], atol=1e-4)
    assert np.isnan(moved[:, :3]).all()  # nothing there to take


def test_the_daily_combination_is_a_median_that_drops_a_one_hour_artefact():
    w = _wcs((517.9, 532.6), 56.0)
    shifted = _wcs((518.9, 532.6), 56.0)
    base = np.zeros((N, N), dtype=np.float32)
    frames = [(base.copy(), w) for _ in range(4)]
    frames[1][0][500, 500] = 100.0  # a cosmic ray in one hour
    frames.append((np.zeros((N, N), dtype=np.float32), shifted))
    out = combine(frames, w, (N, N))
    assert out[500, 500] == 0.0
    assert np.isfinite(out).all()  # the shifted hour's empty column is covered by the others
