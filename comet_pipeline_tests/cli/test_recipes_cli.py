"""``comet-pipeline recipes``: the listing, and a window ingested with a chosen recipe."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import pytest

from comet_pipeline.cli import recipes as recipes_cli
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.settings import Settings
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.shared import HOUR


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    recipes_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_list_prints_every_preset_and_stars_what_it_changes(settings, capsys):
    assert recipes_cli.run(_parse(["recipes", "list"]), settings) == 0
    out = capsys.readouterr().out
    for name in ("default", "faint-c3", "fast-c2", "clean-movie"):
        assert f"\n{name} " in f"\n{out}"
    default_block = out.split("faint-c3")[0]
    assert "*" not in default_block.split("\n* ")[0]  # default changes nothing
    assert "history=20*" in out and "threshold=3*" in out and "min_score=10*" in out
    assert recipes_cli.run(_parse(["recipes", "list", "fast-c2"]), settings) == 0
    only = capsys.readouterr().out
    assert "max_gap_min=25*" in only and "faint-c3" not in only


def test_an_unknown_name_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        _parse(["recipes", "list", "faint"])
    assert "no recipe 'faint'" in capsys.readouterr().err


def test_run_ingests_the_window_with_the_recipe(tmp_path: Path, capsys):
    settings = Settings(home=tmp_path / "home", detectors=(Detector.C3,))
    until = HOUR + timedelta(hours=1)
    args = _parse(["recipes", "run", "fast-c2", "--hours", "1", "--until", until.isoformat()])
    assert recipes_cli.run(args, settings) == 0
    assert "recipe fast-c2" in capsys.readouterr().out
    frames = SQLiteStore(settings.layout.lifecycle_db).frames_between(Detector.C3, HOUR, until)
    assert frames
    for frame in frames:
        header = read_image(Path(frame.path("calibrated") or ""))[1]
        assert header["RECIPE"] == "fast-c2" and header["RCPHIST"] == 6
