"""C2 + C3 mosaics on the C3 helioprojective grid: one per hour, and the day's median."""

from collections.abc import Sequence

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from comet_pipeline.defs.failures import fail_fast
from comet_pipeline.defs.metadata import Metadata, md_table
from comet_pipeline.defs.partitions import DAILY, DAILY_BACKFILL, HOURLY_ASSET
from comet_pipeline.defs.resources import PipelineResource, StoreResource
from comet_pipeline.ingest.mosaics import (
    DailyMosaic,
    HourlyMosaic,
    build_daily_mosaics,
    build_hourly_mosaics,
)

GROUP = "products"


def hourly_mosaic_metadata(results: Sequence[HourlyMosaic]) -> Metadata:
    """Hours made and skipped, and per hour the frames it took (the last one's files)."""
    made = [r for r in results if r.files is not None]
    metadata: Metadata = {
        "mosaics": len(made),
        "hours_without_pair": len(results) - len(made),
        "ms_per_mosaic": round(1000 * sum(r.elapsed_s for r in made) / max(1, len(made)), 1),
        "hours": md_table(
            ["hour (UT)", "C3 frame", "C2 frame", "C2 px", "blended px", "note"],
            [
                (
                    f"{r.hour:%Y-%m-%d %H:%M}",
                    r.c3_frame or "",
                    r.c2_frame or "",
                    r.c2_pixels,
                    r.blended_pixels,
                    r.reason or "",
                )
                for r in results
            ],
        ),
    }
    if made and (files := made[-1].files) is not None:
        metadata["fits"] = MetadataValue.path(str(files.fits))
        metadata["png"] = MetadataValue.path(str(files.png))
    return metadata


def daily_mosaic_metadata(results: Sequence[DailyMosaic]) -> Metadata:
    made = [r for r in results if r.files is not None]
    metadata: Metadata = {
        "mosaics": len(made),
        "hours": sum(len(r.hours) for r in made),
        "hourly_built_here": sum(r.built_hours for r in made),
        "days": md_table(
            ["day", "hours", "note"],
            [(f"{r.day:%Y-%m-%d}", len(r.hours), r.reason or "") for r in results],
        ),
    }
    if made and (files := made[-1].files) is not None:
        metadata["fits"] = MetadataValue.path(str(files.fits))
        metadata["png"] = MetadataValue.path(str(files.png))
    return metadata


@asset(
    **HOURLY_ASSET,
    group_name=GROUP,
    kinds={"fits", "png"},
    deps=["processed_frames"],
    description=(
        "C2 reprojected into the C3 frame's helioprojective grid and feathered into it "
        "(the C3 frame nearest mid-hour, the C2 frame nearest it): FITS with the WCS + PNG "
        "under products/mosaics/hourly."
    ),
)
def hourly_mosaic(
    context: AssetExecutionContext, store: StoreResource, pipeline: PipelineResource
) -> MaterializeResult:
    with fail_fast():
        window = context.partition_time_window
        results = build_hourly_mosaics(
            store.get(), pipeline.layout.products_dir, window.start, window.end
        )
        return MaterializeResult(metadata=hourly_mosaic_metadata(results))


@asset(
    partitions_def=DAILY,
    backfill_policy=DAILY_BACKFILL,
    group_name=GROUP,
    kinds={"fits", "png"},
    deps=["hourly_mosaic"],
    description=(
        "The median of the day's hourly mosaics on one grid (the hour nearest noon); an "
        "hour not yet made is made first. FITS + PNG under products/mosaics/daily."
    ),
)
def daily_mosaic(
    context: AssetExecutionContext, store: StoreResource, pipeline: PipelineResource
) -> MaterializeResult:
    with fail_fast():
        window = context.partition_time_window
        results = build_daily_mosaics(
            store.get(), pipeline.layout.products_dir, window.start, window.end
        )
        return MaterializeResult(metadata=daily_mosaic_metadata(results))
