"""``comet-pipeline analyse``: each subcommand on a home with a simulated comet, hunted."""

from __future__ import annotations

import argparse
import shutil

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

from comet_pipeline.cli import analysis
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.regions import NOISE_SIGMA
from comet_pipeline.ingest.analysis import read_table
from comet_pipeline.ingest.source_tables import source_table_path
from comet_pipeline.settings import Settings
from comet_pipeline.store import SQLiteStore
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
    assert f"{len(table)} sources on {name}, read from the table the hunt saved" in captured.err
    out = tmp_path / "sources.xml"
    assert (
        _run(home.settings, "sources", "--frame", name, "--format", "votable", "--output", str(out))
        == 0
    )
    assert len(read_table(out)) == len(table)
    assert _run(home.settings, "sources", "--frame", name, "--format", "votable") == 0
    assert capsys.readouterr().out.lstrip().startswith("<?xml")


def _saved_table_path(home: CometHome, name: str):
    store = SQLiteStore(home.settings.layout.lifecycle_db)
    try:
        frame = store.frame(name)
    finally:
        store.close()
    assert frame is not None
    return source_table_path(
        home.settings.layout.products_dir, Detector.C3, frame.name, frame.observed_at
    )


def _stdout_table(out: str) -> Table:
    with u.add_enabled_units([NOISE_SIGMA]):
        return Table.read(out, format="ascii.ecsv")


def _same_rows(a: Table, b: Table) -> None:
    assert a.colnames == b.colnames and len(a) == len(b) > 0
    for name in a.colnames:
        np.testing.assert_array_equal(a[name], b[name])
        assert a[name].unit == b[name].unit, name


def test_sources_reads_the_hunts_table_and_detects_only_without_one(home, tmp_path, capsys):
    name = sorted(home.truth)[0]
    saved = _saved_table_path(home, name)
    assert saved.is_file()  # the home's hourly hunt wrote it
    assert _run(home.settings, "sources", "--frame", name) == 0
    captured = capsys.readouterr()
    assert f"read from the table the hunt saved, {saved}" in captured.err
    from_file = _stdout_table(captured.out)
    _same_rows(from_file, read_table(saved))
    assert from_file.meta["frame"] == name

    # --detect: detected now, on the processed product; the hunter's lists are the same
    assert _run(home.settings, "sources", "--frame", name, "--detect") == 0
    captured = capsys.readouterr()
    assert "detected now on its processed product" in captured.err
    assert "saved" not in captured.err
    _same_rows(_stdout_table(captured.out), from_file)

    # a home whose hunt saved no table (same store, no products folder): detected, and said
    bare = Settings(home=tmp_path / "bare", detectors=(Detector.C3,))
    bare.home.mkdir()
    shutil.copy(home.settings.layout.lifecycle_db, bare.layout.lifecycle_db)
    assert _run(bare, "sources", "--frame", name, "--format", "votable") == 0
    captured = capsys.readouterr()
    assert "detected now on its processed product (the hunt saved no table" in captured.err
    out = tmp_path / "detected.xml"
    out.write_text(captured.out, encoding="utf-8")
    _same_rows(read_table(out), from_file)


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
