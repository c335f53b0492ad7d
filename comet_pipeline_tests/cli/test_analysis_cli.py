"""``comet-pipeline analyse``: each subcommand on a home with a simulated comet, hunted."""

from __future__ import annotations

import argparse

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from comet_pipeline.cli import analysis
from comet_pipeline.imaging.regions import NOISE_SIGMA
from comet_pipeline.ingest.analysis import read_table
from comet_pipeline.settings import Settings
from comet_pipeline_tests.ingest.comet_home import CometHome, build_comet_home


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> CometHome:
    return build_comet_home(tmp_path_factory.mktemp("comet"))


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    analysis.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args([analysis.NAME, *argv])
    assert args.command == analysis.NAME
    return analysis.run(args, settings)


def test_region_prints_the_figures_of_a_box_and_an_annulus(home, capsys):
    name = sorted(home.truth)[0]
    x, y, _ = home.truth[name]
    assert (
        _run(
            home.settings,
            "region",
            "--frame",
            name,
            "--annulus",
            "0",
            "3",
            "--center",
            f"{round(x)}",
            f"{round(y)}",
        )
        == 0
    )
    out = capsys.readouterr().out
    lines = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert lines["region"].startswith("annulus 0 <= r < 3 px around")
    assert int(lines["count"]) == 25  # r < 3 around a pixel centre: 25 pixel centres
    assert float(lines["max"]) > 5  # the comet
    assert "[sigma]" in lines["frame"]

    assert (
        _run(
            home.settings,
            "region",
            "--frame",
            name,
            "--box",
            "300",
            "400",
            "309",
            "409",
            "--product",
            "calibrated",
        )
        == 0
    )
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.strip().splitlines())
    assert int(lines["count"]) == 100 and "[DN / s]" in lines["frame"]
    assert float(lines["median"]) > 0

    assert _run(home.settings, "region", "--frame", name, "--annulus", "100", "120") == 0
    assert "around (5" in capsys.readouterr().out  # the Sun centre, near the middle


def test_region_refuses_what_it_cannot_measure(home, capsys):
    name = sorted(home.truth)[0]
    assert _run(home.settings, "region", "--frame", "nope.fts", "--box", "0", "0", "1", "1") == 1
    assert "no processed frame named 'nope.fts'" in capsys.readouterr().err
    assert _run(home.settings, "region", "--frame", name, "--annulus", "5", "2") == 2
    assert (
        _run(
            home.settings,
            "region",
            "--frame",
            name,
            "--box",
            "0",
            "0",
            "1",
            "1",
            "--center",
            "1",
            "1",
        )
        == 2
    )
    with pytest.raises(SystemExit):  # argparse: one shape, not both
        _run(
            home.settings,
            "region",
            "--frame",
            name,
            "--box",
            "0",
            "0",
            "1",
            "1",
            "--annulus",
            "1",
            "2",
        )


def test_lightcurve_writes_ecsv_and_png(home, tmp_path, capsys):
    assert _run(home.settings, "lightcurve", home.candidate.id, "--output", str(tmp_path)) == 0
    ecsv, png = (line for line in capsys.readouterr().out.strip().splitlines())
    table = read_table(ecsv)
    assert len(table) == home.candidate.n_frames and table["flux"].unit == NOISE_SIGMA
    assert png.endswith(".png") and (tmp_path / f"{home.candidate.id}.lightcurve.png").exists()
    assert _run(home.settings, "lightcurve", "C3-nothing") == 1
    assert "no candidate" in capsys.readouterr().err


def test_lightcurve_defaults_to_the_products_folder(home, capsys):
    assert _run(home.settings, "lightcurve", home.candidate.id) == 0
    folder = home.settings.layout.products_dir / "analysis" / "lightcurves"
    assert (folder / f"{home.candidate.id}.lightcurve.ecsv").exists()
    capsys.readouterr()


def test_sources_as_ecsv_on_stdout_and_votable_to_a_file(home, tmp_path, capsys):
    name = sorted(home.truth)[len(home.truth) // 2]
    assert _run(home.settings, "sources", "--frame", name) == 0
    captured = capsys.readouterr()
    with u.add_enabled_units([NOISE_SIGMA]):
        table = Table.read(captured.out, format="ascii.ecsv")
    x, y, _ = home.truth[name]
    assert np.hypot(table["x"] - x, table["y"] - y).min() <= 2.0
    assert f"{len(table)} sources on {name}" in captured.err
    out = tmp_path / "sources.xml"
    assert (
        _run(home.settings, "sources", "--frame", name, "--format", "votable", "--output", str(out))
        == 0
    )
    assert len(read_table(out)) == len(table)
    assert _run(home.settings, "sources", "--frame", name, "--format", "votable") == 0
    assert capsys.readouterr().out.lstrip().startswith("<?xml")


def test_stats_by_time_as_text_and_ecsv(home, tmp_path, capsys):
    window = ["--since", home.start.isoformat(), "--until", home.end.isoformat()]
    assert _run(home.settings, "stats", "--detector", "c3", *window) == 0
    captured = capsys.readouterr()
    assert "noise_sigma" in captured.out.splitlines()[0]
    n = int(captured.err.split()[1])
    assert n > 10 and len(captured.out.strip().splitlines()) == n + 3  # names, units, rule
    out = tmp_path / "stats.ecsv"
    assert _run(home.settings, "stats", *window, "--format", "ecsv", "--output", str(out)) == 0
    table = read_table(out)
    assert len(table) == n and table["median"].unit == u.Unit("DN/s")
    capsys.readouterr()
    assert (
        _run(
            home.settings,
            "stats",
            "--since",
            home.end.isoformat(),
            "--until",
            home.start.isoformat(),
        )
        == 2
    )


def test_analyse_without_a_store_says_so(tmp_path, capsys):
    settings = Settings(home=tmp_path / "empty")
    assert _run(settings, "stats") == 2
    assert "no lifecycle store" in capsys.readouterr().err
