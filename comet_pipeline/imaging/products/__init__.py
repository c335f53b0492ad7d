"""The per-frame product registry: name, suffix, content type, stage and renderer of each."""

from comet_pipeline.imaging.products.inputs import ProductInputs
from comet_pipeline.imaging.products.registry import (
    BY_NAME,
    CALIBRATED,
    CALIBRATED_PREVIEW,
    DIFFERENCE,
    DIFFERENCE_PNG,
    DIFFERENCE_PREVIEW,
    PREVIEW,
    PROCESSED,
    PROCESSED_PNG,
    PRODUCTS,
    THUMBNAIL,
    ProductSpec,
    Stage,
    file_stem,
    frame_folder,
    product,
    product_paths,
)

__all__ = [
    "BY_NAME",
    "CALIBRATED",
    "CALIBRATED_PREVIEW",
    "DIFFERENCE",
    "DIFFERENCE_PNG",
    "DIFFERENCE_PREVIEW",
    "PREVIEW",
    "PROCESSED",
    "PROCESSED_PNG",
    "PRODUCTS",
    "THUMBNAIL",
    "ProductInputs",
    "ProductSpec",
    "Stage",
    "file_stem",
    "frame_folder",
    "product",
    "product_paths",
]
