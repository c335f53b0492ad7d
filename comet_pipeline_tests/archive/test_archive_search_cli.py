"""``comet-pipeline archive search``: per-day counts equal to what the simulator lists."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

import pytest

from comet_pipeline.archive.layout import ArchiveTree, tree_for_day
from comet_pipeline.cli import archive as archive_cli
from comet_pipeline.domain import Detector, utcnow
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    archive_cli.add_parser(sub)
    return parser.parse_args(argv)


def _rows(out: str) -> dict[str, list[str]]:
    """The table's rows by their first cell (day or 'total')."""
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and (cells[0] == "total" or cells[0][:2] == "20"):
            rows[cells[0]] = cells[1:]
    return rows


def test_search_prints_per_day_counts_equal_to_the_simulators_listing(settings, capsys):
    # The CLI's simulator runs on wall time: a long-term range (well outside the window)
    # and a near-real-time day (old enough that everything has arrived).
    today = utcnow().date()
    old = datetime.combine(today - timedelta(days=45), datetime.min.time(), tzinfo=UTC)
    recent = datetime.combine(today - timedelta(days=4), datetime.min.time(), tzinfo=UTC)
    sim = SimArchive(SimConfig(seed=0))  # the CLI's: sim://lasco is nominal, seed 0
    for since, days in ((old, 2), (recent, 1)):
        until = since + timedelta(days=days)
        args = _parse(
            [
                "archive",
                "search",
                "--detector",
                "c3",
                "--since",
                since.isoformat(),
                "--until",
                until.isoformat(),
            ]
        )
        assert args.command == archive_cli.NAME
        assert archive_cli.run(args, settings) == 0
        out = capsys.readouterr().out
        rows = _rows(out)
        want_total = [0, 0, 0]
        for i in range(days):
            day = (since + timedelta(days=i)).date()
            listed = sim.arrived(day, Detector.C3)
            assert listed
            synoptic = sum(1 for o in listed if o.synoptic)
            want = [len(listed), synoptic, len(listed) - synoptic]
            tree = tree_for_day(day, utcnow())
            assert rows[day.isoformat()] == [tree.value, *map(str, want)]
            want_total = [a + b for a, b in zip(want_total, want, strict=True)]
        assert rows["total"] == [str(n) for n in want_total]
        expected_tree = ArchiveTree.LONG_TERM if since == old else ArchiveTree.NEAR_REAL_TIME
        assert f"{expected_tree.value}: sim://lasco" in out
    assert not list(settings.home.rglob("*.fts"))  # nothing downloaded


def test_search_counts_only_the_window_within_a_day(settings, capsys):
    day = datetime.combine(utcnow().date() - timedelta(days=40), datetime.min.time(), tzinfo=UTC)
    since, until = day + timedelta(hours=6), day + timedelta(hours=9)
    args = _parse(
        [
            "archive",
            "search",
            "--detector",
            "c2",
            "--since",
            since.isoformat(),
            "--until",
            until.isoformat(),
        ]
    )
    assert archive_cli.run(args, settings) == 0
    rows = _rows(capsys.readouterr().out)
    listed = [
        o
        for o in SimArchive(SimConfig(seed=0)).arrived(day.date(), Detector.C2)
        if since <= o.observed_at < until
    ]
    assert rows[f"{day.date()}"][1] == str(len(listed)) and 10 < len(listed) < 40


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "2025-06-02", "--until", "2025-06-01"], "--since must be before --until"),
        (["--since", "2020-01-01", "--until", "2025-01-01"], "at most"),
    ],
)
def test_search_rejects_bad_ranges(settings, capsys, argv, message):
    args = _parse(["archive", "search", "--detector", "c3", *argv])
    assert archive_cli.run(args, settings) == 2
    assert message in capsys.readouterr().err


def test_search_needs_a_detector_and_a_start(capsys):
    with pytest.raises(SystemExit):
        _parse(["archive", "search", "--since", "2025-06-01"])
    with pytest.raises(SystemExit):
        _parse(["archive", "search", "--detector", "c3"])
    assert "required" in capsys.readouterr().err
