"""The published text formats, byte for byte, and read back by the project's own parsers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from comet_pipeline.archive.parsers import parse_img_hdr, parse_listing, parse_schedule
from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator import SimArchive
from comet_pipeline.simulator.formats import apache_size, eastern, img_hdr_line, schedule_row
from comet_pipeline.simulator.operations import SimObservation, SimPass, passes_between
from comet_pipeline.simulator.render import fits_size
from comet_pipeline_tests.simulator.conftest import DAY

EXAMPLE = (
    "22932721.fts    2024/01/01  00:00:05   C2    25.1   1024   1024     20      1  "
    "Orange  Clear   Normal       0.0000  4179"
)


def _obs(**kw: object) -> SimObservation:
    base = dict(
        name="22932721.fts",
        detector=Detector.C2,
        observed_at=datetime(2024, 1, 1, 0, 0, 5, 516000, tzinfo=UTC),
        exptime=25.1,
        naxis1=1024,
        naxis2=1024,
        binning=1,
        filter="Orange",
        polarizer="Clear",
        program="Normal",
        arrived_at=datetime(2024, 1, 1, 1, 23, tzinfo=UTC),
        os_num=4179,
    )
    base.update(kw)
    return SimObservation(**base)  # type: ignore[arg-type]


def test_img_hdr_line_matches_the_published_example_exactly() -> None:
    assert img_hdr_line(_obs()) == EXAMPLE


def test_img_hdr_line_c3_fields() -> None:
    line = img_hdr_line(
        _obs(name="32088304.fts", detector=Detector.C3, exptime=19.0996, filter="Clear")
    )
    assert line.split() == [
        "32088304.fts", "2024/01/01", "00:00:05", "C3", "19.1", "1024", "1024", "20", "1",
        "Clear", "Clear", "Normal", "0.0000", "4179",
    ]  # fmt: skip
    assert len(line) == len(EXAMPLE)


def test_the_archive_index_parses_cleanly(archive: SimArchive) -> None:
    for det in Detector:
        text = archive.img_hdr_text(DAY, det)
        parsed = parse_img_hdr(text, detector=det)
        assert parsed.problems == []
        arrived = archive.arrived(DAY, det)
        assert [f.name for f in parsed.items] == [o.name for o in arrived]
        for f, o in zip(parsed.items, arrived, strict=True):
            assert f.observed_at == o.observed_at.replace(microsecond=0)
            assert (f.naxis1, f.filter, f.polarizer, f.program) == (
                o.naxis1,
                o.filter,
                o.polarizer,
                o.program,
            )


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "  0 "),
        (972, "972 "),
        (973, "1.0K"),
        (11_264, " 11K"),
        (2_105_280, "2.0M"),
        (532_800, "520K"),
    ],
)
def test_apache_sizes(size: int, text: str) -> None:
    assert apache_size(size) == text


def test_listing_times_are_us_eastern_and_parse_back(archive: SimArchive) -> None:
    html = archive.listing_html(DAY, Detector.C2)
    assert "<title>Index of /pub/lasco/lastimage/level_05/240305/c2</title>" in html
    assert 'href="img_hdr.txt"' in html
    parsed = parse_listing(html)
    assert parsed.problems == []
    arrived = {o.name: o for o in archive.arrived(DAY, Detector.C2)}
    assert {e.name for e in parsed.items} == set(arrived)
    for e in parsed.items:
        assert e.modified_at == arrived[e.name].arrived_at.replace(second=0)
    o = next(iter(arrived.values()))
    row = next(line for line in html.splitlines() if f'href="{o.name}"' in line)
    assert f'<td align="right">{eastern(o.arrived_at)}  </td>' in row
    assert f'<td align="right">{apache_size(fits_size(o))}</td>' in row
    # March 5 is EST: UTC-5
    assert eastern(datetime(2024, 3, 5, 12, 0, tzinfo=UTC)) == "2024-03-05 07:00"
    assert eastern(datetime(2024, 7, 5, 12, 0, tzinfo=UTC)) == "2024-07-05 08:00"


def test_schedule_row_format_and_midnight() -> None:
    p = SimPass(
        datetime(2026, 11, 23, 4, 35, tzinfo=UTC), datetime(2026, 11, 23, 8, 30, tzinfo=UTC), "D24"
    )
    assert schedule_row(p) == "47  327  MON  2026-11-23  04:35 - 08:30  D24"
    late = SimPass(p.bot.replace(hour=22), p.bot.replace(hour=22) + timedelta(hours=3), "DSS-65")
    assert schedule_row(late).endswith("22:35 - 01:35  DSS-65")


def test_schedule_page_parses_back_to_the_passes(archive: SimArchive, clock) -> None:
    clock.now = datetime(2024, 3, 5, 12, tzinfo=UTC)
    parsed = parse_schedule(archive.schedule_html())
    assert parsed.problems == []
    want = passes_between(archive.config, DAY, DAY + timedelta(days=13))
    assert [(p.bot, p.eot, p.antenna) for p in parsed.items] == [
        (p.bot, p.eot, p.antenna) for p in want
    ]
    assert any(p.eot.date() > p.bot.date() for p in parsed.items)
