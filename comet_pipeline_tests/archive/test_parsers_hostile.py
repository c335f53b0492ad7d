"""The parsers on hostile bodies: they return, find what is valid, and report in bounded text.

The shapes are those that made the old patterns quadratic (many ``<a `` or ``<tr`` or ``<``
with no ``>`` / ``</tr>`` after them). No timing is asserted (the figures are in
``benchmarks/bench_parsers.py``); each case here finishes in well under a second.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from comet_pipeline.archive.layout import file_url, validate_file_name
from comet_pipeline.archive.parsers import (
    MAX_LINE_CHARS,
    ParseProblem,
    parse_img_hdr,
    parse_listing,
    parse_schedule,
)
from comet_pipeline.domain.models import Detector

MB = 1_000_000
MAX_PROBLEM_TEXT = 300  # characters of reason or line a problem may carry

ROW = (
    '<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td>'
    '<td><a href="{name}">{name}</a></td><td align="right">{stamp}  </td>'
    '<td align="right">2.0M</td><td>&nbsp;</td></tr>'
)
PASS = "47  327  MON  2026-11-23  04:35 - 08:30  D24"
INDEX_LINE = (
    "22932721.fts    2024/01/01  00:00:05   C2    25.1   1024   1024     20      1  "
    "Orange  Clear   Normal       0.0000  4179"
)

# Repeated units that made the old patterns rescan the rest of the line or page.
UNITS = ["<a ", "<a href=", '<a href="', "<A\tx=1 ", "<tr>", "<TR class=x ", "<", "<p ", "<br "]


def _garbage(unit: str, size: int, line: int | None = None) -> str:
    """``size`` characters of ``unit`` repeated, on lines of about ``line`` characters."""
    if line is None:
        return (unit * (size // len(unit) + 1))[:size]
    one = unit * max(1, line // len(unit)) + "\n"
    return (one * (size // len(one) + 1))[:size]


def _assert_bounded(problems: list[ParseProblem]) -> None:
    for p in problems:
        assert len(p.reason) <= MAX_PROBLEM_TEXT and len(p.line) <= MAX_PROBLEM_TEXT


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ----------------------------------------------------------------- growing hostile input


@pytest.mark.parametrize("size", [100_000, 200_000, 400_000])
@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("line", [None, 1000])
def test_hostile_bodies_parse_to_nothing_in_bounded_problems(
    unit: str, size: int, line: int | None
) -> None:
    text = _garbage(unit, size, line)
    listing, schedule = parse_listing(text), parse_schedule(text)
    assert listing.items == [] and schedule.items == []
    _assert_bounded(listing.problems + schedule.problems)
    index = parse_img_hdr(text)
    assert index.items == []
    _assert_bounded(index.problems)


# ----------------------------------------------------------------- valid text after garbage


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("line", [None, 4096, 8])  # 8: ~125,000 lines, under MAX_LINES
def test_listing_after_a_megabyte_of_garbage_still_yields_its_entries(
    unit: str, line: int | None
) -> None:
    garbage = _garbage(unit, MB, line).rstrip("\n")
    rows = [
        ROW.format(name="22932721.fts", stamp="2024-01-01 01:23"),
        ROW.format(name="../22932722.fts", stamp="2024-01-01 01:35"),
        ROW.format(name="22932723.FTS", stamp="2024-07-04 12:00:30"),
    ]
    html = garbage + "\n<table>\n" + "\n".join(rows) + "\n</table>\n"
    result = parse_listing(html)
    assert [(e.name, e.modified_at) for e in result.items] == [
        ("22932721.fts", utc(2024, 1, 1, 6, 23)),
        ("22932723.FTS", utc(2024, 7, 4, 16, 0, 30)),
    ]
    first_row = html.count("\n", 0, html.index("<table>")) + 2
    [bad] = [p for p in result.problems if "22932722" in p.reason]
    assert bad.line_no == first_row + 1 and "path separator" in bad.reason
    _assert_bounded(result.problems)


def test_listing_link_at_the_end_of_a_long_garbage_line_is_found() -> None:
    line = _garbage("<a ", 900_000) + ROW.format(name="22932721.fts", stamp="2024-01-01 01:23")
    assert len(line) < MAX_LINE_CHARS
    result = parse_listing("<html>\n" + line + "\n</html>")
    assert [e.name for e in result.items] == ["22932721.fts"] and result.problems == []


@pytest.mark.parametrize("unit", ["<tr>", "<tr ", "<a ", "<", "<p ", "<br "])
@pytest.mark.parametrize("line", [None, 4096])
def test_schedule_after_a_megabyte_of_garbage_still_yields_its_passes(
    unit: str, line: int | None
) -> None:
    garbage = _garbage(unit, MB, line)
    html = f"{garbage}\n<pre>\n{PASS}\n47  328  TUE  2026-11-24  25:00 - 26:00  D34\n</pre>\n"
    result = parse_schedule(html)
    assert [(p.bot, p.eot, p.antenna) for p in result.items] == [
        (utc(2026, 11, 23, 4, 35), utc(2026, 11, 23, 8, 30), "D24")
    ]
    [bad] = result.problems
    assert "bad time" in bad.reason
    assert bad.line_no == html.count("\n", 0, html.index("47  328")) + 1


def test_schedule_table_after_garbage_and_digits_behind_a_character_reference() -> None:
    rows = (
        "<table>\n<tr><td>1</td><td>366</td><td>THU</td><td>2026-12-31</td>\n"
        "<td>23:00 - 02:00</td><td>D43</td></tr>\n"
        "<tr><td>52</td><td>365</td><td>THU</td><td>0100-0300</td><td>D65</td></tr>\n</table>"
    )
    html = _garbage("<a ", MB, 2048) + "\n" + rows + "\n&#52;7 327 MON 2026-11-23 04:35-08:30 D24"
    result = parse_schedule(html, year_hint=2026)
    assert [(p.bot, p.antenna) for p in result.items] == [
        (utc(2026, 11, 23, 4, 35), "D24"),  # "&#52;" is "4": the line has no plain digit
        (utc(2026, 12, 31, 1, 0), "D65"),
    ]
    [bad] = result.problems  # 2026 has no day 366
    assert bad.line_no == html.count("\n", 0, html.index("<tr><td>1<")) + 1


def test_img_hdr_after_garbage_still_yields_its_files() -> None:
    garbage = _garbage("<a ", MB, 4096).rstrip("\n") + "\n"
    result = parse_img_hdr(garbage + INDEX_LINE + "\n")
    assert [f.name for f in result.items] == ["22932721.fts"]
    assert len(result.problems) == garbage.count("\n")
    _assert_bounded(result.problems)


# ----------------------------------------------------------------- over-long lines


def _assert_one_too_long(problems: list[ParseProblem], length: int, line_no: int = 1) -> None:
    [p] = problems
    assert p.line_no == line_no
    assert "too long" in p.reason and f"{length:,}" in p.reason
    assert len(p.line) <= MAX_PROBLEM_TEXT and f"({length:,} characters)" in p.line


def test_a_19_mb_junk_line_in_img_hdr_is_one_short_problem() -> None:
    junk = "22932721.fts " + "x" * 19_000_000
    result = parse_img_hdr(INDEX_LINE + "\n" + junk + "\n" + INDEX_LINE.replace("21", "22", 1))
    assert [f.name for f in result.items] == ["22932721.fts", "22932722.fts"]
    _assert_one_too_long(result.problems, len(junk), line_no=2)


@pytest.mark.parametrize("unit", ["<a ", "<a href=", "<tr>", "<"])
def test_an_over_long_listing_or_schedule_line_is_one_short_problem(unit: str) -> None:
    junk = _garbage(unit, 2 * MB)
    listing = parse_listing(f"{junk}\n{ROW.format(name='22932721.fts', stamp='2024-01-01 01:23')}")
    assert [e.name for e in listing.items] == ["22932721.fts"]
    _assert_one_too_long(listing.problems, len(junk))
    # (a <tr> never closed leaves the rest of the page as plain lines, the first too long)
    schedule = parse_schedule(f"{junk}\n<pre>\n{PASS}\n</pre>")
    assert [p.antenna for p in schedule.items] == ["D24"]
    _assert_one_too_long(schedule.problems, len(junk))


def test_an_over_long_table_row_is_one_short_problem() -> None:
    row = "<tr><td>" + "x" * (2 * MB) + "</td></tr>"
    result = parse_schedule(f"<table>\n{row}\n<tr><td>{PASS}</td></tr></table>")
    assert [p.antenna for p in result.items] == ["D24"]
    [p] = result.problems
    assert p.line_no == 2 and "row too long" in p.reason and len(p.line) <= MAX_PROBLEM_TEXT


def test_long_fields_and_hrefs_below_the_line_cap_give_bounded_reasons() -> None:
    long_date = "2024/" + "1" * 500_000
    index = parse_img_hdr(INDEX_LINE.replace("2024/01/01", long_date))
    [p] = index.problems
    assert "bad date" in p.reason and len(p.reason) <= MAX_PROBLEM_TEXT
    assert f"({len(long_date) + 2:,} characters)" not in p.line  # the line is clipped itself
    assert len(p.line) <= MAX_PROBLEM_TEXT
    href = "../" + "9" * 500_000 + ".fts"
    listing = parse_listing(ROW.format(name=href, stamp="2024-01-01 01:23"))
    [q] = listing.problems
    assert "path separator" in q.reason and len(q.reason) <= MAX_PROBLEM_TEXT


def test_problem_text_is_bounded_wherever_it_is_built() -> None:
    p = ParseProblem(3, "r" * 10_000, "l" * 19_000_000)
    assert len(p.reason) <= MAX_PROBLEM_TEXT and len(p.line) <= MAX_PROBLEM_TEXT
    assert p.line.endswith("(19,000,000 characters)") and p.line.startswith("l" * 200)
    assert len(repr(p)) < 2 * MAX_PROBLEM_TEXT + 100  # what a step's error list records
    short = ParseProblem(1, "reason", "a short line")
    assert (short.reason, short.line) == ("reason", "a short line")


# ----------------------------------------------------------------- names keep their case


def test_upper_case_names_keep_their_case_in_index_listing_and_url() -> None:
    upper = INDEX_LINE.replace("22932721.fts", "23145543.FTS")
    [f] = parse_img_hdr(upper).items
    assert f.name == "23145543.FTS"
    listing = parse_listing(ROW.format(name="23145543.FTS", stamp="2024-01-01 01:23"))
    assert [e.name for e in listing.items] == ["23145543.FTS"]
    assert validate_file_name("23145543.Fts") == "23145543.Fts"
    assert file_url("https://h/l05", f.observed_at.date(), Detector.C2, f.name) == (
        "https://h/l05/240101/c2/23145543.FTS"
    )


# ----------------------------------------------------------------- line numbers


def test_listing_line_numbers_follow_str_splitlines_across_skipped_lines() -> None:
    breaks = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028"]
    parts: list[str] = []
    for i, br in enumerate(breaks * 3):
        parts += ["junk <a " * (i % 4), br]
        parts += [ROW.format(name=f"2293{i:04d}.fts", stamp="2024-01-01 01:2"), br]  # no time
    html = "".join(parts)
    expected = [n for n, line in enumerate(html.splitlines(), 1) if "href" in line]
    assert [p.line_no for p in parse_listing(html).problems] == expected


@pytest.mark.parametrize("parse", [parse_img_hdr, parse_listing, parse_schedule])
def test_a_page_of_millions_of_lines_is_read_only_up_to_the_line_cap(parse):
    from comet_pipeline.archive.parsers import MAX_LINES

    result = parse("1 junk\n" * (MAX_LINES + 500))
    capped = [p for p in result.problems if "the rest was not read" in p.reason]
    assert len(capped) == 1 and f"{MAX_LINES:,}" in capped[0].reason
    assert len(result.problems) <= MAX_LINES + 1
