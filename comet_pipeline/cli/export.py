"""``comet-pipeline export KIND``: files, frames, candidates or detections as a table.

Streams in chunks to stdout or ``--output`` (see ``ingest/export.py`` for how each format
streams); the count goes to stderr so stdout stays the table alone.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from comet_pipeline.cli.main import _time_arg
from comet_pipeline.cli.reports import open_for_reading
from comet_pipeline.domain import Detector, utcnow
from comet_pipeline.ingest.export import FORMATS, KINDS, ExportQuery, export
from comet_pipeline.settings import Settings

NAME = "export"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, help="export files, frames, candidates or detections")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument(
        "--since", type=_time_arg, default=None, help="observed from (UTC; default a day back)"
    )
    parser.add_argument(
        "--until", type=_time_arg, default=None, help="observed before (UTC; default now + 1 h)"
    )
    parser.add_argument(
        "--detector", choices=[d.value for d in Detector], default=None, help="default both"
    )
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--output", type=Path, default=None, help="a file (default stdout)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    until = args.until or utcnow() + timedelta(hours=1)
    since = args.since or until - timedelta(days=1)
    if since >= until:
        print("comet-pipeline: --since must be before --until", file=sys.stderr)
        return 2
    store = open_for_reading(settings)
    if store is None:
        return 2
    detectors = (Detector(args.detector),) if args.detector else settings.detectors
    query = ExportQuery(args.kind, since, until, detectors)
    if args.output is None:
        result = export(store, query, args.format, sys.stdout)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        partial = args.output.with_name(args.output.name + ".part")
        with partial.open("w", encoding="utf-8", newline="") as out:
            result = export(store, query, args.format, out)
        partial.replace(args.output)  # a reader never sees half a table
    print(
        f"comet-pipeline: exported {result.rows} {args.kind} rows ({args.format}) in "
        f"{result.elapsed_s:.2f} s",
        file=sys.stderr,
    )
    return 0
