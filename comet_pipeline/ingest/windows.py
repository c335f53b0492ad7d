"""Time windows: the hours and archive days a partition range covers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from comet_pipeline.domain import utc

HOUR = timedelta(hours=1)


def days_covering(start: datetime, end: datetime) -> list[date]:
    """UTC dates whose archive folders can hold observations in [start, end)."""
    first, last = utc(start).date(), (utc(end) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def hour_floor(moment: datetime) -> datetime:
    return utc(moment).replace(minute=0, second=0, microsecond=0)


def hours_between(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = hour_floor(start)
    while hour < end:
        yield hour
        hour += HOUR
