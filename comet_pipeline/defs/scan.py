"""Data management in Dagster: the daily disk scan (asset + check) and bulk re-processing.

``disk_scan`` reconciles the disk with the store once a day (``daily_scan_schedule``): the
check ``disk_matches_store`` warns with what it found (products missing, raw files changed,
files unknown to the store), and, unless configured not to, the asset sends the first two
back through audited resets and runs the download and processing steps over those hours.

``reprocess_range`` is a job launched by hand (launchpad config): it resets a range's
frames (audited, the recipe and products in the reason) and processes them again.
"""

from datetime import datetime

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    DefaultScheduleStatus,
    MaterializeResult,
    OpExecutionContext,
    Output,
    ScheduleDefinition,
    asset,
    define_asset_job,
    job,
    op,
)
from pydantic import Field

from comet_pipeline.defs.failures import fail_fast
from comet_pipeline.defs.resources import (
    ArchiveResource,
    ClockResource,
    PipelineResource,
    StoreResource,
)
from comet_pipeline.domain import Detector, from_iso
from comet_pipeline.ingest.reprocess import reprocess_range as reprocess_service
from comet_pipeline.ingest.scan import scan_and_repair

SCAN_JOB = "scan_disk"
REPROCESS_JOB = "reprocess_range"
#: Names listed in metadata, at most.
LISTED = 20

DISK_MATCHES_STORE = AssetCheckSpec(
    "disk_matches_store",
    asset="disk_scan",
    description="Warns when products the store lists are missing on disk, raw files no longer "
    "match their sha256, or files on disk are unknown to the store (found before repair).",
)


class ScanConfig(Config):
    repair: bool = Field(
        default=True,
        description="send missing products and changed raw files back and re-make them",
    )


@asset(
    group_name="products",
    kinds={"sqlite"},
    deps=["processed_frames"],
    check_specs=[DISK_MATCHES_STORE],
    description="Disk and store reconciled: products missing on disk re-processed, raw files "
    "whose sha256 changed fetched again (both audited), unknown files reported.",
)
def disk_scan(
    context: AssetExecutionContext,
    config: ScanConfig,
    store: StoreResource,
    archive: ArchiveResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> MaterializeResult:
    with fail_fast():
        report, fixed = scan_and_repair(
            store.get(),
            archive.get() if config.repair else None,
            pipeline.layout,
            clock=clock.now,
            run_id=context.run.run_id,
            detectors=pipeline.detectors,
            repair_found=config.repair,
        )
        context.log.info(report.summary())
        found = {
            "products_checked": report.products_checked,
            "raw_checked": report.raw_checked,
            "missing_products": len(report.missing_products),
            "raw_changed_or_gone": len(report.bad_raw),
            "unknown_files": len(report.unknown_files),
        }
        listed = {
            "missing": ", ".join(f"{m.frame}:{m.product}" for m in report.missing_products[:LISTED])
            or "none",
            "raw": ", ".join(b.name for b in report.bad_raw[:LISTED]) or "none",
            "unknown": ", ".join(str(p) for p in report.unknown_files[:LISTED]) or "none",
        }
        repaired = (
            {}
            if fixed is None
            else {
                "reprocessed": len(fixed.reprocess),
                "refetched": len(fixed.refetch),
                "not_applied": len(fixed.not_applied),
                "step_errors": len(fixed.steps.errors),
            }
        )
        return MaterializeResult(
            metadata={**found, **listed, **repaired, "elapsed_s": round(report.elapsed_s, 2)},
            check_results=[
                AssetCheckResult(
                    check_name=DISK_MATCHES_STORE.name,
                    passed=report.clean,
                    severity=AssetCheckSeverity.WARN,
                    metadata={**found, **listed},
                )
            ],
        )


scan_disk_job = define_asset_job(
    SCAN_JOB,
    selection=[disk_scan],
    description="Reconcile disk and store; repair what is missing or changed.",
)

daily_scan_schedule = ScheduleDefinition(
    name="daily_scan_schedule",
    job=scan_disk_job,
    cron_schedule="50 3 * * *",  # after the daily retention (03:30), before the day's work
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Scan disk against store once a day and repair what is missing or changed.",
)


class ReprocessConfig(Config):
    start: str = Field(description="first observation time (ISO 8601, UTC if no offset)")
    end: str = Field(description="end of the range, exclusive (ISO 8601)")
    detectors: list[str] = Field(default_factory=lambda: [d.value for d in Detector])
    products: list[str] = Field(
        default_factory=list,
        description="registry products each frame must have afterwards (empty: as before)",
    )
    recipe: str = Field(default="default", description="processing recipe name")
    only_missing: bool = Field(
        default=False, description="reset only frames lacking one of the products on disk"
    )


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return from_iso(value.isoformat() + ("" if value.tzinfo else "+00:00"))


@op(description="Reset the range's frames (audited) and process them again.")
def reprocess_frames(
    context: OpExecutionContext,
    config: ReprocessConfig,
    store: StoreResource,
    archive: ArchiveResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> Output[int]:
    with fail_fast():
        start, end = _time(config.start), _time(config.end)
        if start >= end:
            raise ValueError("start must be before end")
        result = reprocess_service(
            store.get(),
            archive.get(),
            pipeline.layout,
            start,
            end,
            detectors=[Detector(d) for d in config.detectors],
            products=config.products,
            recipe=config.recipe,
            clock=clock.now,
            run_id=context.run.run_id,
            only_missing=config.only_missing,
        )
        context.log.info(
            f"re-processing {start:%Y-%m-%d %H:%M}..{end:%Y-%m-%d %H:%M}: {result.reset} reset, "
            f"{len(result.left_alone)} left alone, {len(result.incomplete)} incomplete"
        )
        if result.incomplete:
            names = ", ".join(sorted(result.incomplete)[:LISTED])
            raise RuntimeError(f"{len(result.incomplete)} frames lack a product after: {names}")
        return Output(
            result.reset,
            metadata={
                "reset_ready": len(result.reset_ready),
                "reset_refetch": len(result.reset_refetch),
                "left_alone": len(result.left_alone),
                "processed": result.steps.outcomes.get("processed", 0),
                "recipe": config.recipe,
                "products": " ".join(config.products) or "as before",
                "elapsed_s": round(result.elapsed_s, 2),
            },
        )


@job(
    name=REPROCESS_JOB,
    description="Re-process an observation range with a recipe: frames reset through "
    "guarded, audited transitions, then processed again oldest first.",
)
def reprocess_range() -> None:
    reprocess_frames()
