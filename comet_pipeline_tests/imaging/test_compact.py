"""Compact products (issue 13): small on disk, and nothing a hunter or the detector can see
is lost. Sizes are the real bytes written for simulated LASCO frames; the arrays, the NaN
mask, the WCS and every card survive; files of older versions still read."""

from __future__ import annotations

import io
import statistics
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from PIL import Image

from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.domain import Detector, Frame, ProductFile
from comet_pipeline.hunting.loading import load_hunt_frame
from comet_pipeline.imaging import fitscomp
from comet_pipeline.imaging.difference import difference_of_files, running_difference
from comet_pipeline.imaging.fitsio import (
    PROCESSED_STEP,
    product_cards,
    read_image,
    write_dn_fits,
    write_fits_float32,
    write_quantized_fits,
    write_stepped_fits,
)
from comet_pipeline.imaging.frame import background_history, calibrate_and_mask, process_frame
from comet_pipeline.imaging.pipeline import FrameProcessor, sample_path_for
from comet_pipeline.imaging.png import encode_grey_png, posterise
from comet_pipeline.imaging.products import (
    BY_NAME,
    CALIBRATED,
    DIFFERENCE,
    PROCESSED,
    PRODUCTS,
    file_stem,
    frame_folder,
)
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline_tests.imaging.helpers import product_path

#: The issue's budget: every product of a frame, its background sample included.
MAX_BYTES_PER_FRAME = 3_000_000
DAY = date(2025, 1, 3)
FRAMES = 5  # per detector: frames 3 and 4 have the rolling background, as all day long


def _raw(archive: SimArchive, obs):
    with fits.open(io.BytesIO(archive.render(obs)), memmap=False) as hdul:
        raw, header = hdul[0].data, hdul[0].header.copy()
    info = parse_fits_header(header)
    return raw, header, info


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    """Consecutive synoptic C2 and C3 frames of a simulated day, processed to disk."""
    root = tmp_path_factory.mktemp("compact")
    archive = SimArchive(SimConfig(seed=0))
    runs = {}
    for det in (Detector.C2, Detector.C3):
        obs = sorted(
            (o for o in archive.observations(DAY, det) if o.synoptic and not o.duplicate_of),
            key=lambda o: o.observed_at,
        )[40 : 40 + FRAMES]
        proc = FrameProcessor(root)
        outs, raws = [], []
        for o in obs:
            raw, header, info = _raw(archive, o)
            outs.append(
                proc.process(
                    raw, header, info, helioprojective_wcs(info), name=o.name, history=outs
                )
            )
            raws.append((raw, header, info))
        runs[det] = (outs, raws)
    return root, runs


def _frame_bytes(root: Path, frame: Frame) -> int:
    """Every file on disk of this frame's stem: the products and the sample."""
    stem = file_stem(frame.name)
    return sum(p.stat().st_size for p in root.rglob(f"{stem}.*") if p.is_file())


def test_every_frame_fits_in_3_mb_on_disk(day):
    root, runs = day
    sizes = []
    for det, (outs, _) in runs.items():
        for out in outs[1:]:  # the first has no previous frame, so no difference products
            assert set(out.products) == {p.name for p in PRODUCTS}
            on_disk = _frame_bytes(root, out)
            recorded = sum(f.size_bytes for f in out.products.values())
            sample = sample_path_for(product_path(out, CALIBRATED)).stat().st_size
            assert on_disk == recorded + sample  # nothing else is left beside them
            assert on_disk <= MAX_BYTES_PER_FRAME, (det, out.name, on_disk)
            sizes.append(on_disk)
    assert statistics.median(sizes) <= MAX_BYTES_PER_FRAME
    assert not list(root.rglob("*.diff.fits*"))  # recomputed when wanted, not kept


def test_calibrated_product_is_lossless(day):
    _, runs = day
    for outs, raws in runs.values():
        for out, (raw, _, info) in zip(outs[-2:], raws[-2:], strict=True):
            expected = calibrate_and_mask(raw, info).data
            stored, _ = read_image(product_path(out, CALIBRATED))
            assert stored.dtype == np.float32
            assert np.array_equal(stored, expected, equal_nan=True)  # bit for bit, NaN kept


def test_processed_product_differs_by_far_less_than_the_noise(day):
    _, runs = day
    for outs, raws in runs.values():
        out, prior = outs[-1], outs[:-1]
        raw, _, info = raws[-1]
        chosen = background_history(info.observed_at, prior, lambda f: f.observed_at)
        samples = [np.load(sample_path_for(product_path(f, CALIBRATED))) for f in chosen]
        exact = process_frame(raw, info, samples).subtracted.bgsub  # what was written
        stored, _ = read_image(product_path(out, PROCESSED))
        nan = np.isnan(exact)
        assert np.array_equal(np.isnan(stored), nan)  # masked pixels NaN, and only they
        err = (stored - exact)[~nan]
        # in units of the local noise sigma (the product's unit): max <= step/2 = 1/32,
        # RMS step/sqrt(12) = 0.018, i.e. 0.03 % added to the noise variance
        assert np.abs(err).max() <= PROCESSED_STEP / 2 * (1 + 1e-6)
        assert abs(err.std() - PROCESSED_STEP / np.sqrt(12)) < 0.002
        assert abs(err.mean()) < 1e-3  # no bias
        assert np.nanstd(exact) > 0.9  # the noise really is ~1 in these units


def test_wcs_and_cards_are_kept(day):
    _, runs = day
    for outs, raws in runs.values():
        out = outs[-1]
        _, raw_header, info = raws[-1]
        expected = fits.Header.fromstring(
            "".join(
                product_cards(
                    raw_header,
                    observed_at=info.observed_at,
                    wcs=helioprojective_wcs(info),
                    bunit="DN/s",
                    history=[],
                )
            )
        )
        data, header = read_image(product_path(out, CALIBRATED))
        for key in expected:
            if key not in ("HISTORY", "COMMENT", ""):
                assert header[key] == expected[key], key
        ny, nx = data.shape
        points = [[info.sun_x, info.sun_y], [0, 0], [nx - 1, 0], [0, ny - 1], [nx - 1, ny - 1]]
        want = WCS(expected).wcs_pix2world(points, 0)
        for path in (product_path(out, CALIBRATED), product_path(out, PROCESSED)):
            _, h = read_image(path)
            assert np.array_equal(WCS(h).wcs_pix2world(points, 0), want)
            with fits.open(path) as hdul:  # astropy's own reading: the same WCS
                assert np.array_equal(WCS(hdul[1].header).wcs_pix2world(points, 0), want)
        hunt = load_hunt_frame(out)  # what the hunter reads back
        assert (hunt.sun_x, hunt.sun_y) == pytest.approx((info.sun_x, info.sun_y), abs=1e-9)
        assert hunt.plate_scale == pytest.approx(info.plate_scale, rel=1e-12)
        assert hunt.roll_deg == pytest.approx(info.roll_deg, abs=1e-6)


def test_standard_readers_get_the_same_values(day):
    """The files follow the tiled-compression convention: astropy reads them (and verifies
    them) to the values our reader gives."""
    _, runs = day
    out = runs[Detector.C3][0][-1]
    for product in (CALIBRATED, PROCESSED):
        path = product_path(out, product)
        ours, header = read_image(path)
        with fits.open(path) as hdul:
            hdul.verify("exception")
            assert isinstance(hdul[1], fits.CompImageHDU)
            theirs = np.asarray(hdul[1].data, dtype=np.float32)
            assert hdul[1].header["BUNIT"] == header["BUNIT"]
        assert np.array_equal(np.isnan(theirs), np.isnan(ours))
        ok = ~np.isnan(ours)
        # DN/s: BSCALE/BZERO in float rounding differ from calibrate()'s by an ulp at most
        np.testing.assert_allclose(theirs[ok], ours[ok], rtol=2e-7, atol=1e-6)


def test_difference_is_recomputed_bit_for_bit(day):
    _, runs = day
    outs, raws = runs[Detector.C3]
    (raw0, _, info0), (raw1, _, info1) = raws[-2], raws[-1]
    exact = running_difference(
        calibrate_and_mask(raw1, info1).data,
        calibrate_and_mask(raw0, info0).data,
        current_time=info1.observed_at,
        previous_time=info0.observed_at,
    )
    again = difference_of_files(
        product_path(outs[-1], CALIBRATED), product_path(outs[-2], CALIBRATED)
    )
    assert exact is not None and np.array_equal(again, exact, equal_nan=True)
    assert DIFFERENCE in BY_NAME and BY_NAME[DIFFERENCE] not in PRODUCTS  # known, not written


# ------------------------------------------------------------------ older versions' files


def _old_format_copy(out: Frame, folder: Path) -> Frame:
    """The frame as an older version wrote it: uncompressed float32 ``.cal.fits`` and
    ``.bgsub.fits``, a ``.diff.fits``, no sample."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = file_stem(out.name)
    products = {}
    for product, suffix in ((CALIBRATED, ".cal.fits"), (PROCESSED, ".bgsub.fits")):
        data, header = read_image(product_path(out, product))
        path = write_fits_float32(folder / f"{stem}{suffix}", data, header)
        products[product] = ProductFile(str(path), path.stat().st_size)
    path = write_fits_float32(folder / f"{stem}.diff.fits", np.zeros((4, 4), np.float32), [])
    products[DIFFERENCE] = ProductFile(str(path), path.stat().st_size)
    return Frame(out.name, out.detector, out.observed_at, products)


def test_old_uncompressed_products_still_read(day, tmp_path):
    _, runs = day
    out = runs[Detector.C2][0][-1]
    old = _old_format_copy(out, tmp_path / "old")
    for product in (CALIBRATED, PROCESSED):
        new_data, new_header = read_image(product_path(out, product))
        old_data, old_header = read_image(product_path(old, product))
        with fits.open(product_path(old, product)) as hdul:
            assert hdul[0].header["BITPIX"] == -32 and len(hdul) == 1  # really the old kind
        assert np.array_equal(old_data, new_data, equal_nan=True)
        assert old_header["CRPIX1"] == new_header["CRPIX1"]
    hunt_old, hunt_new = load_hunt_frame(old), load_hunt_frame(out)
    assert np.array_equal(hunt_old.image, hunt_new.image, equal_nan=True)
    assert (hunt_old.sun_x, hunt_old.plate_scale) == (hunt_new.sun_x, hunt_new.plate_scale)
    assert (
        sample_path_for(product_path(old, CALIBRATED)).name == f"{file_stem(out.name)}.sample.npy"
    )


def test_processing_after_an_older_version(day, tmp_path):
    """History from an older version (float32 .cal.fits, no sample): the background sample
    and the running difference come from the old file; processing a frame again replaces
    its old files by the compact ones."""
    _, runs = day
    outs, raws = runs[Detector.C3]
    root = tmp_path / "frames"
    folder = frame_folder(root, Detector.C3, outs[0].observed_at)
    history = [_old_format_copy(o, folder) for o in outs[:-1]]
    raw, header, info = raws[-1]
    fresh = FrameProcessor(root).process(
        raw, header, info, helioprojective_wcs(info), name=outs[-1].name, history=history
    )
    assert fresh.background_kind == "rolling"
    for product in (CALIBRATED, PROCESSED):  # as from the compact history, bit for bit
        assert np.array_equal(
            read_image(product_path(fresh, product))[0],
            read_image(product_path(outs[-1], product))[0],
            equal_nan=True,
        )
    assert sample_path_for(product_path(history[-1], CALIBRATED)).exists()  # rebuilt
    # the last old frame processed again: its .cal/.bgsub/.diff.fits go, .fits.fz come
    raw, header, info = raws[-2]
    again = FrameProcessor(root).process(
        raw, header, info, helioprojective_wcs(info), name=outs[-2].name, history=history[:-1]
    )
    stem = file_stem(outs[-2].name)
    left = sorted(p.name for p in folder.glob(f"{stem}.*fits*"))
    assert left == [f"{stem}.bgsub.fits.fz", f"{stem}.cal.fits.fz"]
    assert DIFFERENCE not in again.products


# ------------------------------------------------------------------ the codecs themselves


def test_stepped_fits_keeps_nan_zero_and_extremes(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.normal(0, 1, (64, 48)).astype(np.float32)
    data[:5] = np.nan  # a masked band
    data[10, 10] = 0.0
    data[20, 20] = 5e4  # a saturated star, in sigma
    data[21, 21] = -300.0
    cards = [fits.Card("BUNIT", "sigma").image, fits.Card("HISTORY", "a test").image]
    path = write_stepped_fits(tmp_path / "x.bgsub.fits.fz", data, cards, PROCESSED_STEP)
    back, header = read_image(path)
    assert back.shape == data.shape and back.dtype == np.float32
    assert np.array_equal(np.isnan(back), np.isnan(data))
    assert back[10, 10] == 0.0 and back[20, 20] == 5e4 and back[21, 21] == -300.0
    ok = ~np.isnan(data)
    assert np.abs(back[ok] - data[ok]).max() <= PROCESSED_STEP / 2
    assert header["BUNIT"] == "sigma" and "a test" in str(header["HISTORY"])
    assert "BSCALE" not in header and "ZIMAGE" not in header  # the image's cards only


def test_dn_fits_round_trips_int16_and_wider_raw(tmp_path):
    rng = np.random.default_rng(2)
    for raw in (
        rng.integers(300, 16_000, (40, 32)).astype(">i2"),  # big-endian, as FITS gives it
        rng.integers(0, 65_535, (40, 32)).astype(np.uint16),  # needs int32
    ):
        mask = np.zeros(raw.shape, bool)
        mask[:3] = True
        path = write_dn_fits(
            tmp_path / "x.cal.fits.fz", raw, mask, [], offset=376.9, scale=1 / 17.3
        )
        assert path is not None
        back, _ = read_image(path)
        expected = (raw.astype(np.float32) - np.float32(376.9)) * np.float32(1 / 17.3)
        expected[mask] = np.nan
        assert np.array_equal(back, expected, equal_nan=True)
    assert (
        write_dn_fits(tmp_path / "y.fz", raw.astype(np.float32), mask, [], offset=0, scale=1)
        is None
    )


def test_float_raw_goes_through_astropys_quantiser(tmp_path):
    """A calibrated frame with no integer form: 1/16 of the noise astropy estimates."""
    rng = np.random.default_rng(3)
    data = (100 + rng.normal(0, 2.0, (64, 64))).astype(np.float32)
    data[:8] = np.nan
    path = write_quantized_fits(
        tmp_path / "x.cal.fits.fz", data, [fits.Card("BUNIT", "DN/s").image]
    )
    back, header = read_image(path)
    assert np.array_equal(np.isnan(back), np.isnan(data)) and header["BUNIT"] == "DN/s"
    err = (back - data)[~np.isnan(data)]
    assert np.abs(err).max() <= 2.0 / 16  # the step is ~sigma/16, the error at most half
    assert (
        path.read_bytes()
        == write_quantized_fits(
            tmp_path / "y.fz", data, [fits.Card("BUNIT", "DN/s").image]
        ).read_bytes()
    )


def test_public_astropy_path_writes_the_same_images(tmp_path, monkeypatch):
    """Were astropy's C codec to move, CompImageHDU writes and fits.open reads the files."""
    rng = np.random.default_rng(4)
    data = rng.normal(0, 1, (50, 40)).astype(np.float32)
    data[:4] = np.nan
    cards = [fits.Card("BUNIT", "sigma").image]
    ours = write_stepped_fits(tmp_path / "a.fz", data, cards, PROCESSED_STEP)
    expected = read_image(ours)[0]
    with monkeypatch.context() as m:
        m.setattr(fitscomp, "FAST", False)
        theirs = write_stepped_fits(tmp_path / "b.fz", data, cards, PROCESSED_STEP)
        assert np.array_equal(read_image(ours)[0], expected, equal_nan=True)  # via fits.open
        assert np.array_equal(read_image(theirs)[0], expected, equal_nan=True)
    assert np.array_equal(read_image(theirs)[0], expected, equal_nan=True)  # fast reader


def test_grey_pngs_decode_to_what_was_meant():
    rng = np.random.default_rng(5)
    smooth = np.add.outer(np.arange(200), np.arange(300)) // 3 % 256
    pixels = (smooth + rng.integers(0, 3, smooth.shape)).astype(np.uint8)
    for levels, predict in ((256, True), (256, False), (64, False), (128, True)):
        png = encode_grey_png(pixels, levels=levels, predict=predict)
        with Image.open(io.BytesIO(png)) as im:
            back = np.asarray(im)
        assert np.array_equal(back, posterise(pixels, levels))
    ramp = np.arange(256, dtype=np.uint8)
    for levels in (64, 128):
        step = 256 // levels
        got = posterise(ramp, levels).astype(int)
        assert got[0] == 0 and got[128] == 128  # black and the masked grey stay
        assert (got % step == 0).all() and np.abs(got - ramp).max() <= step - 1
    predicted = len(encode_grey_png(pixels, predict=True))
    assert predicted < 0.7 * len(encode_grey_png(pixels))  # prediction pays on smooth images
