"""The platform's products from disk: the hour's colour composites and C2+C3 mosaics, and a
day's featured targets (``/api/composites``, ``/api/mosaics``, ``/api/product-days``,
``/api/featured`` and their files under ``/products/...``).

The store keeps none of these (the services write files only), so the listings read the
folders under ``products_dir``. A file URL mirrors the folder layout; each segment is parsed
into typed values (kind, day, hour, detector), the path is rebuilt from those with the ingest
services' own path functions, and the name must come back exactly: nothing of the URL ever
becomes a path, so ``..`` or an unknown name is a 404 before the disk is touched. A file
that resolves (symlinks followed) outside ``products_dir`` is a 403.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ValidationError

from comet_pipeline.domain import Detector
from comet_pipeline.imaging.products.registry import PNG
from comet_pipeline.ingest.composites import C2C3, TEMPORAL, composite_stem
from comet_pipeline.ingest.featured import featured_dir, overlay_path
from comet_pipeline.ingest.mosaics import daily_paths, hourly_paths, mosaics_dir
from comet_pipeline.viewer.api import Day, Since, Until
from comet_pipeline.viewer.context import Context
from comet_pipeline.viewer.errors import ERROR_RESPONSES, Forbidden, NotFound, Unavailable
from comet_pipeline.viewer.params import window
from comet_pipeline.viewer.product_schemas import (
    CompositeKind,
    CompositeList,
    CompositeOut,
    DailyMosaicOut,
    EnvelopeOut,
    FeaturedDay,
    FileLink,
    GapOut,
    HourlyMosaicOut,
    MosaicList,
    OverlayOut,
    PlanetOut,
    ProductDay,
    ProductDays,
)
from comet_pipeline.viewer.products import REVALIDATE, serve_file

api_router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)
files_router = APIRouter(prefix="/products")

FITS = "application/fits"
#: The suffixes a product file may have, and what it is served as.
SUFFIXES = {".png": PNG, ".thumb.png": PNG, ".fits.fz": FITS}
_DAY = re.compile(r"\d{8}")
_COMPOSITE = re.compile(r"(\d{8})_(\d{2})00_([a-z0-9_]+?)(\.thumb\.png|\.png|\.fits\.fz)")
_HOURLY = re.compile(r"(\d{8})_(\d{2})00_mosaic(\.png|\.fits\.fz)")
_DAILY = re.compile(r"(\d{8})_mosaic(\.png|\.fits\.fz)")
_OVERLAY = re.compile(r"(\d{8})_([a-z0-9]+)\.png")
_SUMMARY = re.compile(r"(\d{8})\.json")

_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file (PNG, or the FITS where there is one)",
        "content": {PNG: {}, FITS: {}},
    },
    403: ERROR_RESPONSES[404] | {"description": "the file resolves outside the products folder"},
    404: ERROR_RESPONSES[404] | {"description": "no such product file (or a malformed name)"},
    422: ERROR_RESPONSES[422],
}


@dataclass(frozen=True)
class CompositeLabel:
    kind: CompositeKind
    detector: Detector


#: The file labels the composites service writes: a temporal one per detector, and C2C3.
LABELS: dict[str, CompositeLabel] = {
    **{f"{d.value}_{TEMPORAL}": CompositeLabel(CompositeKind.TEMPORAL, d) for d in Detector},
    C2C3: CompositeLabel(CompositeKind.C2C3, Detector.C3),
}


def _day_of(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%Y%m%d").replace(tzinfo=UTC).date()
    except ValueError:
        return None


def _hour_of(day_text: str, hour_text: str) -> datetime | None:
    day = _day_of(day_text)
    hour = int(hour_text)
    if day is None or hour > 23:
        return None
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _with_suffix(stem: Path, suffix: str) -> Path:
    return stem.with_name(stem.name + suffix)


def summary_path(products_dir: Path, day: date) -> Path:
    """Where ``ingest.featured.build_featured`` writes the day's JSON summary."""
    return featured_dir(products_dir) / f"{day:%Y%m%d}.json"


# ---- URLs (the folder layout under /products) ------------------------------------------


def composite_url(kind: CompositeKind, hour: datetime, label: str, suffix: str) -> str:
    return f"/products/composites/{kind.value}/{hour:%Y%m%d}/{hour:%Y%m%d_%H%M}_{label}{suffix}"


def hourly_mosaic_url(hour: datetime, suffix: str) -> str:
    return f"/products/mosaics/hourly/{hour:%Y%m%d}/{hour:%Y%m%d_%H%M}_mosaic{suffix}"


def daily_mosaic_url(day: date, suffix: str) -> str:
    return f"/products/mosaics/daily/{day:%Y%m%d}_mosaic{suffix}"


def overlay_url(detector: Detector, day: date) -> str:
    return f"/products/featured/{detector.value}/{day:%Y%m%d}_{detector.value}.png"


def _link(path: Path, url: str) -> FileLink | None:
    """The file's link when it is a file now (a listing races the services' writes)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    if not path.is_file():
        return None
    return FileLink(
        url=url,
        size_bytes=stat.st_size,
        modified_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
    )


# ---- listing the folders ---------------------------------------------------------------


def _entries(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as found:
            return sorted(e.name for e in found)
    except OSError:  # not there (nothing made yet) or not a folder
        return []


def _days_in(folder: Path, start: datetime, end: datetime) -> Iterator[tuple[date, Path]]:
    """The ``YYYYMMDD`` sub-folders of ``folder`` whose day overlaps [start, end)."""
    for name in _entries(folder):
        day = _day_of(name) if _DAY.fullmatch(name) else None
        if day is None:
            continue
        begin = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if begin < end and begin + timedelta(days=1) > start:
            yield day, folder / name


def _composites_root(products_dir: Path, kind: CompositeKind) -> Path:
    # composite_stem is .../composites/<kind>/<YYYYMMDD>/<stem>: its grandparent is <kind>
    return composite_stem(products_dir, kind.value, "x", datetime(2000, 1, 1, tzinfo=UTC)).parents[
        1
    ]


def list_composites(products_dir: Path, start: datetime, end: datetime) -> list[CompositeOut]:
    """The composite PNGs on disk whose hour starts in [start, end)."""
    found: list[CompositeOut] = []
    for kind in CompositeKind:
        for _, folder in _days_in(_composites_root(products_dir, kind), start, end):
            for name in _entries(folder):
                match = _COMPOSITE.fullmatch(name)
                if match is None or match[4] != ".png":
                    continue
                hour = _hour_of(match[1], match[2])
                label = LABELS.get(match[3])
                if hour is None or label is None or label.kind is not kind:
                    continue
                if not start <= hour < end:
                    continue
                stem = composite_stem(products_dir, kind.value, match[3], hour)
                png = _link(_with_suffix(stem, ".png"), composite_url(kind, hour, match[3], ".png"))
                if png is None:
                    continue
                found.append(
                    CompositeOut(
                        kind=kind,
                        detector=label.detector,
                        label=match[3],
                        hour=hour,
                        png=png,
                        thumbnail=_link(
                            _with_suffix(stem, ".thumb.png"),
                            composite_url(kind, hour, match[3], ".thumb.png"),
                        ),
                        fits=_link(
                            _with_suffix(stem, ".fits.fz"),
                            composite_url(kind, hour, match[3], ".fits.fz"),
                        ),
                    )
                )
    return sorted(found, key=lambda c: (c.hour, c.label))


def list_hourly_mosaics(
    products_dir: Path, start: datetime, end: datetime
) -> list[HourlyMosaicOut]:
    found: list[HourlyMosaicOut] = []
    for _, folder in _days_in(mosaics_dir(products_dir) / "hourly", start, end):
        for name in _entries(folder):
            match = _HOURLY.fullmatch(name)
            hour = _hour_of(match[1], match[2]) if match and match[3] == ".png" else None
            if hour is None or not start <= hour < end:
                continue
            files = hourly_paths(products_dir, hour)
            png = _link(files.png, hourly_mosaic_url(hour, ".png"))
            if png is not None:
                fits = _link(files.fits, hourly_mosaic_url(hour, ".fits.fz"))
                found.append(HourlyMosaicOut(hour=hour, png=png, fits=fits))
    return sorted(found, key=lambda m: m.hour)


def list_daily_mosaics(products_dir: Path, start: datetime, end: datetime) -> list[DailyMosaicOut]:
    found: list[DailyMosaicOut] = []
    for name in _entries(mosaics_dir(products_dir) / "daily"):
        match = _DAILY.fullmatch(name)
        day = _day_of(match[1]) if match and match[2] == ".png" else None
        if day is None:
            continue
        begin = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if not (begin < end and begin + timedelta(days=1) > start):
            continue
        files = daily_paths(products_dir, day)
        png = _link(files.png, daily_mosaic_url(day, ".png"))
        if png is not None:
            fits = _link(files.fits, daily_mosaic_url(day, ".fits.fz"))
            found.append(DailyMosaicOut(day=day, png=png, fits=fits))
    return sorted(found, key=lambda m: m.day)


def product_days(products_dir: Path) -> list[ProductDay]:
    """Every day with a composite, a mosaic or a featured summary, newest first."""
    everything = (datetime(1995, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
    days: dict[date, ProductDay] = {}

    def day_row(day: date) -> ProductDay:
        return days.setdefault(
            day,
            ProductDay(day=day, composites=0, hourly_mosaics=0, daily_mosaic=False, featured=False),
        )

    for kind in CompositeKind:
        for day, folder in _days_in(_composites_root(products_dir, kind), *everything):
            count = sum(
                1
                for n in _entries(folder)
                if (m := _COMPOSITE.fullmatch(n)) and m[4] == ".png" and m[3] in LABELS
            )
            if count:
                day_row(day).composites += count
    for day, folder in _days_in(mosaics_dir(products_dir) / "hourly", *everything):
        count = sum(1 for n in _entries(folder) if (m := _HOURLY.fullmatch(n)) and m[3] == ".png")
        if count:
            day_row(day).hourly_mosaics += count
    for mosaic in list_daily_mosaics(products_dir, *everything):
        day_row(mosaic.day).daily_mosaic = True
    for name in _entries(featured_dir(products_dir)):
        match = _SUMMARY.fullmatch(name)
        summary_day = _day_of(match[1]) if match else None
        if summary_day is not None:
            day_row(summary_day).featured = True
    return sorted(days.values(), key=lambda d: d.day, reverse=True)


# ---- the featured summary ----------------------------------------------------------------


class _EnvelopeFile(BaseModel):
    family: str
    detector: Detector
    entry_angle_deg: tuple[float, float]
    heading_deg: tuple[float, float]
    speed_px_h: tuple[float, float]
    hours_in_field: tuple[float, float]
    front_of_sun: bool


class _PlanetFile(BaseModel):
    detector: Detector
    planet: str
    first: datetime
    last: datetime
    hours: int


class _FeaturedFile(BaseModel):
    """The JSON ``ingest.featured`` writes (its ``overlays`` paths are not trusted: the
    overlay files are looked up by day and detector instead)."""

    day: date
    kreutz_well_placed: dict[Detector, bool]
    envelopes: list[_EnvelopeFile]
    planets: list[_PlanetFile]
    pass_gaps: list[tuple[datetime, datetime]]
    data_gaps: list[tuple[Detector | None, datetime, datetime]]


def _gap(detector: Detector | None, start: datetime, end: datetime) -> GapOut:
    hours = round((end - start).total_seconds() / 3600.0, 3)
    return GapOut(detector=detector, start=start, end=end, hours=hours)


def featured_day(products_dir: Path, day: date) -> FeaturedDay:
    """The day's summary as written, with links to the overlays on disk; NotFound when the
    day has none, Unavailable when the file cannot be read as the service writes it."""
    path = summary_path(products_dir, day)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"no featured-targets summary for {day:%Y-%m-%d}") from None
    except OSError as err:
        raise Unavailable(f"the featured summary of {day:%Y-%m-%d} cannot be read: {err}") from None
    try:
        raw = _FeaturedFile.model_validate(json.loads(text))
    except (ValueError, ValidationError) as err:
        first = str(err).splitlines()[0]
        raise Unavailable(
            f"the featured summary of {day:%Y-%m-%d} is not in the expected form ({first})"
        ) from None
    overlays = []
    for detector in Detector:
        png = _link(overlay_path(products_dir, detector, day), overlay_url(detector, day))
        if png is not None:
            overlays.append(OverlayOut(detector=detector, png=png))
    return FeaturedDay(
        day=raw.day,
        kreutz_well_placed=raw.kreutz_well_placed,
        planets=[PlanetOut.model_validate(p.model_dump()) for p in raw.planets],
        pass_gaps=[_gap(None, s, e) for s, e in raw.pass_gaps],
        data_gaps=[_gap(d, s, e) for d, s, e in raw.data_gaps],
        envelopes=[EnvelopeOut.model_validate(e.model_dump()) for e in raw.envelopes],
        overlays=overlays,
    )


# ---- the API -------------------------------------------------------------------------------


@api_router.get("/composites", summary="The hours' colour composites on disk")
def composites(ctx: Context, since: Since = None, until: Until = None) -> CompositeList:
    """Composites whose hour starts in [since, until): a temporal one per detector (three
    frames of the hour as R, G, B) and C2 on the C3 grid, with their file URLs."""
    start, end = window(since, until)
    return CompositeList(items=list_composites(ctx.settings.layout.products_dir, start, end))


@api_router.get("/mosaics", summary="The C2+C3 mosaics on disk, hourly and daily")
def mosaics(ctx: Context, since: Since = None, until: Until = None) -> MosaicList:
    """Hourly mosaics whose hour starts in [since, until), daily ones whose day overlaps it."""
    start, end = window(since, until)
    products_dir = ctx.settings.layout.products_dir
    return MosaicList(
        hourly=list_hourly_mosaics(products_dir, start, end),
        daily=list_daily_mosaics(products_dir, start, end),
    )


@api_router.get("/product-days", summary="The days that have composites, mosaics or featured")
def days_with_products(ctx: Context) -> ProductDays:
    """What the page's day picker offers: per day, how many of each product there are."""
    return ProductDays(days=product_days(ctx.settings.layout.products_dir))


@api_router.get("/featured", summary="One day's featured targets: planets, Kreutz, gaps")
def featured(ctx: Context, day: Day) -> FeaturedDay:
    """The summary ``featured_targets`` wrote for the day: planets in each field, whether
    the Kreutz corridor is well placed, the hours without a pass or a file, the families'
    corridors, and the overlay PNGs."""
    return featured_day(ctx.settings.layout.products_dir, day)


# ---- the files -----------------------------------------------------------------------------


def _serve(products_dir: Path, request: Request, path: Path, suffix: str) -> Response:
    """``path`` (rebuilt from parsed values) when it is a file inside the products folder."""
    root = products_dir.resolve()
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise Forbidden(f"{path.name} lies outside the products folder; it is not served")
    if not resolved.is_file():
        raise NotFound(f"no product file {path.name!r} (not made yet, or removed)")
    return serve_file(request, resolved, SUFFIXES[suffix], REVALIDATE)


def _refuse(name: str) -> NotFound:
    return NotFound(f"no product file named {name!r}")


@files_router.get(
    "/composites/{kind}/{day}/{file}",
    summary="A composite's PNG, thumbnail or channel-cube FITS",
    response_class=FileResponse,
    responses=_FILE_RESPONSES,
)
def composite_file(ctx: Context, request: Request, kind: str, day: str, file: str) -> Response:
    """``file`` as the listing names it, e.g. ``20250610_0300_c2_temporal.png``; revalidated
    (``no-cache`` with an ETag): a re-run hour rewrites it."""
    match = _COMPOSITE.fullmatch(file)
    label = LABELS.get(match[3]) if match else None
    hour = _hour_of(match[1], match[2]) if match else None
    if match is None or label is None or hour is None or label.kind.value != kind:
        raise _refuse(file)
    if match[1] != day:
        raise _refuse(f"{day}/{file}")
    stem = composite_stem(ctx.settings.layout.products_dir, kind, match[3], hour)
    path = _with_suffix(stem, match[4])
    return _serve(ctx.settings.layout.products_dir, request, path, match[4])


@files_router.get(
    "/mosaics/hourly/{day}/{file}",
    summary="An hourly mosaic's PNG or FITS",
    response_class=FileResponse,
    responses=_FILE_RESPONSES,
)
def hourly_mosaic_file(ctx: Context, request: Request, day: str, file: str) -> Response:
    match = _HOURLY.fullmatch(file)
    hour = _hour_of(match[1], match[2]) if match else None
    if match is None or hour is None or match[1] != day:
        raise _refuse(f"{day}/{file}")
    files = hourly_paths(ctx.settings.layout.products_dir, hour)
    path = files.png if match[3] == ".png" else files.fits
    return _serve(ctx.settings.layout.products_dir, request, path, match[3])


@files_router.get(
    "/mosaics/daily/{file}",
    summary="A daily mosaic's PNG or FITS",
    response_class=FileResponse,
    responses=_FILE_RESPONSES,
)
def daily_mosaic_file(ctx: Context, request: Request, file: str) -> Response:
    match = _DAILY.fullmatch(file)
    day = _day_of(match[1]) if match else None
    if match is None or day is None:
        raise _refuse(file)
    files = daily_paths(ctx.settings.layout.products_dir, day)
    path = files.png if match[2] == ".png" else files.fits
    return _serve(ctx.settings.layout.products_dir, request, path, match[2])


@files_router.get(
    "/featured/{detector}/{file}",
    summary="A day's featured-targets overlay (PNG)",
    response_class=FileResponse,
    responses=_FILE_RESPONSES,
)
def overlay_file(ctx: Context, request: Request, detector: str, file: str) -> Response:
    match = _OVERLAY.fullmatch(file)
    day = _day_of(match[1]) if match else None
    known = {d.value: d for d in Detector}
    if match is None or day is None or match[2] != detector or detector not in known:
        raise _refuse(f"{detector}/{file}")
    path = overlay_path(ctx.settings.layout.products_dir, known[detector], day)
    return _serve(ctx.settings.layout.products_dir, request, path, ".png")
