"""The per-frame products, one entry each: adding a product is one entry plus its renderer.

An entry says what the product is called (the key in ``Frame.products`` and in the store's
``products`` table), its file suffix, its content type (for whoever serves it), the stage of
the science it is rendered from, and the function that writes it.

Compact (issue 13): the FITS are RICE tile-compressed (``.fits.fz``, the suffix fpack and
the archives give such files, so a person or a tool knows to read the image from the
extension), the calibrated one losslessly, the processed one in steps of 1/16 sigma
(:mod:`..fitsio`); the noisy PNGs keep fewer grey levels and the calibrated preview is
predicted (:mod:`..png`). Files of older versions are still read (:func:`..fitsio.read_image`)
and still known here: ``legacy_suffixes`` of a product, and :data:`RETIRED` products, which
are no longer written but may be on disk and in the store (served, pruned, replaced when
the frame is processed again: :func:`legacy_paths`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path

from comet_pipeline.domain import Detector
from comet_pipeline.imaging.fitsio import (
    PROCESSED_STEP,
    write_dn_fits,
    write_quantized_fits,
    write_stepped_fits,
)
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
    legacy_suffixes: tuple[str, ...] = ()  # what older versions called the same file
    retired: bool = False  # written by older versions only (see CATALOGUE)


def _calibrated_fits(inputs: ProductInputs, path: Path) -> Path:
    """Lossless: the raw DN (BLANK where masked), BSCALE/BZERO giving DN/s."""
    cal = require(inputs.calibrated, "calibrated")
    if inputs.raw is not None and inputs.mask is not None:
        written = write_dn_fits(
            path,
            inputs.raw,
            inputs.mask,
            inputs.calibrated_cards,
            offset=inputs.dn_offset,
            scale=inputs.dn_scale,
        )
        if written is not None:
            return written
    return write_quantized_fits(path, cal, inputs.calibrated_cards)  # raw not integers


def _processed_fits(inputs: ProductInputs, path: Path) -> Path:
    return write_stepped_fits(
        path, require(inputs.subtracted, "subtracted"), inputs.subtracted_cards, PROCESSED_STEP
    )


#: Grey levels kept per PNG size for the noise-dominated frames (processed, difference):
#: the step stays ~1/20 of the background noise's spread at each size (see ``png``).
NOISY_LEVELS = {FULL_SIZE: 64, PREVIEW_SIZE: 128, THUMB_SIZE: 256}


def _processed_png(size: int) -> Renderer:
    def render(inputs: ProductInputs, path: Path) -> Path:
        return write_png(inputs.subtracted_image(size), path, levels=NOISY_LEVELS[size])

    return render


def _difference_png(size: int) -> Renderer:
    def render(inputs: ProductInputs, path: Path) -> Path:
        return write_png(inputs.difference_image(size), path, levels=NOISY_LEVELS[size])

    return render


def _calibrated_png(size: int) -> Renderer:
    def render(inputs: ProductInputs, path: Path) -> Path:
        return write_png(inputs.calibrated_image(size), path, predict=True)

    return render


def _retired(_inputs: ProductInputs, path: Path) -> Path:
    raise RuntimeError(f"{path.name}: a retired product is never written")


#: Every product a stored frame may have, in the order they are listed (API, errors): the
#: ones this version writes and the retired ones (``retired=True``). The running difference
#: FITS is retired: it is ``cal - previous cal`` (float32), recomputed bit for bit from the
#: two lossless calibrated products (``imaging.difference.difference_of_files``) in a few
#: ms, cheaper than keeping 4.2 MB (0.7 MB compressed) per frame. Its PNGs, which the
#: viewer shows, stay.
CATALOGUE: tuple[ProductSpec, ...] = (
    ProductSpec(
        CALIBRATED, ".cal.fits.fz", FITS, Stage.CALIBRATED, _calibrated_fits,
        "calibrated float32, DN/s per full-resolution pixel, masked pixels NaN, WCS",
        (".cal.fits",),
    ),
    ProductSpec(
        CALIBRATED_PREVIEW, ".cal.preview.png", PNG, Stage.CALIBRATED, _calibrated_png(PREVIEW_SIZE),
        "the calibrated frame, log-stretched, 512 px, north up (the viewer's 'calibrated')",
    ),
    ProductSpec(
        PROCESSED, ".bgsub.fits.fz", FITS, Stage.SUBTRACTED, _processed_fits,
        "background-subtracted and radially normalised, in units of the local noise sigma"
        " (kept to 1/32 sigma)", (".bgsub.fits",),
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
        DIFFERENCE, ".diff.fits", FITS, Stage.DIFFERENCE, _retired,
        "running difference (DN/s) with the previous frame; no longer written (recomputed"
        " from two calibrated frames)", retired=True,
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

#: What processing writes (each when its stage's science exists).
PRODUCTS: tuple[ProductSpec, ...] = tuple(p for p in CATALOGUE if not p.retired)
#: What older versions wrote and this one does not: still served and pruned by name.
RETIRED: tuple[ProductSpec, ...] = tuple(p for p in CATALOGUE if p.retired)
BY_NAME: dict[str, ProductSpec] = {p.name: p for p in CATALOGUE}


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


def legacy_paths(
    out_root: Path, detector: Detector, observed_at: datetime, name: str
) -> list[Path]:
    """Where older versions put this file's products under other names (``.cal.fits``,
    the retired ``.diff.fits``…): what processing it again replaces."""
    folder = frame_folder(out_root, detector, observed_at)
    stem = file_stem(name)
    suffixes = [s for p in PRODUCTS for s in p.legacy_suffixes] + [p.suffix for p in RETIRED]
    return [folder / f"{stem}{suffix}" for suffix in suffixes]
