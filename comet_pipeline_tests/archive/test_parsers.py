from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from comet_pipeline.archive.errors import Rejected, RejectedName
from comet_pipeline.archive.layout import (
    day_dir,
    file_url,
    img_hdr_url,
    index_url,
    validate_file_name,
)
from comet_pipeline.archive.parsers import (
    eastern_to_utc,
    parse_img_hdr,
    parse_listing,
    parse_schedule,
)
from comet_pipeline.domain.models import Detector

# The example line of the formats page, verbatim.
L05_LINE = (
    "22932721.fts    2024/01/01  00:00:05   C2    25.1   1024   1024     20      1  "
    "Orange  Clear   Normal       0.0000  4179"
)
# Level 1: ISO-ish time with fraction; COMPRSSN, CROTA, NMISSING at the end.
L1_LINE = (
    "25279469.fts  2009/02/28  00:05:33.380  C2  25.1  1024  1024  20  1  Orange  Clear  "
    "Normal  Rice  -0.1560  32"
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ----------------------------------------------------------------- names and layout


@pytest.mark.parametrize("name", ["22932721.fts", "32088304.FTS", "22932721.Fts"])
def test_good_names_keep_their_case(name: str) -> None:
    # The URL is built from the name: a case-sensitive server 404s on a lower-cased one.
    assert validate_file_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../22932721.fts", "path separator"),
        ("/etc/22932721.fts", "absolute path"),
        ("\\\\host\\22932721.fts", "absolute path"),
        ("C:22932721.fts", "absolute path"),
        ("..22932721.fts", "'..'"),
        ("2293 2721.fts", "white-space"),
        ("22932721.fts\n", "white-space"),
        ("22932721.fts\x00", "control"),
        ("２２９３２７２１.fts", "non-ASCII"),  # full-width digits match \d, not [0-9]
        ("22932721.fits", "does not end in .fts"),
        ("2293272a.fts", "not all digits"),
        ("2293272.fts", "7 digits"),
        ("229327211.fts", "9 digits"),
        ("", "empty"),
        ("x" * 500 + ".fts", "not all digits"),
    ],
)
def test_hostile_names_are_rejected_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(RejectedName) as info:
        validate_file_name(name)
    assert reason in info.value.reason
    assert isinstance(info.value, Rejected) and info.value.permanent
    assert len(str(info.value)) < 200  # a 500-char name is not echoed in full


def test_urls() -> None:
    d = date(2024, 1, 1)
    assert day_dir(d) == "240101"
    assert index_url("sim://lasco", d, Detector.C2) == "sim://lasco/240101/c2/"
    base = "https://umbra.nascom.nasa.gov/pub/lasco/lastimage/level_05/"
    assert img_hdr_url(base, d, Detector.C3) == (
        "https://umbra.nascom.nasa.gov/pub/lasco/lastimage/level_05/240101/c3/img_hdr.txt"
    )
    assert file_url("sim://lasco", d, Detector.C3, "32088304.FTS").endswith("/c3/32088304.FTS")
    with pytest.raises(RejectedName):
        file_url("sim://lasco", d, Detector.C3, "../../etc/passwd")


# ----------------------------------------------------------------- img_hdr.txt


def test_img_hdr_example_line_level_05() -> None:
    result = parse_img_hdr(L05_LINE + "\n")
    assert result.problems == []
    [f] = result.items
    assert f.name == "22932721.fts"
    assert f.detector is Detector.C2
    assert f.observed_at == utc(2024, 1, 1, 0, 0, 5)
    assert f.exptime == pytest.approx(25.1)
    assert (f.naxis1, f.naxis2) == (1024, 1024)
    assert (f.filter, f.polarizer, f.program) == ("Orange", "Clear", "Normal")
    assert f.arrived_at is None
    assert f.day_dir == "240101"


def test_img_hdr_level_1_variant() -> None:
    result = parse_img_hdr(L1_LINE, detector=Detector.C2)
    assert result.problems == []
    [f] = result.items
    assert f.observed_at == utc(2009, 2, 28, 0, 5, 33, 380_000)
    assert f.program == "Normal"


def test_img_hdr_blank_in_polarizer_uses_the_idl_columns() -> None:
    # (a12,2x,a12,2x,a8,2x,a3,f8.1,4i7,2x,a6,2x,a6,2x,a8,f11.4,i6) with POLAR '+60 Deg'.
    line = (
        f"{'22932722.fts':>12}  {'2024/01/01':>12}  {'00:01:05':>8}  {'C2':>3}{25.1:8.1f}"
        f"{512:7d}{512:7d}{20:7d}{1:7d}  {'Orange':6}  {'+60 Deg'[:6]:6}  {'Normal':8}"
        f"{0.0:11.4f}{4180:6d}"
    )
    assert (
        f"{'22932721.fts':>12}  {'2024/01/01':>12}  {'00:00:05':>8}  {'C2':>3}{25.1:8.1f}"
        f"{1024:7d}{1024:7d}{20:7d}{1:7d}  {'Orange':6}  {'Clear':6}  {'Normal':8}"
        f"{0.0:11.4f}{4179:6d}"
    ) == L05_LINE  # the example line is exactly this layout
    result = parse_img_hdr(line + "\n" + L05_LINE)
    assert result.problems == []
    assert [(f.filter, f.polarizer, f.program) for f in result.items] == [
        ("Orange", "+60 De", "Normal"),
        ("Orange", "Clear", "Normal"),
    ]


def test_img_hdr_padding_and_twelve_fields_are_enough() -> None:
    text = "\t32088304.fts 2002/05/21 00:18:06 C3 19.1 1024 1024 20 1 Clear Clear Normal\r\n"
    [f] = parse_img_hdr(text).items
    assert f.detector is Detector.C3 and f.exptime == pytest.approx(19.1)


def test_img_hdr_malformed_lines_are_reported_with_line_numbers() -> None:
    lines = [
        L05_LINE,  # 1 ok
        "",  # 2 blank: skipped silently
        "22932722.fts  2024/01/01  00:12:05  C2  25.1  1024  1024  20  1  Orange  Clear",  # 3
        "22932723.fts  2024/02/30  00:24:05  C2  25.1  1024  1024  20  1  Orange Clear Normal",
        "22932724.fts  2024/01/01  25:00:00  C2  25.1  1024  1024  20  1  Orange Clear Normal",
        "22932725.fts  2024/01/01  00:48:05  C2  abc   1024  1024  20  1  Orange Clear Normal",
        "22932726.fts  2024/01/01  01:00:05  C2  25.1  1O24  1024  20  1  Orange Clear Normal",
        "../../x.fts   2024/01/01  01:12:05  C2  25.1  1024  1024  20  1  Orange Clear Normal",
        "22932728.fts  2024/01/01  01:24:05  C4  25.1  1024  1024  20  1  Orange Clear Normal",
        "32932729.fts  2024/01/01  01:36:05  C2  25.1  1024  1024  20  1  Orange Clear Normal",
        "22932730.fts  2024/01/01  01:48:05  C2  nan   1024  1024  20  1  Orange Clear Normal",
        "22932731.fts  2024/01/01  02:00:05  C2  25.1  -5    1024  20  1  Orange Clear Normal",
        "garbage",
        "22932733.fts  2024/01/01  02:24:05  C2  25.1  1024  1024  20  1  Orange  Clear  Normal"
        "  0.0000  4180",  # 14 ok
    ]
    result = parse_img_hdr("\n".join(lines))
    assert [f.name for f in result.items] == ["22932721.fts", "22932733.fts"]
    by_line = {p.line_no: p.reason for p in result.problems}
    assert sorted(by_line) == list(range(3, 14))
    assert "11 fields" in by_line[3]
    assert "bad date" in by_line[4]
    assert "bad date/time" in by_line[5] or "bad time" in by_line[5]
    assert "bad number" in by_line[6] and "bad number" in by_line[7]
    assert "path separator" in by_line[8]
    assert "unknown detector" in by_line[9]
    assert "does not start with 2" in by_line[10]
    assert "exposure" in by_line[11]
    assert "image size" in by_line[12]
    assert result.problems[0].line == lines[2]


def test_img_hdr_detector_filter() -> None:
    c3 = "32088304.fts 2002/05/21 00:18:06 C3 19.1 1024 1024 20 1 Clear Clear Normal"
    result = parse_img_hdr(L05_LINE + "\n" + c3, detector=Detector.C3)
    assert [f.name for f in result.items] == ["32088304.fts"]
    assert result.problems[0].line_no == 1 and "C2 in a C3 index" in result.problems[0].reason


# ----------------------------------------------------------------- listing


def _row(name: str, stamp: str) -> str:
    return (
        '<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td>'
        f'<td><a href="{name}">{name}</a></td><td align="right">{stamp}  </td>'
        '<td align="right">2.0M</td><td>&nbsp;</td></tr>'
    )


def _page(*rows: str) -> str:
    return "\n".join(
        [
            "<!DOCTYPE HTML PUBLIC>",
            "<html><head><title>Index of /pub/lasco/lastimage/level_05/240101/c2</title></head>",
            "<body><h1>Index of /pub/lasco/lastimage/level_05/240101/c2</h1><table>",
            '<tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a>'
            "</th></tr>",
            '<tr><td></td><td><a href="/pub/lasco/lastimage/level_05/240101/">Parent Directory'
            "</a></td><td>&nbsp;</td></tr>",
            *rows,
            "</table></body></html>",
        ]
    )


def test_listing_example_row_winter_is_est() -> None:
    html = _page(_row("22932721.fts", "2024-01-01 01:23"), _row("img_hdr.txt", "2024-01-01 01:30"))
    result = parse_listing(html)
    assert result.problems == []
    [e] = result.items
    assert e.name == "22932721.fts"
    assert e.modified_at == utc(2024, 1, 1, 6, 23)  # EST = UTC-5
    assert e.modified_at.tzinfo is UTC


def test_listing_summer_is_edt_and_old_pre_layout() -> None:
    pre = (
        '<img src="/icons/unknown.gif" alt="[   ]"> <a href="32088304.FTS">32088304.FTS</a>'
        "          21-May-2002 00:45  2.0M  "
    )
    result = parse_listing(_page(_row("22932721.fts", "2024-07-04 12:00:30")) + "\n" + pre)
    assert [(e.name, e.modified_at) for e in result.items] == [
        ("22932721.fts", utc(2024, 7, 4, 16, 0, 30)),  # EDT = UTC-4
        ("32088304.FTS", utc(2002, 5, 21, 4, 45)),  # the case is kept
    ]


def test_listing_spring_forward_2024_03_10() -> None:
    html = _page(
        _row("22000001.fts", "2024-03-10 01:59"),  # EST
        _row("22000002.fts", "2024-03-10 02:30"),  # does not exist: read as EST (documented)
        _row("22000003.fts", "2024-03-10 03:00"),  # EDT
    )
    got = [e.modified_at for e in parse_listing(html).items]
    assert got == [utc(2024, 3, 10, 6, 59), utc(2024, 3, 10, 7, 30), utc(2024, 3, 10, 7, 0)]


def test_listing_fall_back_2024_11_03() -> None:
    html = _page(
        _row("22000001.fts", "2024-11-03 00:59"),  # EDT
        _row("22000002.fts", "2024-11-03 01:30"),  # ambiguous: the later reading, EST
        _row("22000003.fts", "2024-11-03 02:00"),  # EST
    )
    got = [e.modified_at for e in parse_listing(html).items]
    assert got == [utc(2024, 11, 3, 4, 59), utc(2024, 11, 3, 6, 30), utc(2024, 11, 3, 7, 0)]
    # Whatever fold the caller passes, the later reading wins: never earlier than the truth.
    # (eastern_to_utc takes naive wall-clock times, hence the DTZ001 exemptions.)
    for fold in (0, 1):
        local = datetime(2024, 11, 3, 1, 30, fold=fold)  # noqa: DTZ001
        assert eastern_to_utc(local) == utc(2024, 11, 3, 6, 30)
    # An observation at 05:40Z (01:40 EDT) that arrived at 06:10Z (01:10 EST) must not
    # appear to have arrived before it was taken.
    assert eastern_to_utc(datetime(2024, 11, 3, 1, 10)) >= utc(2024, 11, 3, 6, 10)  # noqa: DTZ001


def test_listing_hostile_and_broken_entries_are_reported() -> None:
    html = _page(
        _row("22932721.fts", "2024-01-01 01:23"),
        _row("../../../etc/22932721.fts", "2024-01-01 01:23"),
        _row("%2e%2e%2f22932722.fts", "2024-01-01 01:23"),
        _row("/abs/22932723.fts", "2024-01-01 01:23"),
        _row("22932724.fts", "-"),
        _row("22932725.fts", "2024-13-01 01:23"),
        _row("notes.txt", "2024-01-01 01:23"),
    )
    result = parse_listing(html)
    assert [e.name for e in result.items] == ["22932721.fts"]
    reasons = [p.reason for p in result.problems]
    assert len(reasons) == 5
    assert "path separator" in reasons[0] and "path separator" in reasons[1]
    assert "absolute path" in reasons[2]
    assert "no valid time" in reasons[3] and "no valid time" in reasons[4]
    assert result.problems[0].line_no == 7


# ----------------------------------------------------------------- schedule

SCHEDULE = """<html><head><title>SOHO DSN schedule</title></head><body>
<h2>SOHO 14-day DSN schedule</h2>
<pre>
WK  DOY  DAY  DATE        BOT - EOT      ANT
--  ---  ---  ----------  -------------  ------

47  327  MON  2026-11-23  04:35 - 08:30  D24
47  327  MON  2026-11-23  22:10-01:40  DSS-65   (crosses midnight)
47  328  TUE  2026-11-24  12:00 - 12:00  D54
47  328  TUE  2026-11-24  25:00 - 26:00  D34
47  329  WED  2026-11-24  04:00 - 05:00  D34
this line: 10:00 - 11:00 is junk
</pre>
<p>Updated daily at 06:30 UT.</p></body></html>
"""


def test_schedule_rows_midnight_and_junk() -> None:
    result = parse_schedule(SCHEDULE)
    got = [(p.bot, p.eot, p.antenna) for p in result.items]
    assert got == [
        (utc(2026, 11, 23, 4, 35), utc(2026, 11, 23, 8, 30), "D24"),
        (utc(2026, 11, 23, 22, 10), utc(2026, 11, 24, 1, 40), "DSS-65"),
        (utc(2026, 11, 24, 12, 0), utc(2026, 11, 25, 12, 0), "D54"),  # EOT == BOT: next day
    ]
    assert result.items[0].raw == "47 327 MON 2026-11-23 04:35 - 08:30 D24"
    reasons = [p.reason for p in result.problems]
    assert len(reasons) == 2
    assert "bad time" in reasons[0]
    assert "day of year 329 does not match 2026-11-24" in reasons[1]
    assert result.problems[0].line_no == 10


def test_schedule_table_layout_and_year_hint() -> None:
    html = """<table>
<tr><th>Week</th><th>DOY</th></tr>
<tr>
  <td>1</td><td>366</td><td>THU</td><td>2026-12-31</td>
  <td>23:00 - 02:00</td><td>D43</td>
</tr>
<tr><td>52</td><td>365</td><td>THU</td><td>0100-0300</td><td>D65</td></tr>
</table>"""
    result = parse_schedule(html, year_hint=2026)
    # 2026 is not a leap year: 2026-12-31 is day 365, so the first row is reported.
    assert [p.line_no for p in result.problems] == [3]
    assert [(p.bot, p.eot, p.antenna) for p in result.items] == [
        (utc(2026, 12, 31, 1, 0), utc(2026, 12, 31, 3, 0), "D65")
    ]
    assert parse_schedule(html).items == []  # no date and no year hint: reported, not guessed
    leap = html.replace("366", "365").replace("2026-12-31", "2024-12-30")
    [first, _] = parse_schedule(leap, year_hint=2026).items
    assert (first.bot, first.eot) == (utc(2024, 12, 30, 23, 0), utc(2024, 12, 31, 2, 0))


def test_schedule_empty_and_tag_soup() -> None:
    assert parse_schedule("").items == []
    result = parse_schedule("<html><body><b>no passes scheduled</b>&nbsp;</body></html>")
    assert result.items == [] and result.problems == []


def test_archive_tz_is_defined_once_in_layout() -> None:
    from comet_pipeline.archive import layout, parsers
    from comet_pipeline.simulator import formats

    assert str(layout.ARCHIVE_TZ) == "America/New_York"
    assert parsers.ARCHIVE_TZ is layout.ARCHIVE_TZ and formats.ARCHIVE_TZ is layout.ARCHIVE_TZ
