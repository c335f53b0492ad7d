"""Archive parsers: img_hdr.txt, Apache listing, DSN schedule, FITS header + WCS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from astropy.io import fits

from benchmarks._util import median_ms
from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.archive.parsers import parse_img_hdr, parse_listing, parse_schedule

N_LINES = 1000  # ~5 days of one detector's index


def _inputs() -> tuple[str, str, str, fits.Header]:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    index, listing, schedule = [], [], ["<pre>"]
    for i in range(N_LINES):
        t = t0 + timedelta(minutes=12 * i)
        name = f"2{2932721 + i:07d}.fts"
        index.append(
            f"{name}    {t:%Y/%m/%d}  {t:%H:%M:%S}   C2    25.1   1024   1024     20      1  "
            "Orange  Clear   Normal       0.0000  4179"
        )
        listing.append(
            f'<tr><td><a href="{name}">{name}</a></td>'
            f'<td align="right">{t + timedelta(hours=1):%Y-%m-%d %H:%M}  </td><td>2.0M</td></tr>'
        )
    for d in range(14):
        day = t0 + timedelta(days=d)
        doy = day.timetuple().tm_yday
        schedule += [
            f"1  {doy}  MON  {day:%Y-%m-%d}  {h:02d}:00 - {h + 3:02d}:30  D24" for h in (1, 9, 17)
        ]
    header = fits.Header()
    for key, value in {
        "NAXIS1": 1024, "NAXIS2": 1024, "DATE-OBS": "2002/05/21", "TIME-OBS": "00:18:06.516",
        "EXPTIME": 19.1, "DETECTOR": "C3", "CRPIX1": 517.956, "CRPIX2": 532.632,
        "CDELT1": 56.0, "CDELT2": 56.0, "OFFSET": 378.876, "FILTER": "Clear", "POLAR": "Clear",
        "LP_NUM": "Normal", "DATAZER": 0, "LEBXSUM": 1, "SUMCOL": 0,
    }.items():  # fmt: skip
        header[key] = value
    return "\n".join(index), "\n".join(listing), "\n".join(schedule), header


def run() -> dict:
    index, listing, schedule, header = _inputs()
    info = parse_fits_header(header)
    return {
        "img_hdr_1000_lines_ms": median_ms(lambda: parse_img_hdr(index)),
        "listing_1000_rows_ms": median_ms(lambda: parse_listing(listing)),
        "schedule_42_rows_ms": median_ms(lambda: parse_schedule(schedule)),
        "fits_header_ms": median_ms(lambda: parse_fits_header(header), repeat=21),
        "helioprojective_wcs_ms": median_ms(lambda: helioprojective_wcs(info), repeat=21),
    }
