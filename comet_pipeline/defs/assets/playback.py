"""The daily playback animation: the day's frames in time order, per detector."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from comet_pipeline.defs.failures import fail_fast
from comet_pipeline.defs.metadata import playback_metadata
from comet_pipeline.defs.partitions import DAILY
from comet_pipeline.defs.resources import PipelineResource, StoreResource
from comet_pipeline.ingest.playback import build_playback


@asset(
    partitions_def=DAILY,
    group_name="products",
    kinds={"webp"},
    deps=["processed_frames"],
    description="Animated WebP per detector of the day's background-subtracted frames.",
)
def frame_playback(
    context: AssetExecutionContext, store: StoreResource, pipeline: PipelineResource
) -> MaterializeResult:
    with fail_fast():
        day = context.partition_time_window.start.date()
        result = build_playback(store.get(), pipeline.layout.products_dir, day, pipeline.detectors)
        return MaterializeResult(metadata=playback_metadata(result))
