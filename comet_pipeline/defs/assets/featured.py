"""The daily watch list: planets in the fields, sungrazer corridors, gaps, overlay PNGs."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from comet_pipeline.defs.failures import fail_fast
from comet_pipeline.defs.metadata import Metadata, md_table
from comet_pipeline.defs.partitions import DAILY
from comet_pipeline.defs.resources import PipelineResource, StoreResource
from comet_pipeline.ingest.featured import FeaturedResult, build_featured


def _span(lo_hi: tuple[float, float], digits: int = 0) -> str:
    lo, hi = (round(v, digits) for v in lo_hi)
    return f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"


def featured_metadata(result: FeaturedResult) -> Metadata:
    """Corridors, planets and gaps as tables; the overlays as paths."""
    metadata: Metadata = {
        "elapsed_s": round(result.elapsed_s, 2),
        "corridors": md_table(
            ["family", "camera", "enters at (deg)", "heading (deg)", "px/h", "hours in field"],
            [
                (
                    e.family,
                    e.detector.label,
                    _span(e.entry_angle_deg),
                    _span(e.heading_deg),
                    _span(e.speed_px_h),
                    _span(e.hours_in_field, 1),
                )
                for e in result.envelopes
                if e.visible
            ],
        ),
        "planets": md_table(
            ["camera", "planet", "from (UT)", "to (UT)", "hours"],
            [
                (p.detector.label, p.planet, f"{p.first:%H:%M}", f"{p.last:%H:%M}", p.hours)
                for p in result.planets
            ],
        ),
        "no_pass_hours": round(sum(g.hours for g in result.pass_gaps), 1),
        "keyholes": md_table(
            ["what", "from (UT)", "to (UT)"],
            [
                (
                    "no pass" if g.detector is None else f"no {g.detector.label} file",
                    f"{g.start:%H:%M}",
                    f"{g.end:%H:%M}",
                )
                for g in result.pass_gaps + result.data_gaps
            ],
        ),
    }
    for detector, ok in result.kreutz_well_placed.items():
        metadata[f"{detector.value}/kreutz_well_placed"] = ok
    for detector, path in result.overlays.items():
        metadata[f"{detector.value}/overlay"] = MetadataValue.path(str(path))
    if result.summary is not None:
        metadata["summary"] = MetadataValue.path(str(result.summary))
    return metadata


@asset(
    partitions_def=DAILY,
    group_name="products",
    kinds={"png", "json"},
    deps=["processed_frames"],
    description=(
        "What to watch today: planets per field, the Kreutz/Meyer/Marsden/Kracht corridors "
        "(direction, speed, time in field), hours without a pass or a file, overlay PNGs."
    ),
)
def featured_targets(
    context: AssetExecutionContext, store: StoreResource, pipeline: PipelineResource
) -> MaterializeResult:
    with fail_fast():
        day = context.partition_time_window.start.date()
        result = build_featured(store.get(), pipeline.layout.products_dir, day, pipeline.detectors)
        return MaterializeResult(metadata=featured_metadata(result))
