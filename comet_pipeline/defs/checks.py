"""Asset checks that are not part of a materialization."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from comet_pipeline.defs.resources import ClockResource, StoreResource


@asset_check(
    asset="downloaded_files",
    description="No file sits in DOWNLOADING or PROCESSING with an expired lease.",
)
def no_stuck_files(store: StoreResource, clock: ClockResource) -> AssetCheckResult:
    stuck = store.get().stuck_files(clock.now())
    return AssetCheckResult(
        passed=not stuck,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "stuck": len(stuck),
            "files": ", ".join(f"{r.name} ({r.state.value})" for r in stuck[:20]) or "none",
        },
    )
