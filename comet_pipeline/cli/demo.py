"""``comet-pipeline demo``: ingest the last N hours through Dagster and say what happened."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

from comet_pipeline.cli.home import init_home
from comet_pipeline.cli.reports import demo_summary_text
from comet_pipeline.cli.runner import BeforePartitions, demo_instance, ingest_range
from comet_pipeline.ingest.windows import hour_floor
from comet_pipeline.settings import Settings
from comet_pipeline.store import open_store


def run_demo(settings: Settings, *, hours: int, until: datetime) -> int:
    end = hour_floor(until)
    start = end - timedelta(hours=hours)
    print(
        f"comet_pipeline demo: ingesting {hours} h of C2/C3 observations "
        f"({start:%Y-%m-%d %H:%M} – {end:%H:%M} UT) from {settings.archive_url}"
    )
    if init_home(settings) != 0:
        return 2
    started = time.perf_counter()
    try:
        outcomes = ingest_range(settings, start, end, instance=demo_instance())
    except BeforePartitions as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    store = open_store(settings)
    print(demo_summary_text(store, settings, start, end, elapsed_s=elapsed, runs_ok=outcomes))
    return 0 if all(outcomes) else 1
