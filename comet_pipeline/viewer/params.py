"""Query parameters: UTC times as hunters write them, time windows, and the opaque cursor."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator

from comet_pipeline.domain import from_iso, to_iso
from comet_pipeline.viewer.errors import BadRequest

#: The open ends of a window nobody bounded: before LASCO's first light, after any frame.
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _utc_time(value: object) -> datetime:
    """ISO date or time; naive input is UTC (what hunters write, as on the command line).

    Parsed here rather than by pydantic's lax rules, which would also take a bare number as
    seconds since 1970: a mistyped day must be a 422, not a window in 1970.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(
                "not an ISO date/time (e.g. 2025-06-10 or 2025-06-10T03:00Z)"
            ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


#: A query parameter holding a time; malformed text is a 422 naming the parameter.
UtcTime = Annotated[datetime, BeforeValidator(_utc_time)]


def window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """[since, until) with open ends filled; since after until is a 400."""
    start = since or EARLIEST
    end = until or LATEST
    if start > end:
        raise BadRequest(f"since ({to_iso(start)}) is after until ({to_iso(end)})")
    return start, end


_CURSOR_SEP = "|"


#: The cursor's first character: which way its listing runs.
_FORWARD, _BACKWARD = "+", "-"


def encode_cursor(observed_at: datetime, name: str, *, newest_first: bool = False) -> str:
    """The key of a page's last frame and the listing's direction, URL-safe and opaque."""
    way = _BACKWARD if newest_first else _FORWARD
    raw = f"{way}{to_iso(observed_at)}{_CURSOR_SEP}{name}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, newest_first: bool = False) -> tuple[datetime, str]:
    """The key a cursor from ``encode_cursor`` holds; anything else is a 400, and so is a
    cursor of the other direction (it would silently skip or repeat frames)."""
    way = ""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
        way, text = text[:1], text[1:]
        stamp, name = text.split(_CURSOR_SEP, 1)
        observed_at = from_iso(stamp)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        observed_at, name = EARLIEST, ""
    if not name or way not in (_FORWARD, _BACKWARD):
        raise BadRequest(
            "cursor is not one this API gave out: ask again without it for the first page"
        )
    if (way == _BACKWARD) != newest_first:
        given, other = ("newest", "oldest") if way == _BACKWARD else ("oldest", "newest")
        raise BadRequest(
            f"this cursor continues an order={given} listing, not order={other}: pass "
            f"order={given}, or ask again without a cursor"
        )
    return observed_at, name
