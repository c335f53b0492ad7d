"""Frames as measurements: region statistics, a frame's sources, the frames' own statistics.

The services behind ``comet-pipeline analyse``. Each reads what the pipeline already wrote
(the products on disk, the frames table) and hands back typed records or astropy tables
with units, so a hunter can check a number the viewer shows, or take it to their own tools.
Positions are FITS array pixels (x = column, y = row, 0-based, (0, 0) lower left).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Column, Table
from astropy.time import Time

from comet_pipeline.domain import Detector, Frame
from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG, frame_sources
from comet_pipeline.hunting.loading import load_hunt_frame
from comet_pipeline.imaging.atomic import atomic_write
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.products import CALIBRATED, PROCESSED
from comet_pipeline.imaging.regions import (
    NOISE_SIGMA,
    RegionStats,
    annulus_mask,
    box_mask,
    region_stats,
)
from comet_pipeline.ingest.source_tables import ecsv_bytes, source_table_path, sources_table
from comet_pipeline.store import LifecycleStore

#: The products a region can be measured on, and the unit of their pixels.
PRODUCT_UNITS: dict[str, u.UnitBase] = {
    PROCESSED: NOISE_SIGMA,
    CALIBRATED: u.Unit("DN/s"),
}

#: Units of the figures ``Frame.stats`` keeps (imaging.stats.FrameStats); others get none.
STATS_UNITS: dict[str, u.UnitBase] = {
    "median": u.Unit("DN/s"),
    "noise_sigma": u.Unit("DN/s"),
    "masked_fraction": u.dimensionless_unscaled,
    "saturated_fraction": u.dimensionless_unscaled,
}

TABLE_FORMATS = ("ecsv", "votable")


class AnalysisError(ValueError):
    """What was asked cannot be measured (no such frame, product gone, empty region)."""


@dataclass(frozen=True)
class Box:
    """Corners (x0, y0), (x1, y1), both included, in FITS array pixels."""

    x0: int
    y0: int
    x1: int
    y1: int


@dataclass(frozen=True)
class Annulus:
    """``r_inner <= r < r_outer`` px around (x, y); None centres it on the Sun (CRPIX)."""

    r_inner: float
    r_outer: float
    x: float | None = None
    y: float | None = None


@dataclass(frozen=True)
class RegionResult:
    """A region's figures on one product of one frame, with where it was centred."""

    frame: str
    detector: Detector
    observed_at: datetime
    product: str
    unit: u.UnitBase
    region: Box | Annulus
    center: tuple[float, float] | None  # the annulus centre used (Sun centre by default)
    stats: RegionStats

    def describe(self) -> str:
        """The region as one would type it back (``--box ...`` / ``--annulus ...``)."""
        if isinstance(self.region, Box):
            r = self.region
            return f"box x {r.x0}..{r.x1}, y {r.y0}..{r.y1} (inclusive)"
        assert self.center is not None
        cx, cy = self.center
        return (
            f"annulus {self.region.r_inner:g} <= r < {self.region.r_outer:g} px "
            f"around ({cx:.2f}, {cy:.2f})"
        )


def _frame(store: LifecycleStore, name: str) -> Frame:
    frame = store.frame(name)
    if frame is None:
        raise AnalysisError(f"no processed frame named {name!r} in the store")
    return frame


def product_image(frame: Frame, product: str) -> tuple[np.ndarray, tuple[float, float]]:
    """The product's pixels (NaN = masked) and the Sun centre (0-based, from CRPIX)."""
    if product not in PRODUCT_UNITS:
        raise AnalysisError(f"regions are measured on {sorted(PRODUCT_UNITS)}, not {product!r}")
    path = frame.path(product)
    if path is None or not Path(path).exists():
        raise AnalysisError(f"{frame.name} has no {product} product on disk")
    image, header = read_image(Path(path))
    h, w = image.shape
    sun = (
        float(header.get("CRPIX1", (w + 1) / 2.0)) - 1.0,
        float(header.get("CRPIX2", (h + 1) / 2.0)) - 1.0,
    )
    return image, sun


def region_statistics(
    store: LifecycleStore, name: str, region: Box | Annulus, *, product: str = PROCESSED
) -> RegionResult:
    """Count, mean, median, std, robust sigma, min, max and sum of a region of a frame."""
    frame = _frame(store, name)
    image, sun = product_image(frame, product)
    center: tuple[float, float] | None = None
    if isinstance(region, Box):
        mask = box_mask(image.shape, region.x0, region.y0, region.x1, region.y1)
    else:
        if (region.x is None) != (region.y is None):
            raise AnalysisError("an annulus centre needs both x and y")
        center = sun if region.x is None or region.y is None else (region.x, region.y)
        mask = annulus_mask(image.shape, region.r_inner, region.r_outer, *center)
    return RegionResult(
        frame=frame.name,
        detector=frame.detector,
        observed_at=frame.observed_at,
        product=product,
        unit=PRODUCT_UNITS[product],
        region=region,
        center=center,
        stats=region_stats(image, mask),
    )


def frame_sources_table(frame: Frame, config: HuntConfig = DEFAULT_CONFIG) -> Table:
    """The sources the hunter finds on one frame, detected now on its processed product.

    The hunter's own loader and per-frame detector (``hunting.hunter.frame_sources``), so
    these are exactly the points the tracker starts from, before the window's storm cap,
    static-source and star masks (those need the other frames of the window); the table
    is the one the hourly hunt saves (``ingest.source_tables.sources_table``).
    """
    if frame.path(PROCESSED) is None or not Path(str(frame.path(PROCESSED))).exists():
        raise AnalysisError(f"{frame.name} has no {PROCESSED} product on disk")
    hunt_frame = load_hunt_frame(frame)
    return sources_table(frame_sources(hunt_frame, config), hunt_frame, frame.detector, config)


def frame_sources_by_name(
    store: LifecycleStore, name: str, config: HuntConfig = DEFAULT_CONFIG
) -> Table:
    """:func:`frame_sources_table` of the stored frame ``name``."""
    return frame_sources_table(_frame(store, name), config)


def saved_sources_path(store: LifecycleStore, products_dir: Path, name: str) -> Path | None:
    """The table the hourly hunt saved for the stored frame ``name``, if it is on disk."""
    frame = _frame(store, name)
    path = source_table_path(products_dir, frame.detector, frame.name, frame.observed_at)
    return path if path.is_file() else None


def frame_sources_saved_or_detected(
    store: LifecycleStore, products_dir: Path, name: str, *, detect: bool = False
) -> tuple[Table, Path | None]:
    """The frame's sources: the hourly hunt's saved table (and its path) when there is one
    and ``detect`` is not asked, else detected now (path None)."""
    saved = None if detect else saved_sources_path(store, products_dir, name)
    if saved is not None:
        return read_table(saved), saved
    return frame_sources_by_name(store, name), None


def frame_stats_table(
    store: LifecycleStore, detector: Detector, since: datetime, until: datetime
) -> Table:
    """The per-frame statistics the frames table keeps (``Frame.stats``), observed in
    [since, until), oldest first, one column per figure (NaN where a frame lacks one)."""
    frames = store.frames_between(detector, since, until)
    keys = sorted({k for f in frames for k in f.stats})
    known = [k for k in STATS_UNITS if k in keys]  # FrameStats' order first
    keys = known + [k for k in keys if k not in STATS_UNITS]
    columns: list[Column] = [
        Column([f.name for f in frames], name="name", dtype=str, description="archive file"),
        Column(
            Time([f.observed_at for f in frames]).isot if frames else np.array([], dtype=str),
            name="observed_at",
            dtype=str,
            description="observation time (UTC, ISO)",
        ),
    ]
    for key in keys:
        columns.append(
            Column(
                np.array([f.stats.get(key, np.nan) for f in frames], dtype=np.float64),
                name=key,
                unit=STATS_UNITS.get(key),
            )
        )
    columns.append(
        Column(
            np.array([np.nan if f.roll_deg is None else f.roll_deg for f in frames], dtype=float),
            name="roll_deg",
            unit=u.deg,
            description="CROTA1 of the header",
        )
    )
    columns.append(
        Column(
            [f.background_kind or "" for f in frames],
            name="background_kind",
            dtype=str,
            description="rolling, or the fallback used",
        )
    )
    table = Table(columns)
    table.meta.update(
        {"detector": detector.value, "since": since.isoformat(), "until": until.isoformat()}
    )
    return table


def write_table(table: Table, path: Path, fmt: str = "ecsv") -> Path:
    """Write ``table`` as ECSV or VOTable, atomically (a reader never sees half of it)."""
    if fmt not in TABLE_FORMATS:
        raise AnalysisError(f"tables are written as {TABLE_FORMATS}, not {fmt!r}")
    data = votable_bytes(table) if fmt == "votable" else ecsv_bytes(table)
    return atomic_write(Path(path), [data])


def votable_bytes(table: Table) -> bytes:
    """``table`` as a VOTable document: meta as strings (what its INFO elements carry) and
    the project's ``sigma`` written as it is (VOUnit does not know it; :func:`read_table`
    gives it back), without the warning astropy gives about that."""
    out = table.copy(copy_data=False)
    out.meta = {k: str(v) for k, v in table.meta.items()}
    raw = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Invalid unit string 'sigma'")
        out.write(raw, format="votable")
    return raw.getvalue()


def read_table(path: Path) -> Table:
    """A table written here, read back with its units. The processed frames' ``sigma`` is
    a unit of this project: enabled while reading ECSV; VOTable (VOUnit has no custom
    units) keeps the string, which is turned back into the unit here."""
    if Path(path).suffix not in (".xml", ".vot", ".votable"):
        with u.add_enabled_units([NOISE_SIGMA]):
            return Table.read(path, format="ascii.ecsv")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Invalid unit string 'sigma'")
        table = Table.read(path, format="votable")
    for column in table.itercols():
        # astropy's VOUnit reader makes an unknown name a fresh unit of that name
        if column.unit is not None and column.unit.to_string() == NOISE_SIGMA.name:
            column.unit = NOISE_SIGMA
    return table
