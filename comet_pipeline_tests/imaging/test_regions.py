"""Region statistics on arrays whose answers are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from comet_pipeline.imaging.regions import (
    annulus_mask,
    annulus_stats,
    aperture_photometry,
    box_mask,
    box_stats,
    region_stats,
)

#: data[y, x] = 5 y + x: a pixel's value says where it is (x = column, y = row, 0-based)
GRID = np.arange(20, dtype=np.float64).reshape(4, 5)


def test_box_statistics_are_exact_and_corners_are_included():
    s = box_stats(GRID, 1, 1, 3, 2)  # rows 1..2, columns 1..3: 6 7 8 / 11 12 13
    assert s.count == 6
    assert s.sum == 57.0
    assert s.mean == 9.5 and s.median == 9.5
    assert s.min == 6.0 and s.max == 13.0
    assert s.std == pytest.approx(np.sqrt(41.5 / 6), rel=1e-12)
    assert s.mad_sigma == pytest.approx(1.4826 * 2.5, rel=1e-12)
    assert box_stats(GRID, 3, 2, 1, 1) == s  # corners in either order


def test_box_positions_are_fits_array_pixels_and_the_edge_clips():
    # (x=4, y=0): column 4 of row 0, the lower-right corner as displayed
    assert box_stats(GRID, 4, 0, 4, 0).sum == 4.0
    assert box_stats(GRID, 0, 3, 0, 3).sum == 15.0  # (0, 3): upper left
    over = box_stats(GRID, 3, 2, 99, 99)  # columns 3..4 of rows 2..3
    assert over.count == 4 and over.sum == 13 + 14 + 18 + 19
    assert box_stats(GRID, 10, 10, 20, 20).count == 0
    assert box_mask(GRID.shape, -5, -5, -1, -1).sum() == 0


def test_masked_pixels_are_left_out_and_an_empty_region_is_nan():
    image = GRID.copy()
    image[1, 1] = np.nan
    s = box_stats(image, 1, 1, 3, 2)
    assert s.count == 5 and s.sum == 51.0 and s.min == 7.0
    empty = region_stats(np.full((3, 3), np.nan), np.ones((3, 3), dtype=bool))
    assert empty.count == 0 and empty.sum == 0.0 and np.isnan(empty.mean)
    assert np.isnan(empty.mad_sigma)


def test_annulus_counts_pixel_centres_half_open():
    shape = (7, 7)
    assert annulus_mask(shape, 0, 1, 3, 3).sum() == 1  # the centre alone (r = 0)
    ring = annulus_mask(shape, 1, 1.5, 3, 3)  # 4 at r = 1, 4 at r = sqrt(2)
    assert ring.sum() == 8 and not ring[3, 3]
    assert (annulus_mask(shape, 0, 1, 3, 3) & ring).sum() == 0  # adjacent rings share none
    corner = annulus_mask(shape, 0, 1.5, 0, 0)  # clipped: (0,0), (1,0), (0,1), (1,1)
    assert corner.sum() == 4 and corner[0, 0] and corner[1, 1]
    with pytest.raises(ValueError, match="r_inner < r_outer"):
        annulus_mask(shape, 2, 1, 3, 3)


def test_annulus_statistics_around_an_off_centre_point():
    s = annulus_stats(GRID, 0, 1.01, 2, 1)  # (2, 1) and its four neighbours
    assert s.count == 5
    assert s.sum == 7 + 6 + 8 + 2 + 12
    assert s.median == 7.0


def test_aperture_photometry_takes_the_local_level_off():
    image = np.full((21, 21), 2.0)
    image[10, 10] += 10.0
    p = aperture_photometry(image, 10, 10, radius=3, annulus=(6, 9))
    assert p.flux == 10.0 and p.background == 2.0
    assert p.n_aperture == 25  # r < 3: the 4 pixels at exactly 3 px are outside
    assert p.flux_err == 0.0 and np.isnan(p.snr)  # a flat background has no noise


def test_aperture_photometry_of_a_gaussian_in_unit_noise():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:41, 0:41]
    psf = np.exp(-0.5 * ((xx - 20.3) ** 2 + (yy - 19.8) ** 2) / 1.2**2)
    image = rng.normal(0.5, 1.0, (41, 41)) + 60.0 * psf / psf.sum()
    p = aperture_photometry(image, 20.3, 19.8)
    assert p.n_aperture > 20
    assert abs(p.background - 0.5) < 0.4
    assert p.flux_err == pytest.approx(np.sqrt(p.n_aperture), rel=0.3)
    assert abs(p.flux - 0.95 * 60.0) < 3 * p.flux_err  # ~95 % of the PSF inside r < 3
    assert p.snr > 6
