"""Archive parsers: img_hdr.txt, Apache listing, DSN schedule, FITS header + WCS.

Also hostile bodies up to the client's 20 MB cap, in the shapes that made the old patterns
quadratic (many ``<a `` / ``<tr`` / ``<`` with no ``>`` / ``</tr>`` after them): seconds per
parse (median of 3; target <= 2 s), and the same shapes at 48, 96 and 192 kB, where linear
parsing doubles with the size (the old code quadrupled: 2.6 s, 10 s, 40 s).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from astropy.io import fits

from benchmarks._util import median_ms
from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.archive.parsers import parse_img_hdr, parse_listing, parse_schedule

N_LINES = 1000  # ~5 days of one detector's index
CAP = 20 * 1024 * 1024  # the client's body cap (ArchiveClient.max_bytes)
LINE = 64 * 1024  # hostile lines this long are parsed (the parsers skip lines over 1 MiB)


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


def _garbage(unit: str, size: int, line: int | None = LINE) -> str:
    """``size`` characters of ``unit`` repeated, in lines of ``line`` (None: one line)."""
    one = unit if line is None else unit * (line // len(unit)) + "\n"
    return (one * (size // len(one) + 1))[:size]


def _median_s(fn: Callable[[], object]) -> float:
    return round(median_ms(fn, repeat=3, warmup=0) / 1000.0, 3)


def _hostile() -> dict[str, float]:
    """Seconds per parse of a 20 MB hostile body, by parser and shape."""
    cases: dict[str, tuple[Callable[[str], object], str, int | None]] = {
        "listing_a_href_no_gt": (parse_listing, "<a href=", LINE),
        "listing_a_no_gt": (parse_listing, "<a ", LINE),
        "listing_tr_no_close": (parse_listing, "<tr>", LINE),
        "listing_lt_no_gt": (parse_listing, "<", LINE),
        "schedule_tr_no_close": (parse_schedule, "<tr>", LINE),
        "schedule_a_no_gt": (parse_schedule, "<a ", LINE),
        "schedule_lt_no_gt": (parse_schedule, "<", LINE),
        "img_hdr_a_no_gt": (parse_img_hdr, "<a ", LINE),
        "listing_single_line": (parse_listing, "<a href=", None),
        "schedule_single_line": (parse_schedule, "<tr>", None),
        "img_hdr_single_line": (parse_img_hdr, "x", None),
    }
    figures = {}
    for key, (parse, unit, line) in cases.items():
        body = _garbage(unit, CAP, line)
        figures[f"{key}_20mb_s"] = _median_s(lambda parse=parse, body=body: parse(body))
    # The dearest shape per byte: a short line that must be looked at, every line (one link,
    # one digit or one junk word each). Python time per line, so the parsers read at most
    # MAX_LINES lines of a page.
    dense = {"listing_link_per_line": (parse_listing, '<a href="x.fts">x</a>\n'),
             "schedule_digit_per_line": (parse_schedule, "1\n"),
             "img_hdr_junk_per_line": (parse_img_hdr, "j\n")}  # fmt: skip
    for key, (parse, unit) in dense.items():
        body = _garbage(unit, CAP, None)
        figures[f"{key}_20mb_s"] = _median_s(lambda parse=parse, body=body: parse(body))
    return figures


def _scaling() -> dict[str, float]:
    """The reviewer's sizes: milliseconds at 48, 96, 192 kB and the 192/48 ratio (4 = linear)."""
    figures: dict[str, float] = {}
    for key, parse, unit in (
        ("listing_a_no_gt", parse_listing, "<a "),
        ("schedule_tr_no_close", parse_schedule, "<tr>"),
    ):
        ms = {}
        for kb in (48, 96, 192):
            body = _garbage(unit, kb * 1024, None)
            ms[kb] = median_ms(lambda parse=parse, body=body: parse(body), repeat=5)
            figures[f"{key}_{kb}kb_ms"] = ms[kb]
        figures[f"{key}_192_over_48"] = round(ms[192] / ms[48], 1) if ms[48] else 0.0
    return figures


def run() -> dict:
    index, listing, schedule, header = _inputs()
    info = parse_fits_header(header)
    return {
        "img_hdr_1000_lines_ms": median_ms(lambda: parse_img_hdr(index)),
        "listing_1000_rows_ms": median_ms(lambda: parse_listing(listing)),
        "schedule_42_rows_ms": median_ms(lambda: parse_schedule(schedule)),
        "fits_header_ms": median_ms(lambda: parse_fits_header(header), repeat=21),
        "helioprojective_wcs_ms": median_ms(lambda: helioprojective_wcs(info), repeat=21),
        **_scaling(),
        **_hostile(),
    }
