"""Sensors that keep ingestion going by themselves (running by default)."""

import hashlib
import json
from datetime import datetime, timedelta

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from comet_pipeline.defs.jobs import INGEST_HOUR_JOB
from comet_pipeline.defs.partitions import FIRST_HOUR, HOURLY_FORMAT
from comet_pipeline.defs.resources import (
    ArchiveResource,
    ClockResource,
    PipelineResource,
    StoreResource,
)
from comet_pipeline.domain import SlotState, from_iso, to_iso
from comet_pipeline.ingest.discover import unknown_files_by_hour
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.ingest.slots import ARRIVAL_GRACE, reconcile_slots
from comet_pipeline.ingest.windows import HOUR, hour_floor
from comet_pipeline.store import LifecycleStore

#: The tag Dagster puts on a single-partition run.
PARTITION_TAG = "dagster/partition"

#: Poll the archive at most this often while no downlink pass is under way.
IDLE_POLL = timedelta(minutes=15)
#: ...and every tick (the sensor interval) while one is.
ACTIVE_TICK_SECONDS = 60


def _run_key(prefix: str, hour: datetime, names: list[str]) -> str:
    digest = hashlib.sha1("\n".join(sorted(names)).encode()).hexdigest()[:12]
    return f"{prefix}:{hour:%Y-%m-%dT%H}:{digest}"


def _pass_under_way(store: LifecycleStore, now: datetime) -> bool:
    slots = store.slots_between(now - timedelta(hours=12), now + timedelta(minutes=1))
    return any(
        s.state is SlotState.ACTIVE or (s.bot <= now <= s.eot + ARRIVAL_GRACE) for s in slots
    )


#: Runs that are waiting or working: an hour with one needs no second.
_IN_PROGRESS = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def busy_partitions(instance: DagsterInstance) -> set[str]:
    """Hour partitions that already have an ingest run queued or running."""
    runs = instance.get_runs(
        filters=RunsFilter(job_name=INGEST_HOUR_JOB, statuses=_IN_PROGRESS), limit=500
    )
    return {key for run in runs if (key := run.tags.get(PARTITION_TAG))}


@sensor(
    job_name=INGEST_HOUR_JOB,
    minimum_interval_seconds=ACTIVE_TICK_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Polls the archive indexes of today and yesterday; requests an ingest run for each "
        "hour that gained files. Polls every minute during a downlink pass, every 15 min otherwise."
    ),
)
def downlink_sensor(
    context: SensorEvaluationContext,
    store: StoreResource,
    archive: ArchiveResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> SkipReason | SensorResult:
    now = clock.now()
    cursor = json.loads(context.cursor) if context.cursor else {}
    last = from_iso(cursor["last_poll"]) if cursor.get("last_poll") else None
    active = _pass_under_way(store.get(), now)
    if last is not None and not active and now - last < IDLE_POLL:
        return SkipReason(f"no pass under way; next poll after {last + IDLE_POLL:%H:%M} UT")
    start = hour_floor(now - timedelta(days=1)).replace(hour=0)
    # Up to the end of the hour in progress: the last hour that exists as a partition.
    unknown = unknown_files_by_hour(
        store.get(), archive.get(), pipeline.detectors, start, hour_floor(now) + HOUR
    )
    busy = busy_partitions(context.instance)
    requests = [
        RunRequest(
            run_key=_run_key("downlink", hour, names),
            partition_key=hour.strftime(HOURLY_FORMAT),
            tags={"comet/trigger": "downlink_sensor", "comet/new_files": str(len(names))},
        )
        for hour, names in unknown.items()
        if hour >= FIRST_HOUR and hour.strftime(HOURLY_FORMAT) not in busy
    ]
    new_cursor = json.dumps({"last_poll": to_iso(now)})
    if not requests:
        return SensorResult(
            skip_reason=SkipReason(f"polled at {now:%H:%M} UT: nothing new"),
            cursor=new_cursor,
        )
    return SensorResult(run_requests=requests, cursor=new_cursor)


@sensor(
    job_name=INGEST_HOUR_JOB,
    minimum_interval_seconds=120,
    default_status=DefaultSensorStatus.RUNNING,
    description="Requests an ingest run for each hour holding retry-due failed files.",
)
def retry_sensor(
    context: SensorEvaluationContext, store: StoreResource, clock: ClockResource
) -> SkipReason | list[RunRequest]:
    now = clock.now()
    due = store.get().retry_due(now)
    by_hour: dict[datetime, list[str]] = {}
    for record in due:
        by_hour.setdefault(hour_floor(record.observed_at), []).append(
            f"{record.name}#{record.attempts}"
        )
    if not by_hour:
        return SkipReason("no retry-due files")
    busy = busy_partitions(context.instance)
    return [
        RunRequest(
            run_key=_run_key("retry", hour, names),
            partition_key=hour.strftime(HOURLY_FORMAT),
            tags={"comet/trigger": "retry_sensor", "comet/retry_files": str(len(names))},
        )
        for hour, names in sorted(by_hour.items())
        if hour >= FIRST_HOUR and hour.strftime(HOURLY_FORMAT) not in busy
    ]


@sensor(
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Moves downlink slots PENDING → ACTIVE → DONE/MISSED as the clock passes them.",
)
def slot_sensor(
    _context: SensorEvaluationContext, store: StoreResource, clock: ClockResource
) -> SkipReason:
    now = clock.now()
    result = StepResult()
    reconcile_slots(store.get(), now - timedelta(days=1), now + timedelta(days=1), now, result)
    moved = {k: v for k, v in result.outcomes.items() if not k.startswith("unchanged")}
    summary = ", ".join(f"{n} → {k.upper()}" for k, n in sorted(moved.items())) or "no change"
    return SkipReason(f"slots at {now:%H:%M} UT: {summary}")


SENSORS = [downlink_sensor, retry_sensor, slot_sensor]
