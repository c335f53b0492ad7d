"""``comet-pipeline analyse``: measure what the pipeline wrote, without a viewer.

* ``region --frame NAME (--box X0 Y0 X1 Y1 | --annulus R0 R1 [--center X Y])
  [--product processed|calibrated]``: count, mean, median, std, robust sigma, min, max,
  sum of a box (corners included) or an annulus (around the Sun centre unless given);
* ``lightcurve CANDIDATE_ID [--output DIR]``: aperture flux and SNR per detection, as
  ECSV + PNG (default ``COMET_HOME/products/analysis/lightcurves``);
* ``sources --frame NAME [--format ecsv|votable] [--output PATH] [--detect]``: the
  hunter's per-frame sources of the frame: the table the hourly hunt saved
  (``COMET_HOME/products/sources/...``) when there is one, else detected now on the frame's
  processed product (``--detect``: always detect); stdout unless ``--output``;
* ``stats [--detector c3] [--since --until] [--format text|ecsv] [--output PATH]``: the
  per-frame statistics the frames table keeps.

Positions are FITS array pixels, x = column, y = row, 0-based, (0, 0) at the lower left
(the viewer's crosshair readout). Tables go to stdout, messages to stderr.
"""

from __future__ import annotations

import argparse
import io
import sys
from datetime import timedelta
from pathlib import Path

from astropy.table import Table

from comet_pipeline.cli.main import _time_arg
from comet_pipeline.cli.reports import open_for_reading
from comet_pipeline.domain import Detector, utcnow
from comet_pipeline.imaging.products import CALIBRATED, PROCESSED
from comet_pipeline.ingest.analysis import (
    TABLE_FORMATS,
    AnalysisError,
    Annulus,
    Box,
    RegionResult,
    frame_sources_saved_or_detected,
    frame_stats_table,
    region_statistics,
    votable_bytes,
    write_table,
)
from comet_pipeline.ingest.lightcurve import light_curve, write_light_curve
from comet_pipeline.settings import Settings
from comet_pipeline.store import LifecycleStore

NAME = "analyse"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, help="region statistics, light curves, sources, frame stats")
    what = parser.add_subparsers(dest="analysis_command", required=True)

    region = what.add_parser("region", help="statistics of a box or an annulus of a frame")
    region.add_argument("--frame", required=True, help="archive file name, e.g. 32193405.fts")
    shape = region.add_mutually_exclusive_group(required=True)
    shape.add_argument(
        "--box", nargs=4, type=int, metavar=("X0", "Y0", "X1", "Y1"), help="corners, included"
    )
    shape.add_argument(
        "--annulus", nargs=2, type=float, metavar=("R0", "R1"), help="R0 <= r < R1 px"
    )
    region.add_argument(
        "--center", nargs=2, type=float, metavar=("X", "Y"), help="annulus centre (default Sun)"
    )
    region.add_argument("--product", choices=(PROCESSED, CALIBRATED), default=PROCESSED)

    curve = what.add_parser("lightcurve", help="a candidate's flux and SNR per frame")
    curve.add_argument("candidate_id")
    curve.add_argument("--output", type=Path, default=None, help="folder for ECSV + PNG")

    sources = what.add_parser(
        "sources", help="the hunter's sources on one frame (the hunt's saved table, if any)"
    )
    sources.add_argument("--frame", required=True, help="archive file name")
    sources.add_argument("--format", choices=TABLE_FORMATS, default="ecsv")
    sources.add_argument("--output", type=Path, default=None, help="a file (default stdout)")
    sources.add_argument(
        "--detect",
        action="store_true",
        help="detect on the processed product even when the hunt saved a table",
    )

    stats = what.add_parser("stats", help="the frames table's per-frame statistics")
    stats.add_argument("--detector", choices=[d.value for d in Detector], default="c3")
    stats.add_argument("--since", type=_time_arg, default=None, help="default a day back")
    stats.add_argument("--until", type=_time_arg, default=None, help="default now + 1 h")
    stats.add_argument("--format", choices=("text", "ecsv"), default="text")
    stats.add_argument("--output", type=Path, default=None, help="a file (default stdout)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = open_for_reading(settings)
    if store is None:
        return 2
    try:
        if args.analysis_command == "region":
            return _region(args, store)
        if args.analysis_command == "lightcurve":
            folder = args.output or settings.layout.products_dir / "analysis" / "lightcurves"
            files = write_light_curve(light_curve(store, args.candidate_id), folder)
            print(files.table)
            print(files.plot)
            print(
                f"comet-pipeline: {files.rows} detections, {files.measured} measured",
                file=sys.stderr,
            )
            return 0
        if args.analysis_command == "sources":
            table, saved = frame_sources_saved_or_detected(
                store, settings.layout.products_dir, args.frame, detect=args.detect
            )
            _emit(table, args.format, args.output)
            origin = (
                f"read from the table the hunt saved, {saved}"
                if saved is not None
                else "detected now on its processed product"
                + ("" if args.detect else " (the hunt saved no table of it)")
            )
            print(
                f"comet-pipeline: {len(table)} sources on {args.frame}, {origin}",
                file=sys.stderr,
            )
            return 0
        if args.analysis_command == "stats":
            return _stats(args, store)
    except AnalysisError as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 1
    finally:
        store.close()
    raise AssertionError(f"unknown analyse command {args.analysis_command!r}")


def _region(args: argparse.Namespace, store: LifecycleStore) -> int:
    if args.box is not None:
        if args.center is not None:
            print("comet-pipeline: --center goes with --annulus", file=sys.stderr)
            return 2
        region: Box | Annulus = Box(*args.box)
    else:
        r0, r1 = args.annulus
        if not 0 <= r0 < r1:
            print("comet-pipeline: --annulus needs 0 <= R0 < R1", file=sys.stderr)
            return 2
        cx, cy = args.center if args.center is not None else (None, None)
        region = Annulus(r0, r1, cx, cy)
    print(region_text(region_statistics(store, args.frame, region, product=args.product)))
    return 0


def region_text(result: RegionResult) -> str:
    """The figures one per line, with the product's unit."""
    s = result.stats
    unit = result.unit.to_string()
    lines = [
        f"frame     {result.frame} ({result.detector.value}, {result.observed_at:%Y-%m-%d %H:%M:%S}"
        f" UT), {result.product} [{unit}]",
        f"region    {result.describe()}",
        f"count     {s.count}",
    ]
    for key in ("mean", "median", "std", "mad_sigma", "min", "max", "sum"):
        lines.append(f"{key:<9} {getattr(s, key):.6g}")
    return "\n".join(lines)


def _stats(args: argparse.Namespace, store: LifecycleStore) -> int:
    until = args.until or utcnow() + timedelta(hours=1)
    since = args.since or until - timedelta(days=1)
    if since >= until:
        print("comet-pipeline: --since must be before --until", file=sys.stderr)
        return 2
    table = frame_stats_table(store, Detector(args.detector), since, until)
    if args.format == "text":
        text = "\n".join(table.pformat(max_lines=-1, max_width=-1))
        if args.output is None:
            print(text)
        else:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text + "\n", encoding="utf-8")
    else:
        _emit(table, "ecsv", args.output)
    print(f"comet-pipeline: {len(table)} {args.detector} frames", file=sys.stderr)
    return 0


def _emit(table: Table, fmt: str, output: Path | None) -> None:
    """The table to ``output`` (atomically) or to stdout."""
    if output is not None:
        write_table(table, output, fmt)
        return
    if fmt == "ecsv":
        buf = io.StringIO()
        table.write(buf, format="ascii.ecsv")
        sys.stdout.write(buf.getvalue())
    else:
        sys.stdout.write(votable_bytes(table).decode("utf-8"))
