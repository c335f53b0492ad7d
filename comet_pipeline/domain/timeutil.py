"""UTC helpers: aware datetimes in code, ISO-8601 UTC text at rest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: What the services take for "now": wall time in production, a hand-moved clock in tests.
Clock = Callable[[], datetime]


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive input is refused, not guessed."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware time")
    return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_iso(value: datetime) -> str:
    """Fixed-width ISO text (microseconds, ``+00:00``) so that text order is time order."""
    return utc(value).isoformat(timespec="microseconds")


def from_iso(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {text!r} carries no offset")
    return parsed.astimezone(UTC)
