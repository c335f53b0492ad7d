"""``comet-pipeline archive search``: per-day image counts of the archive, nothing downloaded.

Before importing a historical range a hunter wants to know what is there: how many images
each day holds, how many are synoptic (the series the hunter uses), and which tree
(near-real-time or long-term) serves the day. Only the small ``img_hdr.txt`` indexes are read.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.errors import ArchiveError
from comet_pipeline.archive.layout import ArchiveTree
from comet_pipeline.cli.main import _time_arg
from comet_pipeline.cli.reports import table
from comet_pipeline.domain import Detector, utcnow
from comet_pipeline.ingest.search import DayCount, search_archive
from comet_pipeline.settings import Settings

NAME = "archive"
#: Longest range one search reads (one index per day): a typo in a year must not mean
#: thousands of requests to the real archive.
MAX_DAYS = 400


def add_parser(sub: argparse._SubParsersAction) -> None:
    """``archive search --detector c3 --since ... [--until ...]``."""
    parser = sub.add_parser(NAME, help="what the LASCO archive holds (indexes only)")
    archive_sub = parser.add_subparsers(dest="archive_command", required=True)
    search = archive_sub.add_parser(
        "search", help="images per day, synoptic or not, without downloading"
    )
    search.add_argument("--detector", choices=[d.value for d in Detector], required=True)
    search.add_argument("--since", type=_time_arg, required=True, help="ISO date/time (UTC)")
    search.add_argument(
        "--until", type=_time_arg, default=None, help="ISO date/time (UTC), default now"
    )


def client_for(settings: Settings) -> ArchiveClient:
    """The archive client of the settings' two trees (the simulator for ``sim://``)."""
    longterm = settings.longterm_archive_url
    if settings.archive_url.startswith("sim://"):
        from comet_pipeline.simulator.attach import simulated_client

        return simulated_client(settings.archive_url, settings.schedule_url, longterm_url=longterm)
    return ArchiveClient(settings.archive_url, settings.schedule_url, longterm_url=longterm)


def search_text(counts: list[DayCount], client: ArchiveClient) -> str:
    """The per-day table with a total row and the trees' base URLs."""
    rows: list[list[object]] = [
        [c.day.isoformat(), c.tree.value, c.total, c.synoptic, c.other] for c in counts
    ]
    rows.append(
        [
            "total",
            "",
            sum(c.total for c in counts),
            sum(c.synoptic for c in counts),
            sum(c.other for c in counts),
        ]
    )
    used = sorted({c.tree for c in counts}, key=list(ArchiveTree).index)
    lines = [table(["day", "tree", "images", "synoptic", "other"], rows)]
    lines += [f"{tree.value}: {client.base_url(tree)}" for tree in used]
    problems = sum(c.problems for c in counts)
    if problems:
        lines.append(f"{problems} index lines could not be read (not counted)")
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    now = utcnow()
    until = args.until or now
    since = args.since
    if since >= until:
        print("comet-pipeline: --since must be before --until", file=sys.stderr)
        return 2
    if until - since > timedelta(days=MAX_DAYS):
        print(f"comet-pipeline: search at most {MAX_DAYS} days at a time", file=sys.stderr)
        return 2
    detector = Detector(args.detector)
    with client_for(settings) as client:
        try:
            counts = search_archive(client, detector, since, until, now=now)
        except ArchiveError as exc:
            print(f"comet-pipeline: archive search failed: {exc}", file=sys.stderr)
            return 1
        print(
            f"{detector.label} images observed {since:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UT"
        )
        print(search_text(counts, client))
    return 0
