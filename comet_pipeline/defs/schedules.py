"""Schedules: the daily slot refresh, the hourly sweep, the daily retention (running by
default)."""

from datetime import timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from comet_pipeline.defs.jobs import INGEST_HOUR_JOB, RETENTION_JOB, SLOTS_JOB
from comet_pipeline.defs.partitions import HOURLY_FORMAT


@schedule(
    job_name=SLOTS_JOB,
    cron_schedule="45 6 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Re-read the DSN schedule after it is regenerated (~06:30 UT), for today and tomorrow.",
)
def daily_slots_schedule(context: ScheduleEvaluationContext) -> list[RunRequest]:
    # Today and tomorrow: tomorrow's early passes must exist before they begin.
    today = context.scheduled_execution_time
    return [
        RunRequest(
            run_key=f"slots:{day:%Y-%m-%d}@{today:%Y-%m-%d}", partition_key=f"{day:%Y-%m-%d}"
        )
        for day in (today, today + timedelta(days=1))
    ]


@schedule(
    job_name=INGEST_HOUR_JOB,
    cron_schedule="10 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Sweep the hour just closed: catches anything the downlink sensor missed.",
)
def hourly_sweep_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    hour = context.scheduled_execution_time.replace(minute=0, second=0, microsecond=0)
    closed = hour - timedelta(hours=1)
    return RunRequest(
        run_key=f"sweep:{closed:%Y-%m-%dT%H}",
        partition_key=closed.strftime(HOURLY_FORMAT),
        tags={"comet/trigger": "hourly_sweep_schedule"},
    )


@schedule(
    job_name=RETENTION_JOB,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Apply the retention settings once a day, in the quiet hours.",
)
def daily_retention_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    return RunRequest(run_key=f"retention:{context.scheduled_execution_time:%Y-%m-%d}")
