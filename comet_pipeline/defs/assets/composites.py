"""The hourly colour composites: per detector three frames as R, G, B; C2 on C3."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from comet_pipeline.defs.failures import fail_fast
from comet_pipeline.defs.metadata import Metadata, inline_image, md_table
from comet_pipeline.defs.partitions import HOURLY_ASSET
from comet_pipeline.defs.resources import PipelineResource, StoreResource
from comet_pipeline.imaging.composite import DEFAULT_STRETCH
from comet_pipeline.ingest.composites import CompositeResult, build_composites, channel_rows


def composites_metadata(result: CompositeResult) -> Metadata:
    """Counts, the stretch, and per composite its thumbnail, files and channel times."""
    metadata: Metadata = {
        "composites": len(result.products),
        "stretch": DEFAULT_STRETCH.describe(),
        "elapsed_s": round(result.elapsed_s, 2),
    }
    if result.skipped:
        metadata["skipped"] = md_table(["composite", "why not"], sorted(result.skipped.items()))
    for product in result.products:
        key = f"{product.detector.value}_{product.kind}" if product.kind != "c2c3" else "c2c3"
        times = " / ".join(f"{ch.observed_at:%H:%M}" for ch in product.channels)
        metadata[f"{key}_preview"] = inline_image(
            product.thumbnail, f"{product.kind} {product.detector.label} {times} UT"
        )
        metadata[f"{key}_channels"] = md_table(
            ["colour R,G,B", "frame", "det", "observed (UT)", "drift shift px"],
            channel_rows(product),
        )
        metadata[f"{key}_png"] = str(product.png)
        metadata[f"{key}_fits"] = str(product.fits)
    return metadata


@asset(
    **HOURLY_ASSET,
    group_name="products",
    kinds={"png", "fits"},
    deps=["processed_frames"],
    description=(
        "Colour composites of the hour: three background-subtracted frames per detector as "
        "red, green, blue (star drift taken out, so movers are coloured and stars grey), "
        "and C2 placed on the C3 grid beside C3."
    ),
)
def frame_composites(
    context: AssetExecutionContext, store: StoreResource, pipeline: PipelineResource
) -> MaterializeResult:
    with fail_fast():
        hour = context.partition_time_window.start
        result = build_composites(
            store.get(), pipeline.layout.products_dir, hour, pipeline.detectors
        )
        return MaterializeResult(metadata=composites_metadata(result))
