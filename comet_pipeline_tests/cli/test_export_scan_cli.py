"""``comet-pipeline export`` and ``scan`` through their own parsers, on a tmp home."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import astropy.units as u
from astropy.table import Table

from comet_pipeline.cli import export as export_cli
from comet_pipeline.cli import scan as scan_cli
from comet_pipeline.domain import Detector, FileState
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PROCESSED_PNG
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline_tests.shared import HOUR, NOW, SEED


def _parse(module, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    assert args.command == module.NAME
    return args


def test_export_detections_to_a_file_and_frames_to_stdout(filled_store, settings, capsys):
    window = ["--since", "2025-06-10T00:00", "--until", "2025-06-11"]
    out = settings.home / "exports" / "frames.ecsv"
    args = _parse(
        export_cli, ["export", "frames", *window, "--format", "ecsv", "--output", str(out)]
    )
    assert export_cli.run(args, settings) == 0
    table = Table.read(out, format="ascii.ecsv")
    assert len(table) == 3 and table["naxis1"].unit == u.pix
    assert list(table["observed_at"]) == sorted(table["observed_at"])
    assert "exported 3 frames rows" in capsys.readouterr().err
    assert not list(out.parent.glob("*.part"))

    args = _parse(export_cli, ["export", "candidates", *window, "--detector", "c3"])
    assert export_cli.run(args, settings) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith("id,detector,first_seen_at")
    assert "c3-20250610-0001" in printed


def test_export_refuses_an_empty_window_and_a_missing_store(settings, capsys):
    args = _parse(export_cli, ["export", "files", "--since", "2025-06-11", "--until", "2025-06-10"])
    assert export_cli.run(args, settings) == 2
    args = _parse(export_cli, ["export", "files"])
    assert export_cli.run(args, settings) == 2  # no store in the home yet
    assert "no lifecycle store" in capsys.readouterr().err


def test_scan_reports_then_repair_sends_the_frame_back_audited(sqlite_store, settings, capsys):
    from comet_pipeline_tests.clocks import ManualClock

    clock = ManualClock(NOW)
    client = simulated_client(
        "sim://lasco",
        "sim://schedule",
        sim_archive=SimArchive(SimConfig(seed=SEED), clock=clock),
        backoff=0,
    )
    layout, end = settings.layout, HOUR + timedelta(hours=1)
    discover_window(sqlite_store, client, (Detector.C2,), HOUR, end, now=NOW, run_id="r")
    download_window(sqlite_store, client, layout.raw_dir, HOUR, end, clock=clock, owner="r")
    process_window(
        sqlite_store, FrameProcessor(layout.frames_dir), HOUR, end, clock=clock, owner="r"
    )
    frame = sqlite_store.frames_between(Detector.C2, HOUR, end)[0]

    assert scan_cli.run(_parse(scan_cli, ["scan"]), settings) == 0
    assert "0 products missing" in capsys.readouterr().out

    Path(frame.path(PROCESSED_PNG)).unlink()
    assert scan_cli.run(_parse(scan_cli, ["scan"]), settings) == 1
    printed = capsys.readouterr().out
    assert "1 products missing" in printed and frame.name in printed
    assert sqlite_store.get_file(frame.name).state is FileState.PROCESSED  # scan only reads

    assert scan_cli.run(_parse(scan_cli, ["scan", "--repair", "--no-fetch"]), settings) == 0
    assert "1 frames to re-process" in capsys.readouterr().out
    assert sqlite_store.get_file(frame.name).state is FileState.READY
    last = sqlite_store.transitions_for(frame.name)[-1]
    assert last.reason == f"scan: product(s) missing on disk: {PROCESSED_PNG}"
    assert last.run_id.startswith("scan-")
