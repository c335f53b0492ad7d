"""Ingestion assets: downlink slots, discovered files, downloaded files, processed frames.

Each body is one service call from ``ingest/``, then a metadata builder and check results.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetObservation,
    Backoff,
    Jitter,
    MaterializeResult,
    RetryPolicy,
    TimeWindowPartitionMapping,
    asset,
)

from comet_pipeline.defs.checks import (
    FRAME_QUALITY,
    INDEXES_READ,
    SCHEDULE_READ,
    SLOT_COVERAGE,
    frame_quality,
    slot_coverage,
    sources_read,
)
from comet_pipeline.defs.failures import fail_fast, refuse_future
from comet_pipeline.defs.metadata import (
    Metadata,
    frames_metadata,
    hour_metadata,
    slots_metadata,
    window_metadata,
)
from comet_pipeline.defs.partitions import DAILY, DAILY_BACKFILL, HOURLY_ASSET
from comet_pipeline.defs.recipes import RecipeConfig, chosen_recipe
from comet_pipeline.defs.resources import (
    ArchiveResource,
    ClockResource,
    PipelineResource,
    StoreResource,
)
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import Progress, process_window
from comet_pipeline.ingest.recover import recover_leases
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.ingest.slots import sync_slot_days
from comet_pipeline.store import LifecycleStore

ARCHIVE_POOL = "lasco_archive"
GROUP = "ingestion"

#: Transient archive trouble (timeouts, 5xx) is retried by the step with backoff.
ARCHIVE_RETRY = RetryPolicy(
    max_retries=3, delay=10, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)

#: What every step that talks to the archive shares: one pool, one retry policy.
ARCHIVE_STEP: dict[str, Any] = {"pool": ARCHIVE_POOL, "retry_policy": ARCHIVE_RETRY}


@asset(
    partitions_def=DAILY,
    backfill_policy=DAILY_BACKFILL,
    group_name=GROUP,
    kinds={"sqlite"},
    **ARCHIVE_STEP,
    check_specs=[SLOT_COVERAGE, SCHEDULE_READ],
    description="DSN downlink passes of one UTC day, reconciled against the clock and arrivals.",
)
def downlink_slots(
    context: AssetExecutionContext,
    store: StoreResource,
    archive: ArchiveResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> MaterializeResult:
    with fail_fast():
        window = context.partition_time_window
        days = [d.date() for d in _steps(window.start, window.end, timedelta(days=1))]
        result = sync_slot_days(store.get(), archive.get(), pipeline.detectors, days, clock.now())
        slots = store.get().slots_between(window.start, window.end)
        return MaterializeResult(
            metadata={**slots_metadata(result, slots), "days_in_run": len(days)},
            check_results=[slot_coverage(slots), sources_read(SCHEDULE_READ, result)],
        )


@asset(
    **HOURLY_ASSET,
    **ARCHIVE_STEP,
    group_name=GROUP,
    kinds={"sqlite"},
    deps=[downlink_slots],
    check_specs=[INDEXES_READ],
    description="Files observed in the hour, registered from img_hdr.txt and the listing.",
)
def discovered_files(
    context: AssetExecutionContext,
    store: StoreResource,
    archive: ArchiveResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> MaterializeResult:
    with fail_fast():
        window = context.partition_time_window
        refuse_future(window.start, clock.now())
        result = discover_window(
            store.get(),
            archive.get(),
            pipeline.detectors,
            window.start,
            window.end,
            now=clock.now(),
            run_id=context.run.run_id,
        )
        return MaterializeResult(
            metadata=_window(context, store.get(), result, pipeline),
            check_results=[sources_read(INDEXES_READ, result)],
        )


@asset(
    **HOURLY_ASSET,
    **ARCHIVE_STEP,
    group_name=GROUP,
    kinds={"sqlite"},
    deps=[discovered_files],
    description="The hour's synoptic files downloaded, verified and READY for processing.",
)
def downloaded_files(
    context: AssetExecutionContext,
    store: StoreResource,
    archive: ArchiveResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> MaterializeResult:
    with fail_fast():
        window = context.partition_time_window
        refuse_future(window.start, clock.now())
        recovered = recover_leases(store.get(), now=clock.now(), run_id=context.run.run_id)
        result = download_window(
            store.get(),
            archive.get(),
            pipeline.layout.raw_dir,
            window.start,
            window.end,
            clock=clock.now,
            owner=context.run.run_id,
        ).absorb(recovered)
        return MaterializeResult(metadata=_window(context, store.get(), result, pipeline))


@asset(
    **HOURLY_ASSET,
    group_name=GROUP,
    kinds={"fits", "png"},
    deps=[
        downloaded_files,
        # Backgrounds and running differences read the frames of the hour before.
        AssetDep(
            "processed_frames",
            partition_mapping=TimeWindowPartitionMapping(start_offset=-1, end_offset=-1),
        ),
    ],
    check_specs=[FRAME_QUALITY],
    description="Calibrated, background-subtracted frames, differences and display PNGs.",
)
def processed_frames(
    context: AssetExecutionContext,
    config: RecipeConfig,
    store: StoreResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> MaterializeResult:
    with fail_fast():
        window = context.partition_time_window
        refuse_future(window.start, clock.now())
        recovered = recover_leases(store.get(), now=clock.now(), run_id=context.run.run_id)
        result = process_window(
            store.get(),
            FrameProcessor(pipeline.layout.frames_dir, recipe=chosen_recipe(config, pipeline)),
            window.start,
            window.end,
            clock=clock.now,
            owner=context.run.run_id,
            progress=_log_progress(context, "processing"),
        ).absorb(recovered)
        frames = [
            f
            for d in pipeline.detectors
            for f in store.get().frames_between(d, window.start, window.end)
        ]
        return MaterializeResult(
            metadata={
                **_window(context, store.get(), result, pipeline),
                **frames_metadata(frames),
            },
            check_results=[frame_quality(frames)],
        )


def _window(
    context: AssetExecutionContext,
    store: LifecycleStore,
    result: StepResult,
    pipeline: PipelineResource,
) -> Metadata:
    """The window's metadata; in a run over a range of hours, also one observation per
    hour with that hour's own counts (Dagster gives every partition of a range the same
    materialization metadata, so the materialization says it covers the range)."""
    window = context.partition_time_window
    detectors: Sequence[Detector] = pipeline.detectors
    records = [r for d in detectors for r in store.files_between(d, window.start, window.end)]
    keys = context.partition_keys
    if len(keys) > 1:
        hours = _steps(window.start, window.end, timedelta(hours=1))
        for key, hour in zip(keys, hours, strict=True):
            mine = [r for r in records if hour <= r.observed_at < hour + timedelta(hours=1)]
            context.log_event(
                AssetObservation(
                    asset_key=context.asset_key,
                    partition=key,
                    metadata=hour_metadata(mine, hour),
                )
            )
    return {**window_metadata(result, records, window.start, window.end), "hours_in_run": len(keys)}


def _steps(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The starts of the partitions (hours, days) of a run's window."""
    return [start + i * step for i in range((end - start) // step)]


def _log_progress(context: AssetExecutionContext, what: str) -> Progress:
    """A progress callback that logs every tenth file to the run's log in the UI."""

    def report(done: int, total: int) -> None:
        if done % 10 == 0:
            context.log.info(f"{what}: {done} of {total} files done")

    return report
