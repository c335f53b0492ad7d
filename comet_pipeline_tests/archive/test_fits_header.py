from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from astropy.io import fits

from comet_pipeline.archive.fits_header import HeaderError, helioprojective_wcs, parse_fits_header
from comet_pipeline.domain.models import Detector


def level05_header() -> fits.Header:
    """The level-0.5 card set of the formats page."""
    h = fits.Header()
    h["SIMPLE"] = True
    h["BITPIX"] = 16
    h["NAXIS"] = 2
    h["NAXIS1"] = 1024
    h["NAXIS2"] = 1024
    h["FILENAME"] = "32088304.fts"
    h["FILEORIG"] = "020521_001853.img"
    h["DATE-OBS"] = "2002/05/21"
    h["TIME-OBS"] = "00:18:06.516"
    h["EXPTIME"] = 19.0996
    h["TELESCOP"] = "SOHO"
    h["INSTRUME"] = "LASCO"
    h["DETECTOR"] = "C3"
    h["READPORT"] = "C"
    h["FILTER"] = "Clear"
    h["POLAR"] = "Clear"
    h["LP_NUM"] = "Normal"
    h["LEBXSUM"] = 1
    h["LEBYSUM"] = 1
    h["SUMROW"] = 0
    h["SUMCOL"] = 0
    h["OFFSET"] = 378.876
    h["CRPIX1"] = 517.956
    h["CRPIX2"] = 532.632
    h["CTYPE1"] = "SOLAR-X"
    h["CTYPE2"] = "SOLAR-Y"
    h["CUNIT"] = "ARCSEC"
    h["CDELT1"] = 56.0
    h["CDELT2"] = 56.0
    h["CROTA1"] = 0.0
    h["CROTA2"] = 0.0
    h["DATAMIN"] = 0
    h["DATAMAX"] = 16383
    h["DATAZER"] = 2048
    return h


def level1_header() -> fits.Header:
    """A level-1 card set: ISO DATE-OBS, empty TIME-OBS, HPLN-TAN, CROTA, NMISSING."""
    h = fits.Header()
    h["NAXIS1"] = 1024
    h["NAXIS2"] = 1024
    h["DATE-OBS"] = "2009-02-28T00:05:33.380"
    h["TIME-OBS"] = ""
    h["EXPTIME"] = 25.1
    h["DETECTOR"] = "C2"
    h["FILTER"] = "Orange"
    h["POLAR"] = "Clear"
    h["LP_NUM"] = "Normal"
    h["CTYPE1"] = "HPLN-TAN"
    h["CTYPE2"] = "HPLT-TAN"
    h["CUNIT1"] = "arcsec"
    h["CUNIT2"] = "arcsec"
    h["CRPIX1"] = 512.5
    h["CRPIX2"] = 506.0
    h["CRVAL1"] = 0.0
    h["CRVAL2"] = 0.0
    h["CDELT1"] = 11.9
    h["CDELT2"] = 11.9
    h["CROTA"] = 180.0
    h["XCEN"] = 5.95
    h["YCEN"] = -71.4
    h["RSUN"] = 970.5
    h["NMISSING"] = 1024
    h["MISSLIST"] = "AAAA"
    h["BUNIT"] = "MSB"
    h["DATAZER"] = 7  # level 1: NMISSING wins
    return h


def test_level05_card_set() -> None:
    info = parse_fits_header(level05_header())
    assert info.level == "0.5"
    assert info.observed_at == datetime(2002, 5, 21, 0, 18, 6, 516_000, tzinfo=UTC)
    assert info.detector is Detector.C3
    assert info.exptime == pytest.approx(19.0996)
    assert (info.naxis1, info.naxis2, info.binning) == (1024, 1024, 1)
    assert info.offset == pytest.approx(378.876)
    assert (info.sun_x, info.sun_y) == pytest.approx((516.956, 531.632))  # 1-based -> 0-based
    assert info.plate_scale == pytest.approx(56.0)
    assert info.roll_deg == 0.0
    assert (info.filter, info.polarizer, info.program) == ("Clear", "Clear", "Normal")
    assert info.n_missing == 2048
    assert info.filename == "32088304.fts"


def test_level1_card_set() -> None:
    info = parse_fits_header(level1_header())
    assert info.level == "1"
    assert info.observed_at == datetime(2009, 2, 28, 0, 5, 33, 380_000, tzinfo=UTC)
    assert info.detector is Detector.C2
    assert info.offset == 0.0
    assert (info.sun_x, info.sun_y) == pytest.approx((511.5, 505.0))
    assert info.plate_scale == pytest.approx(11.9)
    assert info.roll_deg == 180.0
    assert info.n_missing == 1024


def test_binned_level05() -> None:
    h = level05_header()
    h["NAXIS1"] = h["NAXIS2"] = 512
    h["LEBXSUM"] = 2
    h["CDELT1"] = h["CDELT2"] = 112.0
    assert parse_fits_header(h).binning == 2
    del h["LEBXSUM"], h["SUMCOL"]
    assert parse_fits_header(h).binning == 2  # inferred from the width
    h["SUMCOL"] = 2
    h["LEBXSUM"] = 2
    assert parse_fits_header(h).binning == 4


def test_crval_offset_moves_sun_centre() -> None:
    h = level1_header()
    h["CROTA"] = 0.0
    h["CRVAL1"] = 11.9 * 3  # the reference pixel is 3 px west of the Sun
    h["CRVAL2"] = -11.9 * 2  # and 2 px south
    info = parse_fits_header(h)
    assert (info.sun_x, info.sun_y) == pytest.approx((511.5 - 3, 505.0 + 2))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: h.remove("DATE-OBS"), "missing DATE-OBS"),
        (lambda h: h.remove("TIME-OBS"), "no time"),
        (lambda h: h.set("DATE-OBS", "yesterday"), "not a date"),
        (lambda h: h.set("TIME-OBS", "25:00:00"), "bad observation time"),
        (lambda h: h.remove("DETECTOR"), "missing DETECTOR"),
        (lambda h: h.set("DETECTOR", "EIT"), "not C2 or C3"),
        (lambda h: h.remove("EXPTIME"), "missing EXPTIME"),
        (lambda h: h.set("EXPTIME", "fast"), "not a number"),
        (lambda h: h.remove("CRPIX1"), "missing CRPIX1"),
        (lambda h: h.remove("CDELT1"), "missing CDELT1"),
        (lambda h: h.remove("NAXIS2"), "missing NAXIS2"),
    ],
)
def test_missing_or_bad_essentials_raise_header_error(mutate, reason: str) -> None:
    h = level05_header()
    mutate(h)
    with pytest.raises(HeaderError, match=reason):
        parse_fits_header(h)


def _arcsec(deg: float) -> float:
    return ((deg + 180.0) % 360.0 - 180.0) * 3600.0


@pytest.mark.parametrize("roll", [0.0, 180.0])
def test_wcs_sun_centre_and_one_pixel_steps(roll: float) -> None:
    h = level05_header()
    h["CROTA1"] = roll
    info = parse_fits_header(h)
    w = helioprojective_wcs(info)
    assert list(w.wcs.ctype) == ["HPLN-TAN", "HPLT-TAN"]
    x0, y0 = info.sun_x, info.sun_y  # 0-based, as pixel_to_world_values expects
    lon, lat = w.pixel_to_world_values(x0, y0)
    assert _arcsec(float(lon)) == pytest.approx(0.0, abs=1e-6)
    assert _arcsec(float(lat)) == pytest.approx(0.0, abs=1e-6)
    sign = 1.0 if roll == 0.0 else -1.0
    # One pixel east (= -x, solar east is left when north is up) and one pixel north (+y).
    lon, lat = w.pixel_to_world_values(x0 - 1.0, y0)
    assert _arcsec(float(lon)) == pytest.approx(-sign * 56.0, rel=1e-4)
    assert _arcsec(float(lat)) == pytest.approx(0.0, abs=1e-3)
    lon, lat = w.pixel_to_world_values(x0, y0 + 1.0)
    assert _arcsec(float(lon)) == pytest.approx(0.0, abs=1e-3)
    assert _arcsec(float(lat)) == pytest.approx(sign * 56.0, rel=1e-4)
    # The round trip lands on the same pixel.
    px = w.world_to_pixel_values(*w.pixel_to_world_values(100.0, 900.0))
    assert np.allclose(px, (100.0, 900.0), atol=1e-6)


def test_wcs_observer_and_date() -> None:
    info = parse_fits_header(level05_header())
    w = helioprojective_wcs(info)
    assert w.wcs.dateobs.startswith("2002-05-21T00:18:06.5")
    # Late May: Earth ~1.0125 AU from the Sun, B0 ~ -2.1 deg; SOHO 1% closer.
    assert w.wcs.aux.dsun_obs / 1.495978707e11 == pytest.approx(0.99 * 1.0125, abs=2e-3)
    assert w.wcs.aux.hglt_obs == pytest.approx(-2.1, abs=0.3)
    assert w.wcs.aux.rsun_ref == pytest.approx(6.957e8)
    # The Sun's radius in pixels is close to the formats page's C3 figure (~17 px per R_sun).
    r_px = math.degrees(math.atan(6.957e8 / w.wcs.aux.dsun_obs)) * 3600 / info.plate_scale
    assert 16.5 < r_px < 17.5
