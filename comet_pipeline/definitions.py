"""The one Dagster ``Definitions`` object of the project."""

from __future__ import annotations

import warnings

from dagster import BetaWarning, ConfigurableResource, Definitions

from comet_pipeline.defs.assets.candidates import build_candidates_asset
from comet_pipeline.defs.assets.ingest import build_ingest_assets
from comet_pipeline.defs.assets.playback import build_playback_asset
from comet_pipeline.defs.checks import no_stuck_files
from comet_pipeline.defs.jobs import build_jobs
from comet_pipeline.defs.partitions import daily_partitions, hourly_partitions
from comet_pipeline.defs.resources import (
    ArchiveResource,
    ClockResource,
    FileTreeResource,
    StoreResource,
)
from comet_pipeline.defs.schedules import daily_slots_schedule, hourly_sweep_schedule
from comet_pipeline.defs.sensors import build_sensors
from comet_pipeline.settings import Settings, get_settings


def build_resources(
    settings: Settings, *, clock: ClockResource | None = None, **overrides: ConfigurableResource
) -> dict[str, ConfigurableResource]:
    clock = clock or ClockResource()
    resources: dict[str, ConfigurableResource] = {
        "clock": clock,
        "store": StoreResource(db_path=str(settings.layout.lifecycle_db)),
        "archive": ArchiveResource(
            archive_url=settings.archive_url, schedule_url=settings.schedule_url, clock=clock
        ),
        "files": FileTreeResource(home=str(settings.home)),
    }
    resources.update(overrides)
    return resources


def build_definitions(
    settings: Settings,
    *,
    clock: ClockResource | None = None,
    **resource_overrides: ConfigurableResource,
) -> Definitions:
    hourly, daily = hourly_partitions(settings), daily_partitions(settings)
    with warnings.catch_warnings():
        # backfill_policy is marked beta; we rely on it knowingly (ranges in few runs).
        warnings.simplefilter("ignore", BetaWarning)
        assets = [
            *build_ingest_assets(settings, hourly, daily),
            build_candidates_asset(settings, hourly),
            build_playback_asset(settings, daily),
        ]
    hourly_keys = [a.key.to_user_string() for a in assets if a.partitions_def == hourly]
    return Definitions(
        assets=assets,
        asset_checks=[no_stuck_files],
        jobs=list(build_jobs(hourly_keys)),
        sensors=build_sensors(settings),
        schedules=[daily_slots_schedule, hourly_sweep_schedule],
        resources=build_resources(settings, clock=clock, **resource_overrides),
    )


defs = build_definitions(get_settings())
