"""Retention: what the settings no longer keep leaves the disk, once a day."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from comet_pipeline.defs.failures import fail_fast
from comet_pipeline.defs.metadata import retention_metadata
from comet_pipeline.defs.resources import ClockResource, PipelineResource, StoreResource
from comet_pipeline.ingest.retention import apply_retention, disk_usage


@asset(
    group_name="products",
    kinds={"sqlite"},
    deps=["processed_frames"],
    description=(
        "Removes raw files, FITS products and PNGs older than the settings keep "
        "(COMET_KEEP_RAW_DAYS, COMET_KEEP_FITS_DAYS, COMET_KEEP_PNG_DAYS), never a frame on the "
        "track of a candidate nobody rejected; the store marks what went. Composites and "
        "mosaics follow the same days. Disk usage after."
    ),
)
def product_retention(
    context: AssetExecutionContext,
    store: StoreResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> MaterializeResult:
    with fail_fast():
        home = pipeline.layout.home
        result = apply_retention(store.get(), home, pipeline.retention, now=clock.now())
        context.log.info(
            f"retention removed {result.removed_files} files ({result.removed_bytes:,} bytes)"
        )
        return MaterializeResult(metadata=retention_metadata(result, disk_usage(store.get(), home)))
