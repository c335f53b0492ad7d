"""Run the ingestion jobs in process: what `comet-pipeline demo`, tests and benchmarks use.

The same jobs the sensors launch, executed with ``execute_in_process`` over a partition
range (one run for a range of hours, as a backfill with the week-long policy would do).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dagster import ConfigurableResource, DagsterInstance
from dagster._core.errors import DagsterHomeNotSetError
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from comet_pipeline.definitions import build_definitions
from comet_pipeline.defs.jobs import INGEST_HOUR_JOB, SLOTS_JOB
from comet_pipeline.defs.partitions import FIRST_HOUR, HOURLY_FORMAT
from comet_pipeline.defs.resources import ClockResource
from comet_pipeline.ingest.windows import days_covering, hour_floor
from comet_pipeline.settings import Settings


class BeforePartitions(ValueError):
    """A range that starts before ``COMET_PARTITIONS_START``: Dagster has no partition for it."""


def demo_instance() -> DagsterInstance:
    """The instance in DAGSTER_HOME when one is set (runs then show in `make dev`)."""
    try:
        return DagsterInstance.get()
    except DagsterHomeNotSetError:
        return DagsterInstance.ephemeral()


def ingest_range(
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    instance: DagsterInstance,
    clock: ClockResource | None = None,
    **resource_overrides: ConfigurableResource,
) -> list[bool]:
    """Materialize slots for the covering days, then the hours [start, end) in one run.

    Raises ``BeforePartitions`` when the range begins before the first partition."""
    if hour_floor(start) < FIRST_HOUR:
        raise BeforePartitions(
            f"{start:%Y-%m-%d %H:%M} UT is before the first partition ({FIRST_HOUR:%Y-%m-%d});"
            f" set COMET_PARTITIONS_START={start:%Y-%m-%d} (or earlier) to ingest it"
        )
    defs = build_definitions(settings, clock=clock, **resource_overrides)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    outcomes = []
    slots_job = defs.resolve_job_def(SLOTS_JOB)
    for day in days_covering(start, end):
        run = slots_job.execute_in_process(
            partition_key=f"{day:%Y-%m-%d}",
            instance=instance,
            raise_on_error=False,
            run_config=quiet,
        )
        outcomes.append(run.success)
    last_hour = hour_floor(end - timedelta(microseconds=1))
    run = defs.resolve_job_def(INGEST_HOUR_JOB).execute_in_process(
        instance=instance,
        raise_on_error=False,
        run_config=quiet,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: hour_floor(start).strftime(HOURLY_FORMAT),
            ASSET_PARTITION_RANGE_END_TAG: last_hour.strftime(HOURLY_FORMAT),
        },
    )
    outcomes.append(run.success)
    return outcomes
