"""Comet candidates: moving point sources found in a window of recent frames."""

from datetime import timedelta

from dagster import (
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    TimeWindowPartitionMapping,
    asset,
)

from comet_pipeline.defs.checks import CANDIDATE_SPAM, candidate_spam
from comet_pipeline.defs.failures import fail_fast, refuse_future
from comet_pipeline.defs.metadata import candidates_metadata
from comet_pipeline.defs.partitions import HOURLY_ASSET
from comet_pipeline.defs.recipes import RecipeConfig, chosen_recipe
from comet_pipeline.defs.resources import ClockResource, PipelineResource, StoreResource
from comet_pipeline.hunting.config import config_for
from comet_pipeline.ingest.hunt import HUNT_WINDOW, hunt_window, new_candidates_since

_WINDOW_HOURS = int(HUNT_WINDOW / timedelta(hours=1))


@asset(
    **HOURLY_ASSET,
    group_name="hunting",
    kinds={"sqlite", "png"},
    pool="comet_hunting",
    deps=[
        AssetDep(
            "processed_frames",
            partition_mapping=TimeWindowPartitionMapping(start_offset=-(_WINDOW_HOURS - 1)),
        )
    ],
    check_specs=[CANDIDATE_SPAM],
    description=(
        f"Comet candidates linked over the {_WINDOW_HOURS} h of frames ending with this hour: "
        "scored, ranked, with Sungrazer reports and cutout strips."
    ),
)
def comet_candidates(
    context: AssetExecutionContext,
    config: RecipeConfig,
    store: StoreResource,
    clock: ClockResource,
    pipeline: PipelineResource,
) -> MaterializeResult:
    with fail_fast():
        window = context.partition_time_window
        refuse_future(window.start, clock.now())
        result = hunt_window(
            store.get(),
            pipeline.layout.products_dir,
            window.start,
            window.end,
            pipeline.detectors,
            now=clock.now(),
            config=config_for(chosen_recipe(config, pipeline)),
        )
        day_start = window.start.replace(hour=0, minute=0, second=0, microsecond=0)
        new_today = new_candidates_since(store.get(), pipeline.detectors, day_start, window.end)
        return MaterializeResult(
            metadata=candidates_metadata(result), check_results=[candidate_spam(new_today)]
        )
