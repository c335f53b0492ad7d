"""Partitions: daily (UTC) for slots and playback, hourly by observation time for files."""

from __future__ import annotations

from dagster import BackfillPolicy, DailyPartitionsDefinition, HourlyPartitionsDefinition

from comet_pipeline.settings import Settings

HOURLY_FORMAT = "%Y-%m-%d-%H:%M"

#: A range of hours runs in runs of at most this many partitions (a day in two runs).
#: Every hourly asset carries it, so a job over them keeps it.
HOURLY_BACKFILL = BackfillPolicy.multi_run(max_partitions_per_run=12)


def hourly_partitions(settings: Settings) -> HourlyPartitionsDefinition:
    # end_offset=1: the hour in progress exists as a partition, because files observed in
    # it can already have arrived.
    return HourlyPartitionsDefinition(
        start_date=f"{settings.partitions_start:%Y-%m-%d}-00:00",
        fmt=HOURLY_FORMAT,
        end_offset=1,
    )


def daily_partitions(settings: Settings) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(
        start_date=f"{settings.partitions_start:%Y-%m-%d}", end_offset=1
    )
