"""Archive layout: where a day's index, listing and files live, and which names are safe.

File names come from indexes we do not control; they are validated here before they are
joined into a URL or a filesystem path, so ``../`` and friends never reach either.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from comet_pipeline.archive.errors import RejectedName
from comet_pipeline.domain.models import Detector

#: The archive servers' local time zone: listing times are wall-clock times there.
ARCHIVE_TZ = ZoneInfo("America/New_York")

#: Server paths of the two level-0.5 trees on umbra.nascom.nasa.gov (LASCO_FORMATS.md):
#: the near-real-time rolling window and the long-term archive, in the same layout.
NRT_ROOT = "/pub/lasco/lastimage/level_05"
LONGTERM_ROOT = "/pub/lasco_level05"
#: The simulator's long-term tree: ``sim://lasco[-<profile>]/longterm/YYMMDD/c2/``.
SIM_LONGTERM_PATH = "/longterm"
#: Days (counted back from today, UTC) the pipeline reads from the near-real-time tree; older
#: days come from the long-term tree. Kept below the simulator's near-real-time window
#: (SimConfig.nrt_days, 30) and above its long-term lag (SimConfig.longterm_lag_days, 14),
#: so a day is always in the tree chosen for it, with two days' margin at the rolling edge.
NEAR_REAL_TIME_DAYS = 28


class ArchiveTree(StrEnum):
    """Which level-0.5 tree serves a day: same layout, different base URL."""

    NEAR_REAL_TIME = "near-real-time"
    LONG_TERM = "long-term"


def tree_for_day(day: date, now: datetime, *, nrt_days: int = NEAR_REAL_TIME_DAYS) -> ArchiveTree:
    """The tree to read ``day`` from at ``now``: the near-real-time tree keeps only a rolling
    window of recent days, so anything ``nrt_days`` or more days old is long-term."""
    age = (now.astimezone(UTC).date() - day).days
    return ArchiveTree.NEAR_REAL_TIME if age < nrt_days else ArchiveTree.LONG_TERM


def longterm_url_for(archive_url: str) -> str | None:
    """The long-term tree beside a near-real-time base URL, or None when there is none known.

    ``sim://lasco[-<profile>]`` -> ``sim://lasco[-<profile>]/longterm`` (the same simulated
    sky); ``https://host/pub/lasco/lastimage/level_05`` -> ``https://host/pub/lasco_level05``
    (umbra's layout, which the loopback simulator server copies).
    """
    base = archive_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme == "sim":
        return base + SIM_LONGTERM_PATH if parts.path in ("", "/") else None
    if parts.path.endswith(NRT_ROOT):
        return base[: -len(NRT_ROOT)] + LONGTERM_ROOT
    return None


_NAME = re.compile(r"[0-9]{8}\.fts", re.IGNORECASE | re.ASCII)
_MAX_SHOWN = 80


def validate_file_name(name: str) -> str:
    """Return ``name`` unchanged if it is 8 ASCII digits + ``.fts`` (suffix in any case).

    The case is kept, not normalised: the name is joined into the URL, and a case-sensitive
    server that lists ``32088304.FTS`` answers 404 for ``32088304.fts``.
    Raises :class:`RejectedName` with the first reason that applies otherwise.
    """
    if not isinstance(name, str):
        raise RejectedName(repr(name), f"not a string ({type(name).__name__})")
    if _NAME.fullmatch(name):
        return name
    shown = name if len(name) <= _MAX_SHOWN else name[:_MAX_SHOWN] + "…"
    if not name:
        reason = "empty name"
    elif name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        reason = "absolute path"
    elif "/" in name or "\\" in name:
        reason = "contains a path separator"
    elif ".." in name:
        reason = "contains '..'"
    elif any(not (c.isascii() and c.isprintable()) or c.isspace() for c in name):
        reason = "contains control, white-space or non-ASCII characters"
    elif not name.lower().endswith(".fts"):
        reason = "does not end in .fts"
    elif not re.fullmatch(r"[0-9]+", name[:-4], re.ASCII):
        reason = "stem is not all digits"
    else:
        reason = f"stem has {len(name) - 4} digits, expected 8"
    raise RejectedName(shown, reason)


def day_dir(day: date) -> str:
    """The archive folder of an observation date (UTC): ``YYMMDD``."""
    return day.strftime("%y%m%d")


def dir_url(base: str, day: date, detector: Detector) -> str:
    """``{base}/{YYMMDD}/{c2|c3}/`` (the Apache index page)."""
    return f"{base.rstrip('/')}/{day_dir(day)}/{Detector(detector).value}/"


def index_url(base: str, day: date, detector: Detector) -> str:
    """The directory listing (Apache "Index of" page) of one day and detector."""
    return dir_url(base, day, detector)


def img_hdr_url(base: str, day: date, detector: Detector) -> str:
    """The ``img_hdr.txt`` index of one day and detector."""
    return dir_url(base, day, detector) + "img_hdr.txt"


def file_url(base: str, day: date, detector: Detector, name: str) -> str:
    """URL of one FITS file; the name is validated first (raises :class:`RejectedName`)."""
    return dir_url(base, day, detector) + validate_file_name(name)
