"""Partitions: daily (UTC) for slots and playback, hourly by observation time for files.

Both start at ``COMET_PARTITIONS_START`` of the process's settings: the one place module-level
definitions read the settings, because a partitions definition is part of an asset's identity.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

from dagster import (
    BackfillPolicy,
    BetaWarning,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
)

from comet_pipeline.settings import get_settings

HOURLY_FORMAT = "%Y-%m-%d-%H:%M"

#: A backfill runs up to 31 days of hours per run, and the slots of 31 days per run: a
#: month is one run per stage (slots, discovery + download, frames, candidates), a year
#: about fifty. Every hourly asset carries the same policy, so a job over them keeps it.
#: Long runs, not hours: ``processed_frames`` depends on its own previous hour, so the
#: backfill daemon starts one range's processing only when the range before is done, and
#: each link of that chain waits for a daemon tick (30 s). In a longer backfill one month
#: downloads while the month before is processed and the one before that hunted.
HOURLY_BACKFILL = BackfillPolicy.multi_run(max_partitions_per_run=31 * 24)
DAILY_BACKFILL = BackfillPolicy.multi_run(max_partitions_per_run=31)

_START = get_settings().partitions_start

#: The first hour any partition covers (sensors request nothing before it).
FIRST_HOUR = datetime(_START.year, _START.month, _START.day, tzinfo=UTC)

# end_offset=1: the hour (day) in progress exists as a partition, because files observed in
# it can already have arrived.
HOURLY = HourlyPartitionsDefinition(
    start_date=f"{_START:%Y-%m-%d}-00:00", fmt=HOURLY_FORMAT, end_offset=1
)
DAILY = DailyPartitionsDefinition(start_date=f"{_START:%Y-%m-%d}", end_offset=1)

# backfill_policy is marked beta; we rely on it knowingly (a range runs in few runs), so
# its one warning is silenced here, where the policy is chosen, and nothing else is.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=BetaWarning)

#: What every hourly asset shares: its partitions and backfill policy.
HOURLY_ASSET: dict[str, Any] = {"partitions_def": HOURLY, "backfill_policy": HOURLY_BACKFILL}
