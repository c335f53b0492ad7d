import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.domain.models import Detector
from comet_pipeline.imaging.fitsio import product_header, read_fits_float32, write_fits_float32
from comet_pipeline_tests.imaging import synth


def _write(tmp_path, roll):
    info = synth.info_for(Detector.C3, roll=roll)
    raw_header = synth.header_for(info)
    info = parse_fits_header(raw_header)
    header = product_header(
        raw_header,
        observed_at=info.observed_at,
        wcs=helioprojective_wcs(info),
        bunit="DN/s",
        history=["calibrated by a test"],
    )
    data = np.arange(1024 * 1024, dtype=np.float32).reshape(1024, 1024)
    path = write_fits_float32(tmp_path / "x.cal.fits", data, header)
    return info, path, data


def test_wcs_sun_centre_and_plate_scale_read_back(tmp_path):
    info, path, data = _write(tmp_path, 0.0)
    back, header = read_fits_float32(path)
    with fits.open(path) as hdul:
        hdul.verify("exception")  # a standard-conforming file
        assert len(hdul) == 1 and hdul[0].header["BITPIX"] == -32
    assert path.stat().st_size % 2880 == 0
    assert np.array_equal(back, data) and back.dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean, valid WCS: no FITSFixedWarning
        w = WCS(header)
    assert w.wcs.ctype[0] == "HPLN-TAN" and w.wcs.ctype[1] == "HPLT-TAN"
    lon, lat = w.wcs_pix2world([[info.sun_x, info.sun_y]], 0)[0]
    assert abs(lon) < 1e-9 and abs(lat) < 1e-9  # Sun centre at (0", 0")
    scales = w.proj_plane_pixel_scales()
    for s in scales:
        assert abs(s.to_value("arcsec") - 56.0) < 1e-9
    # one pixel west (+x) of the Sun is +56" in HPLN, one pixel north (+y) +56" in HPLT
    lon1, lat1 = w.wcs_pix2world([[info.sun_x + 1, info.sun_y + 1]], 0)[0]
    assert abs(lon1 * 3600 - 56.0) < 1e-3 and abs(lat1 * 3600 - 56.0) < 1e-3
    assert header["DATE-OBS"] == "2024-01-01T00:00:05.000"
    assert header["BUNIT"] == "DN/s"
    assert header["FILENAME"] == "30000001.fts" and header["OFFSET"] == 380.0  # kept
    assert "calibrated by a test" in str(header["HISTORY"])
    assert "DATE" not in header  # no processing wall-clock time
    again = parse_fits_header(header)  # our own product parses back to the same geometry
    assert again.observed_at == info.observed_at
    assert abs(again.sun_x - info.sun_x) < 1e-6 and abs(again.sun_y - info.sun_y) < 1e-6
    assert abs(again.plate_scale - 56.0) < 1e-9 and abs(again.roll_deg) < 1e-9


def test_rolled_wcs_north_is_down(tmp_path):
    info, path, _ = _write(tmp_path, 180.0)
    header = fits.getheader(path)
    w = WCS(header)
    _, lat1 = w.wcs_pix2world([[info.sun_x, info.sun_y + 1]], 0)[0]
    assert abs(lat1 * 3600 + 56.0) < 1e-3  # +y is south when rolled 180°
    assert abs(abs(header["CROTA1"]) - 180.0) < 1e-6


def test_same_inputs_same_bytes(tmp_path):
    _, path, _ = _write(tmp_path, 0.0)
    first = path.read_bytes()
    _write(tmp_path, 0.0)
    assert path.read_bytes() == first
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind
