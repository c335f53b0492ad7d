"""The one Dagster ``Definitions`` object of the project.

Assets, checks, sensors and schedules are module-level definitions under ``defs/``, listed
here explicitly (a handful per domain: a list reads better than folder discovery, and the
one thing that varies per deployment, the resources, is built from the settings here).
"""

from __future__ import annotations

from dagster import ConfigurableResource, Definitions, ExecutorDefinition, multiprocess_executor

from comet_pipeline.defs.assets.candidates import comet_candidates
from comet_pipeline.defs.assets.composites import frame_composites
from comet_pipeline.defs.assets.featured import featured_targets
from comet_pipeline.defs.assets.ingest import (
    discovered_files,
    downlink_slots,
    downloaded_files,
    processed_frames,
)
from comet_pipeline.defs.assets.mosaics import daily_mosaic, hourly_mosaic
from comet_pipeline.defs.assets.playback import frame_playback
from comet_pipeline.defs.assets.retention import product_retention
from comet_pipeline.defs.checks import no_stuck_files
from comet_pipeline.defs.jobs import build_jobs
from comet_pipeline.defs.partitions import HOURLY
from comet_pipeline.defs.resources import (
    ArchiveResource,
    ClockResource,
    pipeline_resource,
    store_resource,
)
from comet_pipeline.defs.scan import daily_scan_schedule, disk_scan, reprocess_range, scan_disk_job
from comet_pipeline.defs.schedules import (
    daily_retention_schedule,
    daily_slots_schedule,
    hourly_sweep_schedule,
)
from comet_pipeline.defs.sensors import SENSORS
from comet_pipeline.settings import Settings, get_settings

ASSETS = [
    downlink_slots,
    discovered_files,
    downloaded_files,
    processed_frames,
    comet_candidates,
    frame_playback,
    product_retention,
    frame_composites,
    hourly_mosaic,
    daily_mosaic,
    featured_targets,
    disk_scan,
]


#: Dagster's multiprocess executor (a process per step, two at once on two cores), with its
#: step processes forked from a server that imported the project once, instead of each
#: spawned afresh to import dagster, numpy, astropy and scipy again (about a second of CPU
#: per step, a quarter of a backfill's CPU when measured). Runs a person launches keep this
#: default; run config can still choose another.
EXECUTOR: ExecutorDefinition = multiprocess_executor.configured(
    {"start_method": {"forkserver": {"preload_modules": [__name__]}}},
    name="multiprocess_forkserver",
)


def build_resources(
    settings: Settings, *, clock: ClockResource | None = None, **overrides: ConfigurableResource
) -> dict[str, ConfigurableResource]:
    """The resources of one deployment: its store, archive, clock and home."""
    clock = clock or ClockResource()
    resources: dict[str, ConfigurableResource] = {
        "clock": clock,
        "store": store_resource(settings),
        "archive": ArchiveResource(
            archive_url=settings.archive_url,
            schedule_url=settings.schedule_url,
            longterm_archive_url=settings.longterm_archive_url,
            clock=clock,
        ),
        "pipeline": pipeline_resource(settings),
    }
    resources.update(overrides)
    return resources


def build_definitions(
    settings: Settings,
    *,
    clock: ClockResource | None = None,
    **resource_overrides: ConfigurableResource,
) -> Definitions:
    hourly_keys = [a.key.to_user_string() for a in ASSETS if a.partitions_def == HOURLY]
    return Definitions(
        assets=ASSETS,
        asset_checks=[no_stuck_files],
        jobs=[*build_jobs(hourly_keys), scan_disk_job, reprocess_range],
        sensors=SENSORS,
        schedules=[
            daily_slots_schedule,
            hourly_sweep_schedule,
            daily_retention_schedule,
            daily_scan_schedule,
        ],
        resources=build_resources(settings, clock=clock, **resource_overrides),
        executor=EXECUTOR,
    )


defs = build_definitions(get_settings())
