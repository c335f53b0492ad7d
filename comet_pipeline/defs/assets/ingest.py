"""Ingestion assets: downlink slots, discovered files, downloaded files, processed frames."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    Backoff,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    Jitter,
    MaterializeResult,
    RetryPolicy,
    TimeWindow,
    TimeWindowPartitionMapping,
    asset,
)

from comet_pipeline.defs.metadata import (
    Metadata,
    files_table,
    inline_image,
    state_counts_metadata,
    step_metadata,
)
from comet_pipeline.defs.partitions import HOURLY_BACKFILL
from comet_pipeline.defs.resources import (
    ArchiveResource,
    ClockResource,
    FileTreeResource,
    StoreResource,
)
from comet_pipeline.domain import Detector, FileState, SlotState
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import Progress, process_window
from comet_pipeline.ingest.recover import recover_leases
from comet_pipeline.ingest.results import LatencyStats, StepResult
from comet_pipeline.ingest.slots import listed_arrivals, scheduled_slots, sync_slots
from comet_pipeline.settings import Settings

ARCHIVE_POOL = "lasco_archive"
GROUP = "ingestion"

#: Transient archive trouble (timeouts, 5xx) is retried by the step with backoff.
ARCHIVE_RETRY = RetryPolicy(
    max_retries=3, delay=10, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


#: What every step that talks to the archive shares: one pool, one retry policy.
ARCHIVE_STEP: dict[str, Any] = {"pool": ARCHIVE_POOL, "retry_policy": ARCHIVE_RETRY}


def build_ingest_assets(
    settings: Settings, hourly: HourlyPartitionsDefinition, daily: DailyPartitionsDefinition
) -> list[AssetsDefinition]:
    detectors = settings.detectors
    # what every hourly asset shares: its partitions, group and backfill policy
    hourly_asset: dict[str, Any] = {
        "partitions_def": hourly,
        "group_name": GROUP,
        "backfill_policy": HOURLY_BACKFILL,
    }

    @asset(
        partitions_def=daily,
        group_name=GROUP,
        kinds={"sqlite"},
        **ARCHIVE_STEP,
        check_specs=[AssetCheckSpec("slot_coverage", asset="downlink_slots")],
        description="DSN downlink passes of one UTC day, reconciled against the clock and arrivals.",
    )
    def downlink_slots(
        context: AssetExecutionContext,
        store: StoreResource,
        archive: ArchiveResource,
        clock: ClockResource,
    ) -> MaterializeResult:
        window = context.partition_time_window
        now = clock.now()
        day = window.start.date()
        client = archive.get()
        # Files arriving during the day's passes sit in the folders of their observation day:
        # that day or the one before.
        listed = listed_arrivals(client, detectors, [day - timedelta(days=1), day])
        result = sync_slots(store.get(), scheduled_slots(client), day, now, listed)
        slots = store.get().slots_between(window.start, window.end)
        by_state = {s: sum(1 for x in slots if x.state is s) for s in SlotState}
        closed = by_state[SlotState.DONE] + by_state[SlotState.MISSED]
        coverage = by_state[SlotState.DONE] / closed if closed else None
        return MaterializeResult(
            metadata={
                **step_metadata(result),
                **state_counts_metadata(by_state),
                "slots": len(slots),
            },
            check_results=[
                AssetCheckResult(
                    check_name="slot_coverage",
                    passed=by_state[SlotState.MISSED] == 0,
                    severity=AssetCheckSeverity.WARN,
                    metadata={
                        "done": by_state[SlotState.DONE],
                        "missed": by_state[SlotState.MISSED],
                        "coverage": -1.0 if coverage is None else round(coverage, 3),
                    },
                )
            ],
        )

    @asset(
        **hourly_asset,
        **ARCHIVE_STEP,
        kinds={"sqlite"},
        deps=[downlink_slots],
        description="Files observed in the hour, registered from img_hdr.txt and the listing.",
    )
    def discovered_files(
        context: AssetExecutionContext,
        store: StoreResource,
        archive: ArchiveResource,
        clock: ClockResource,
    ) -> MaterializeResult:
        window = context.partition_time_window
        result = discover_window(
            store.get(),
            archive.get(),
            detectors,
            window.start,
            window.end,
            now=clock.now(),
            run_id=context.run.run_id,
        )
        return MaterializeResult(metadata=_window_metadata(store, result, window, detectors))

    @asset(
        **hourly_asset,
        **ARCHIVE_STEP,
        kinds={"sqlite"},
        deps=[discovered_files],
        description="The hour's synoptic files downloaded, verified and READY for processing.",
    )
    def downloaded_files(
        context: AssetExecutionContext,
        store: StoreResource,
        archive: ArchiveResource,
        files: FileTreeResource,
        clock: ClockResource,
    ) -> MaterializeResult:
        window = context.partition_time_window
        recovered = recover_leases(store.get(), now=clock.now(), run_id=context.run.run_id)
        result = download_window(
            store.get(),
            archive.get(),
            files.layout.raw_dir,
            window.start,
            window.end,
            clock=clock.now,
            owner=context.run.run_id,
        )
        result.absorb(recovered)
        return MaterializeResult(metadata=_window_metadata(store, result, window, detectors))

    @asset(
        **hourly_asset,
        kinds={"fits", "png"},
        deps=[
            downloaded_files,
            # Backgrounds and running differences read the frames of the hour before.
            AssetDep(
                "processed_frames",
                partition_mapping=TimeWindowPartitionMapping(start_offset=-1, end_offset=-1),
            ),
        ],
        check_specs=[AssetCheckSpec("frame_quality", asset="processed_frames")],
        description="Calibrated, background-subtracted frames, differences and display PNGs.",
    )
    def processed_frames(
        context: AssetExecutionContext,
        store: StoreResource,
        files: FileTreeResource,
        clock: ClockResource,
    ) -> MaterializeResult:
        window = context.partition_time_window
        processor = FrameProcessor(files.layout.frames_dir)
        recovered = recover_leases(store.get(), now=clock.now(), run_id=context.run.run_id)
        result = process_window(
            store.get(),
            processor,
            window.start,
            window.end,
            clock=clock.now,
            owner=context.run.run_id,
            progress=_log_progress(context, "processing"),
        )
        metadata = _window_metadata(store, result.absorb(recovered), window, detectors)
        frames = [
            f for d in detectors for f in store.get().frames_between(d, window.start, window.end)
        ]
        bad = [f.name for f in frames if not _frame_has_signal(f.stats)]
        metadata["frames"] = len(frames)
        newest = max(frames, key=lambda f: f.observed_at, default=None)
        if newest is not None and newest.thumbnail_path:
            metadata["newest_frame"] = inline_image(
                newest.thumbnail_path,
                f"{newest.detector.label} {newest.observed_at:%Y-%m-%d %H:%M} UT ({newest.name})",
            )
            metadata["newest_frame_path"] = newest.png_path or newest.thumbnail_path
        return MaterializeResult(
            metadata=metadata,
            check_results=[
                AssetCheckResult(
                    check_name="frame_quality",
                    passed=not bad,
                    metadata={
                        "frames": len(frames),
                        "empty_or_nan": len(bad),
                        "bad": ", ".join(bad[:20]),
                    },
                )
            ],
        )

    return [downlink_slots, discovered_files, downloaded_files, processed_frames]


def _log_progress(context: AssetExecutionContext, what: str) -> Progress:
    """A progress callback that logs every tenth file to the run's log in the UI."""

    def report(done: int, total: int) -> None:
        if done % 10 == 0:
            context.log.info(f"{what}: {done} of {total} files done")

    return report


def _frame_has_signal(stats: dict[str, float]) -> bool:
    masked = stats.get("masked_fraction", 1.0)
    sigma = stats.get("noise_sigma")
    return masked < 0.999 and sigma is not None and sigma == sigma and sigma > 0


def _window_metadata(
    store: StoreResource, result: StepResult, window: TimeWindow, detectors: Sequence[Detector]
) -> Metadata:
    records = [r for d in detectors for r in store.get().files_between(d, window.start, window.end)]
    records.sort(key=lambda r: (r.observed_at, r.name))
    counts = {s: sum(1 for r in records if r.state is s) for s in FileState}
    result.latency = LatencyStats.of(
        [r.arrived_at - r.observed_at for r in records if r.arrived_at is not None]
    )
    return {
        **step_metadata(result),
        **state_counts_metadata(counts),
        "files_in_window": len(records),
        "files": files_table(records),
        "window": f"{window.start:%Y-%m-%d %H:%M} – {window.end:%Y-%m-%d %H:%M} UT",
    }
