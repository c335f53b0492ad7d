"""Arrival-gated publishing, determinism of every published byte, FITS headers."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
from astropy.io import fits

from comet_pipeline.archive.parsers import parse_img_hdr, parse_listing
from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator import SimArchive, SimConfig
from comet_pipeline.simulator.render import fits_size
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.simulator.conftest import DAY


def test_a_file_appears_exactly_when_it_arrives(archive: SimArchive, clock: ManualClock) -> None:
    obs = archive.observations(DAY, Detector.C3)[40]
    clock.now = obs.arrived_at - timedelta(seconds=1)
    assert obs.name not in archive.img_hdr_text(DAY, Detector.C3)
    assert obs.name not in {
        e.name for e in parse_listing(archive.listing_html(DAY, Detector.C3)).items
    }
    assert archive.fits_bytes(DAY, Detector.C3, obs.name) is None
    clock.now = obs.arrived_at
    assert obs.name in {f.name for f in parse_img_hdr(archive.img_hdr_text(DAY, Detector.C3)).items}
    assert obs.name in {e.name for e in parse_listing(archive.listing_html(DAY, Detector.C3)).items}
    assert archive.fits_bytes(DAY, Detector.C3, obs.name) is not None
    # the listing is always exactly the arrived set
    for obs in archive.observations(DAY, Detector.C3):
        shown = obs.name in archive.img_hdr_text(DAY, Detector.C3)
        assert shown == (obs.arrived_at <= clock.now)


def test_no_directory_before_the_first_arrival(archive: SimArchive, clock: ManualClock) -> None:
    first = min(o.arrived_at for o in archive.observations(DAY, Detector.C2))
    clock.now = first - timedelta(seconds=1)
    assert not archive.has_directory(DAY, Detector.C2)
    assert archive.img_hdr_text(DAY, Detector.C2) == ""
    clock.now = first
    assert archive.has_directory(DAY, Detector.C2)


def test_same_seed_same_bytes_other_seed_other_bytes(clock: ManualClock) -> None:
    a, b = (SimArchive(SimConfig(seed=5), clock=clock) for _ in range(2))
    c = SimArchive(SimConfig(seed=6), clock=clock)
    for det in Detector:
        assert a.img_hdr_text(DAY, det) == b.img_hdr_text(DAY, det) != c.img_hdr_text(DAY, det)
        assert a.listing_html(DAY, det) == b.listing_html(DAY, det) != c.listing_html(DAY, det)
    assert a.schedule_html() == b.schedule_html() != c.schedule_html()
    obs_a = a.observations(DAY, Detector.C2)[10]
    obs_c = c.observations(DAY, Detector.C2)[10]
    assert a.render(obs_a) == b.render(b.observations(DAY, Detector.C2)[10])
    da = fits.getdata(io.BytesIO(a.render(obs_a)))
    dc = fits.getdata(io.BytesIO(c.render(obs_c)))
    assert not np.array_equal(da, dc)


def test_fits_header_has_the_level05_keywords(archive: SimArchive) -> None:
    for det, scale, bias in ((Detector.C2, 11.9, 470.0), (Detector.C3, 56.0, 380.0)):
        obs = next(o for o in archive.observations(DAY, det) if o.synoptic)
        raw = archive.render(obs)
        assert len(raw) == fits_size(obs) and len(raw) % 2880 == 0
        with fits.open(io.BytesIO(raw)) as hdul:
            h, data = hdul[0].header, hdul[0].data
        assert h["BITPIX"] == 16 and data.dtype.kind == "i" and data.shape == (1024, 1024)
        assert h["FILENAME"] == obs.name
        assert h["DATE-OBS"] == obs.observed_at.strftime("%Y/%m/%d")
        assert h["TIME-OBS"] == obs.observed_at.strftime("%H:%M:%S.%f")[:-3]
        assert (h["TELESCOP"], h["INSTRUME"], h["DETECTOR"]) == ("SOHO", "LASCO", det.label)
        assert (h["CTYPE1"], h["CTYPE2"], h["CUNIT1"]) == ("SOLAR-X", "SOLAR-Y", "ARCSEC")
        assert h["CDELT1"] == h["CDELT2"] == scale
        assert abs(h["OFFSET"] - bias) < 10
        assert abs(h["CRPIX1"] - 512) < 25 and abs(h["CRPIX2"] - 512) < 25
        assert (h["FILTER"], h["POLAR"], h["LP_NUM"]) == (obs.filter, obs.polarizer, "Normal")
        for key in ("EXPTIME", "READPORT", "LEBXSUM", "LEBYSUM", "SUMROW", "SUMCOL", "FILEORIG",
                    "CROTA1", "CROTA2", "DATAMIN", "DATAMAX", "DATASAT", "DATAAVG"):  # fmt: skip
            assert key in h, key
        assert h["DATAZER"] == int(np.count_nonzero(data == 0))
        assert h["DATAMAX"] == int(data.max()) and h["DATAMIN"] == int(data.min())
        # bias in the occulted centre, corona outside it
        sy, sx = int(h["CRPIX2"]) - 1, int(h["CRPIX1"]) - 1
        assert abs(np.median(data[sy - 5 : sy + 5, sx - 5 : sx + 5]) - h["OFFSET"]) < 10
        assert np.median(data[sy, sx + 260 : sx + 280]) > h["OFFSET"] + 20


def test_binned_image_is_512_and_its_header_says_so(archive: SimArchive) -> None:
    days = [DAY + timedelta(days=k) for k in range(4)]
    obs = next(o for d in days for o in archive.observations(d, Detector.C3) if o.naxis1 == 512)
    with fits.open(io.BytesIO(archive.render(obs))) as hdul:
        h, data = hdul[0].header, hdul[0].data
    assert data.shape == (512, 512) and h["LEBXSUM"] == 2 and h["CDELT1"] == 112.0
    assert abs(h["CRPIX1"] - 259) < 15


def test_missing_blocks_are_32x32_zeros_counted_by_datazer(clock: ManualClock) -> None:
    archive = SimArchive(SimConfig(seed=3, missing_block_probability=1.0), clock=clock)
    obs = archive.observations(DAY, Detector.C2)[5]
    with fits.open(io.BytesIO(archive.render(obs))) as hdul:
        h, data = hdul[0].header, hdul[0].data
    zeros = data == 0
    assert h["DATAZER"] == int(zeros.sum()) > 0
    assert h["DATAZER"] % (32 * 32) == 0
    rows, cols = np.nonzero(zeros)
    assert rows.min() % 32 == 0 and cols.min() % 32 == 0
