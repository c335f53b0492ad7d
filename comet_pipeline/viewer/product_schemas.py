"""Response bodies of the platform's products: the hour's composites and mosaics, the days
that have any, and a day's featured targets (typed, so the OpenAPI page documents them and
the page's JavaScript reads a fixed shape, never the files' own JSON)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from comet_pipeline.domain import Detector


class CompositeKind(StrEnum):
    TEMPORAL = "temporal"
    C2C3 = "c2c3"


class FileLink(BaseModel):
    url: str
    size_bytes: int
    modified_at: datetime = Field(description="the file's mtime: a re-run hour rewrites it")


class CompositeOut(BaseModel):
    """One composite of an hour: per detector three frames as R, G, B (``temporal``), or C2
    placed on the C3 grid beside C3 (``c2c3``, on C3's grid)."""

    kind: CompositeKind
    detector: Detector = Field(description="the detector whose grid it is on")
    label: str = Field(description="c2_temporal, c3_temporal or c2c3")
    hour: datetime = Field(description="the start of the hour (UTC)")
    png: FileLink = Field(description="the RGB PNG, 1024 px")
    thumbnail: FileLink | None = Field(description="256 px; null when it is not on disk")
    fits: FileLink | None = Field(description="the channel cube (.fits.fz) with WCS and times")


class CompositeList(BaseModel):
    items: list[CompositeOut] = Field(description="by hour, then label")


class HourlyMosaicOut(BaseModel):
    hour: datetime = Field(description="the start of the hour (UTC)")
    png: FileLink
    fits: FileLink | None


class DailyMosaicOut(BaseModel):
    day: date
    png: FileLink
    fits: FileLink | None


class MosaicList(BaseModel):
    """C2 reprojected into the C3 grid: the hours of the window and the days it touches."""

    hourly: list[HourlyMosaicOut] = Field(description="by hour")
    daily: list[DailyMosaicOut] = Field(description="by day")


class ProductDay(BaseModel):
    day: date
    composites: int = Field(description="composite PNGs of the day (up to 3 an hour)")
    hourly_mosaics: int
    daily_mosaic: bool
    featured: bool = Field(description="the featured-targets summary exists")


class ProductDays(BaseModel):
    days: list[ProductDay] = Field(description="newest first; only days with a product")


class PlanetOut(BaseModel):
    detector: Detector
    planet: str
    first: datetime = Field(description="first whole hour in the field")
    last: datetime = Field(description="last whole hour in the field")
    hours: int


class GapOut(BaseModel):
    """Hours [start, end) with no downlink pass (``detector`` null) or no file of a detector."""

    detector: Detector | None
    start: datetime
    end: datetime
    hours: float


class EnvelopeOut(BaseModel):
    """How a sungrazer family's members cross a field; ranges over the family's orbits,
    angles at roll 0 counter-clockwise from solar west."""

    family: str
    detector: Detector
    entry_angle_deg: tuple[float, float]
    heading_deg: tuple[float, float]
    speed_px_h: tuple[float, float] = Field(description="slowest (entry) to fastest")
    hours_in_field: tuple[float, float]
    front_of_sun: bool


class OverlayOut(BaseModel):
    detector: Detector
    png: FileLink = Field(description="the corridors and planets drawn on the midday preview")


class FeaturedDay(BaseModel):
    """What to watch on a day: the key facts first (Kreutz placement, planets, gaps)."""

    day: date
    kreutz_well_placed: dict[Detector, bool] = Field(
        description="the Kreutz corridor stays long in the field (many frames per comet)"
    )
    planets: list[PlanetOut]
    pass_gaps: list[GapOut] = Field(description="hours no downlink pass covers")
    data_gaps: list[GapOut] = Field(description="hours with no file of a detector")
    envelopes: list[EnvelopeOut]
    overlays: list[OverlayOut] = Field(description="only those whose PNG is on disk")
