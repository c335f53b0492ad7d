"""Hourly and daily mosaics from real processed frames of the simulator."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
from astropy.wcs import WCS
from PIL import Image

from comet_pipeline.domain import Detector
from comet_pipeline.imaging.fitsio import (
    PROCESSED_STEP,
    card_images,
    read_image,
    write_stepped_fits,
)
from comet_pipeline.imaging.mosaic import celestial_wcs
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.mosaics import (
    build_daily_mosaic,
    build_hourly_mosaic,
    build_hourly_mosaics,
    daily_paths,
    hourly_paths,
)
from comet_pipeline.ingest.process import process_window

from .conftest import DETECTORS, HOUR, NOW

END = HOUR + timedelta(hours=1)


def _process_hour(store, client, settings, clock) -> None:
    discover_window(store, client, DETECTORS, HOUR, END, now=NOW, run_id="r1")
    download_window(store, client, settings.layout.raw_dir, HOUR, END, clock=clock, owner="a")
    done = process_window(
        store, FrameProcessor(settings.layout.frames_dir), HOUR, END, clock=clock, owner="b"
    )
    assert done.outcomes["processed"] > 0, done.errors


def _pixel(wcs: WCS, tx: float, ty: float) -> tuple[float, float]:
    x, y = wcs.all_world2pix(tx / 3600.0, ty / 3600.0, 0)
    return float(x), float(y)


def test_an_injected_c2_source_lands_in_the_hourly_mosaic_where_its_wcs_says(
    store, client, settings, clock
):
    _process_hour(store, client, settings, clock)
    products = settings.layout.products_dir
    first = build_hourly_mosaic(store, products, HOUR)
    assert first.files is not None, first.reason
    c2 = next(f for f in store.frames_between(Detector.C2, HOUR, END) if f.name == first.c2_frame)
    c3 = next(f for f in store.frames_between(Detector.C3, HOUR, END) if f.name == first.c3_frame)
    assert HOUR <= c3.observed_at < END and abs(c2.observed_at - c3.observed_at) < timedelta(
        minutes=15
    )

    # a bright point source in the C2 product, where C2's WCS puts (Tx, Ty) = -2400", 2700"
    c2_path = Path(str(c2.path(PROCESSED)))
    data, header = read_image(c2_path)
    c2_wcs = celestial_wcs(header)
    tx, ty = -2400.0, 2700.0  # ~3.8 R_sun: inside C2's field, at C3's occulter edge
    sx, sy = _pixel(c2_wcs, tx, ty)
    y, x = np.mgrid[0 : data.shape[0], 0 : data.shape[1]]
    data = data + (60.0 * np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * 4.0**2))).astype(
        np.float32
    )
    assert np.isfinite(data[round(sy), round(sx)])
    write_stepped_fits(c2_path, data, card_images(header), PROCESSED_STEP)

    made = build_hourly_mosaic(store, products, HOUR)
    assert made.files == hourly_paths(products, HOUR) and made.c2_frame == c2.name
    mosaic, mheader = read_image(made.files.fits)
    out_wcs = celestial_wcs(mheader)
    c3_data, c3_header = read_image(Path(str(c3.path(PROCESSED))))
    c3_wcs = celestial_wcs(c3_header)
    # the mosaic's grid is C3's: the same sky at the same pixels
    for tx_, ty_ in ((0.0, 0.0), (20000.0, -15000.0), (-2400.0, 2700.0)):
        a, b = _pixel(out_wcs, tx_, ty_), _pixel(c3_wcs, tx_, ty_)
        assert math.hypot(a[0] - b[0], a[1] - b[1]) < 1e-6

    ex, ey = _pixel(out_wcs, tx, ty)
    xi, yi = round(ex), round(ey)
    cut = np.clip(np.nan_to_num(mosaic[yi - 4 : yi + 5, xi - 4 : xi + 5]), 0.0, None)
    cy_, cx_ = np.mgrid[yi - 4 : yi + 5, xi - 4 : xi + 5]
    cx, cy = (cut * cx_).sum() / cut.sum(), (cut * cy_).sum() / cut.sum()
    assert math.hypot(cx - ex, cy - ey) <= 1.0, (cx, cy, ex, ey)
    assert mosaic[yi, xi] > 20.0  # the source, in units of the noise of its C3-sized pixel

    # far from C2's field the mosaic is the C3 frame (to the storage step)
    far = np.zeros_like(mosaic, dtype=bool)
    far[:100, :] = True
    np.testing.assert_allclose(mosaic[far], c3_data[far], atol=PROCESSED_STEP, equal_nan=True)
    assert made.c2_pixels > 20_000 and made.blended_pixels > 0

    png = Image.open(made.files.png)
    assert png.size == (1024, 1024) and png.mode == "L"
    assert "C2 " + c2.name in "".join(str(h) for h in mheader["HISTORY"])


def test_the_daily_mosaic_takes_the_days_hours_and_makes_missing_ones(
    store, client, settings, clock
):
    _process_hour(store, client, settings, clock)
    products = settings.layout.products_dir
    daily = build_daily_mosaic(store, products, HOUR.date())
    assert daily.files == daily_paths(products, HOUR.date()), daily.reason
    assert daily.hours == (HOUR,) and daily.built_hours == 1  # only 03:00 has frames
    hourly, _ = read_image(hourly_paths(products, HOUR).fits)
    day, header = read_image(daily.files.fits)
    np.testing.assert_allclose(day, hourly, atol=PROCESSED_STEP, equal_nan=True)  # one hour
    assert header["DATE-OBS"].startswith("2025-06-10T12:00")
    assert Image.open(daily.files.png).size == (1024, 1024)

    again = build_daily_mosaic(store, products, HOUR.date())
    assert again.built_hours == 0 and again.hours == (HOUR,)


def test_hours_without_both_detectors_make_no_mosaic_and_say_why(store, settings):
    results = build_hourly_mosaics(store, settings.layout.products_dir, HOUR, END)
    assert [r.hour for r in results] == [HOUR]
    assert results[0].files is None and "C2 and C3" in str(results[0].reason)
    assert not (settings.layout.products_dir / "mosaics").exists()
    day = build_daily_mosaic(store, settings.layout.products_dir, HOUR.date())
    assert day.files is None and day.reason
