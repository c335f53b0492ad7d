"""``comet-pipeline scan [--repair]``: reconcile the disk with the store.

Reports products missing on disk, raw files gone or changed (sha256) and files the store does
not know; ``--repair`` sends the first two back (audited) and runs the normal download and
processing steps over the hours concerned. Exit 0 when clean (or repaired), 1 when the scan
found something it did not repair.
"""

from __future__ import annotations

import argparse
import sys

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.domain import utcnow
from comet_pipeline.ingest.home import HomeMismatch, check_home
from comet_pipeline.ingest.scan import RepairResult, ScanReport, scan_and_repair
from comet_pipeline.settings import Settings
from comet_pipeline.store import StoreError, open_store, store_location

NAME = "scan"
#: Lines of each list printed (the counts are always whole).
SHOWN = 20


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(NAME, help="reconcile disk and store (missing, changed, unknown files)")
    parser.add_argument(
        "--repair",
        action="store_true",
        help="send missing products and changed raw files back, then download and process them",
    )
    parser.add_argument(
        "--no-fetch",
        action="store_true",
        help="with --repair: only reset (audited); the next runs of those hours do the work",
    )


def _client(settings: Settings) -> ArchiveClient:
    """The archive client the settings name (the embedded simulator for sim://)."""
    from comet_pipeline.defs.resources import ArchiveResource, ClockResource

    return ArchiveResource(
        archive_url=settings.archive_url, schedule_url=settings.schedule_url, clock=ClockResource()
    ).get()


def report_text(report: ScanReport, fixed: RepairResult | None) -> str:
    lines = [report.summary()]
    for item in report.missing_products[:SHOWN]:
        lines.append(f"  missing product  {item.frame}  {item.product}  {item.path}")
    for bad in report.bad_raw[:SHOWN]:
        what = "gone" if bad.actual is None else "sha256 changed"
        lines.append(f"  raw {what:<14} {bad.name}  {bad.path}")
    for path in report.unknown_files[:SHOWN]:
        lines.append(f"  unknown file     {path}")
    if fixed is not None:
        lines.append(
            f"sent back (audited): {len(fixed.reprocess)} frames to re-process, "
            f"{len(fixed.refetch)} raw files to fetch again, {len(fixed.not_applied)} left "
            "alone (moved on meanwhile)"
        )
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(fixed.steps.outcomes.items()))
        if outcomes:
            lines.append(f"  steps: {outcomes}")
        lines.extend(f"  error: {e}" for e in fixed.steps.errors[:SHOWN])
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    location = store_location(settings)
    if not location.exists():
        print(f"comet-pipeline: no lifecycle store at {location} yet", file=sys.stderr)
        return 2
    try:
        store = open_store(location, read_only=not args.repair)
        check_home(store, settings.layout)
    except (StoreError, HomeMismatch) as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    client = _client(settings) if args.repair and not args.no_fetch else None
    report, fixed = scan_and_repair(
        store,
        client,
        settings.layout,
        clock=utcnow,
        run_id=f"scan-{utcnow():%Y%m%dT%H%M%SZ}",
        detectors=settings.detectors,
        repair_found=args.repair,
    )
    print(report_text(report, fixed))
    if report.clean:
        return 0
    if fixed is not None and not fixed.not_applied and not fixed.steps.errors:
        return 0 if not report.unknown_files else 1
    return 1
