"""Jobs the sensors and schedules launch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import AssetSelection, define_asset_job

if TYPE_CHECKING:  # what define_asset_job returns; not exported at the top level
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

INGEST_HOUR_JOB = "ingest_hour"
SLOTS_JOB = "refresh_slots"
RETENTION_JOB = "apply_retention"


def build_jobs(
    hourly_assets: list[str],
) -> tuple[
    UnresolvedAssetJobDefinition, UnresolvedAssetJobDefinition, UnresolvedAssetJobDefinition
]:
    ingest_hour = define_asset_job(
        INGEST_HOUR_JOB,
        selection=AssetSelection.assets(*hourly_assets),
        tags={"comet/archive": "true"},
        description=(
            "Discover, download, process and hunt in one hour of observations; its composites"
            " and mosaic."
        ),
    )
    refresh_slots = define_asset_job(
        SLOTS_JOB,
        selection=AssetSelection.assets("downlink_slots"),
        tags={"comet/archive": "true"},
        description="Re-read the DSN schedule for a day and reconcile its slots.",
    )
    retention = define_asset_job(
        RETENTION_JOB,
        selection=AssetSelection.assets("product_retention"),
        description="Remove what the retention settings no longer keep; report disk usage.",
    )
    return ingest_hour, refresh_slots, retention
