"""The per-frame products, one entry each: adding a product is one entry plus its renderer.

An entry says what the product is called (the key in ``Frame.products`` and in the store's
``products`` table), its file suffix, its content type (for whoever serves it), the stage of
the science it is rendered from, and the function that writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from comet_pipeline.domain import Detector
from comet_pipeline.imaging.fitsio import write_fits_float32
from comet_pipeline.imaging.png import FULL_SIZE, PREVIEW_SIZE, THUMB_SIZE, write_png
from comet_pipeline.imaging.products.inputs import ProductInputs, require

FITS = "application/fits"
PNG = "image/png"

CALIBRATED = "calibrated"
PROCESSED = "processed"
DIFFERENCE = "difference"
PROCESSED_PNG = "processed_png"
PREVIEW = "preview"
THUMBNAIL = "thumbnail"
DIFFERENCE_PNG = "difference_png"
CALIBRATED_PREVIEW = "calibrated_preview"
DIFFERENCE_PREVIEW = "difference_preview"


class Stage(Enum):
    """The science a product needs; a stage's products are written as soon as it exists."""

    CALIBRATED = "calibrated"
    SUBTRACTED = "subtracted"
    DIFFERENCE = "difference"  # only when there is a recent previous frame


Renderer = Callable[[ProductInputs, Path], object]


@dataclass(frozen=True)
class ProductSpec:
    name: str
    suffix: str  # after the file stem: ``<stem><suffix>``
    content_type: str
    stage: Stage
    render: Renderer
    description: str


def _calibrated_fits(inputs: ProductInputs, path: Path) -> Path:
    return write_fits_float32(
        path, require(inputs.calibrated, "calibrated"), inputs.calibrated_cards
    )


def _processed_fits(inputs: ProductInputs, path: Path) -> Path:
    return write_fits_float32(
        path, require(inputs.subtracted, "subtracted"), inputs.subtracted_cards
    )


def _difference_fits(inputs: ProductInputs, path: Path) -> Path:
    return write_fits_float32(
        path, require(inputs.difference, "difference"), inputs.difference_cards
    )


def _processed_png(size: int) -> Renderer:
    def render(inputs: ProductInputs, path: Path) -> Path:
        return write_png(inputs.subtracted_image(size), path)

    return render


def _difference_png(size: int) -> Renderer:
    def render(inputs: ProductInputs, path: Path) -> Path:
        return write_png(inputs.difference_image(size), path)

    return render


def _calibrated_png(size: int) -> Renderer:
    def render(inputs: ProductInputs, path: Path) -> Path:
        return write_png(inputs.calibrated_image(size), path)

    return render


PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec(
        CALIBRATED, ".cal.fits", FITS, Stage.CALIBRATED, _calibrated_fits,
        "calibrated float32, DN/s per full-resolution pixel, masked pixels NaN, WCS",
    ),
    ProductSpec(
        CALIBRATED_PREVIEW, ".cal.preview.png", PNG, Stage.CALIBRATED, _calibrated_png(PREVIEW_SIZE),
        "the calibrated frame, log-stretched, 512 px, north up (the viewer's 'calibrated')",
    ),
    ProductSpec(
        PROCESSED, ".bgsub.fits", FITS, Stage.SUBTRACTED, _processed_fits,
        "background-subtracted and radially normalised, in units of the local noise sigma",
    ),
    ProductSpec(
        PROCESSED_PNG, ".png", PNG, Stage.SUBTRACTED, _processed_png(FULL_SIZE),
        "the processed frame for display, 1024 px, north up",
    ),
    ProductSpec(
        PREVIEW, ".preview.png", PNG, Stage.SUBTRACTED, _processed_png(PREVIEW_SIZE),
        "the processed frame, 512 px (playback)",
    ),
    ProductSpec(
        THUMBNAIL, ".thumb.png", PNG, Stage.SUBTRACTED, _processed_png(THUMB_SIZE),
        "the processed frame, 256 px",
    ),
    ProductSpec(
        DIFFERENCE, ".diff.fits", FITS, Stage.DIFFERENCE, _difference_fits,
        "running difference (DN/s) with the previous frame, unless the gap is long",
    ),
    ProductSpec(
        DIFFERENCE_PNG, ".diff.png", PNG, Stage.DIFFERENCE, _difference_png(FULL_SIZE),
        "the running difference, sigma-normalised per radius, 1024 px",
    ),
    ProductSpec(
        DIFFERENCE_PREVIEW, ".diff.preview.png", PNG, Stage.DIFFERENCE,
        _difference_png(PREVIEW_SIZE), "the running difference, 512 px (playback)",
    ),
)  # fmt: skip

BY_NAME: dict[str, ProductSpec] = {p.name: p for p in PRODUCTS}


def product(name: str) -> ProductSpec:
    """The entry called ``name``; a clear error for a name no entry has."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no product {name!r}; known: {', '.join(BY_NAME)}") from None


def frame_folder(out_root: Path, detector: Detector, observed_at: datetime) -> Path:
    """``out_root/<detector>/<YYYYMMDD>``: where one day's products of a detector live."""
    return Path(out_root) / Detector(detector).value / observed_at.strftime("%Y%m%d")


def file_stem(name: str) -> str:
    """``22543210.fts`` -> ``22543210``: the stem every product of that file shares."""
    return Path(name).name.split(".")[0]


def product_paths(
    out_root: Path, detector: Detector, observed_at: datetime, name: str
) -> dict[str, Path]:
    """Every registered product's path for one file."""
    folder = frame_folder(out_root, detector, observed_at)
    stem = file_stem(name)
    return {p.name: folder / f"{stem}{p.suffix}" for p in PRODUCTS}
