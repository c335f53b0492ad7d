"""Response bodies of ``/api/jobs`` and the ``dagster`` part of ``/api/health``: Dagster's runs,
sensors and schedules as the viewer shows them (read from the webserver, never stored here)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from comet_pipeline.viewer.dagster_graphql import InstigatorStatus, RunStatus


class PartitionRange(BaseModel):
    start: str = Field(description="first partition key, e.g. 2025-06-10-00:00")
    end: str = Field(description="last partition key (inclusive)")


class Job(BaseModel):
    """One Dagster run."""

    run_id: str
    job_name: str
    status: RunStatus
    partition: str | None = Field(description="the partition key of a one-partition run")
    partition_range: PartitionRange | None = Field(
        description="the keys of a run over a range of partitions (a backfill's chunk)"
    )
    created_at: datetime = Field(description="when it was submitted (queued runs have no start)")
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime | None = Field(description="its last status change")
    duration_seconds: float | None = Field(
        description="end - start; for a run still going, now - start; null before it starts"
    )
    can_terminate: bool = Field(description="Dagster would accept a terminate now")
    tags: dict[str, str] = Field(
        description="the tags that say what it covers and who launched it (comet/*, "
        "dagster/partition, dagster/backfill, dagster/sensor_name, dagster/schedule_name, ...)"
    )
    dagster_ui_url: str = Field(description="this run's page in the Dagster UI")


class JobList(BaseModel):
    items: list[Job] = Field(description="newest first")
    dagster_url: str = Field(description="the webserver they were read from")


class JobTermination(BaseModel):
    run_id: str
    previous_status: RunStatus
    status: RunStatus = Field(
        description="as Dagster reports it just after: CANCELED for a queued run, "
        "CANCELING while a started one stops"
    )
    requested_by: str = Field(description="the name of the token that asked")


class InstigatorOut(BaseModel):
    name: str
    status: InstigatorStatus = Field(
        description="RUNNING: turned on (it ticks while a daemon runs)"
    )


class DagsterHealth(BaseModel):
    reachable: bool
    url: str = Field(description="the Dagster webserver the viewer asks (COMET_DAGSTER_URL)")
    version: str | None = Field(description="its Dagster version, when it answered")
    error: str | None = Field(
        description="why it is not reachable, or which code location did not load, in one line"
    )
    sensors: list[InstigatorOut]
    schedules: list[InstigatorOut]
