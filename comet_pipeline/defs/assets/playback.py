"""The daily playback animation: the day's frames in time order, per detector."""

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from comet_pipeline.defs.metadata import Metadata, md_table
from comet_pipeline.defs.resources import FileTreeResource, StoreResource
from comet_pipeline.ingest.playback import build_playback
from comet_pipeline.settings import Settings


def build_playback_asset(settings: Settings, daily: DailyPartitionsDefinition) -> AssetsDefinition:
    @asset(
        partitions_def=daily,
        group_name="products",
        kinds={"webp"},
        deps=["processed_frames"],
        description="Animated WebP per detector of the day's background-subtracted frames.",
    )
    def frame_playback(
        context: AssetExecutionContext, store: StoreResource, files: FileTreeResource
    ) -> MaterializeResult:
        day = context.partition_time_window.start.date()
        result = build_playback(store.get(), files.layout.products_dir, day, settings.detectors)
        metadata: Metadata = {"elapsed_s": round(result.elapsed_s, 2)}
        for detector, frames in result.frames.items():
            metadata[f"{detector.value}/frames"] = len(frames)
            if detector in result.animations:
                metadata[f"{detector.value}/animation"] = MetadataValue.path(
                    str(result.animations[detector])
                )
            metadata[f"{detector.value}/playlist"] = md_table(
                ["#", "observed (UT)", "file"],
                [(i, f"{f.observed_at:%H:%M:%S}", f.name) for i, f in enumerate(frames, 1)],
                limit=len(frames),
            )
        return MaterializeResult(metadata=metadata)

    return frame_playback
