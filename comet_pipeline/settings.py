"""The one place that reads the environment.

Everything else receives a :class:`Settings` (or values taken from it) as an argument, so
tests can build their own without touching ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from comet_pipeline.domain.models import Detector

DEFAULT_ARCHIVE_URL = "sim://lasco"
DEFAULT_SCHEDULE_URL = "sim://schedule"
REAL_ARCHIVE_URL = "https://umbra.nascom.nasa.gov/pub/lasco/lastimage/level_05"
#: The long-term level-0.5 tree on the same host (LASCO_FORMATS.md; NRL's mirror is
#: https://lasco-www.nrl.navy.mil/lz/level_05): days older than the near-real-time window.
REAL_LONGTERM_ARCHIVE_URL = "https://umbra.nascom.nasa.gov/pub/lasco_level05"
REAL_SCHEDULE_URL = "https://soho.nascom.nasa.gov/operations/schedule/schedule.html"
#: Where `make dev` runs the Dagster webserver; the viewer reads runs and sensors there.
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


@dataclass(frozen=True)
class HomeLayout:
    """Where everything lives under ``COMET_HOME``."""

    home: Path

    @property
    def lifecycle_db(self) -> Path:
        return self.home / "lifecycle.db"

    @property
    def raw_dir(self) -> Path:
        """Raw level-0.5 FITS, in the archive's own ``<detector>/<YYMMDD>/`` layout."""
        return self.home / "raw"

    @property
    def frames_dir(self) -> Path:
        return self.home / "frames"

    @property
    def products_dir(self) -> Path:
        """Playback animations, candidate reports and other derived products."""
        return self.home / "products"


@dataclass(frozen=True)
class Retention:
    """How many days each kind of file is kept (None: for ever), counted from observation
    and from processing, whichever is later (a backfill of old days keeps what it made).
    Frames on the track of a candidate nobody rejected are kept whatever these say."""

    raw_days: int | None = 14
    fits_days: int | None = 60
    png_days: int | None = None


@dataclass(frozen=True)
class Settings:
    home: Path
    archive_url: str = DEFAULT_ARCHIVE_URL
    schedule_url: str = DEFAULT_SCHEDULE_URL
    # COMET_LONGTERM_ARCHIVE_URL: the long-term level-0.5 tree, for days older than the
    # near-real-time window; None: the one beside archive_url (default_longterm_url)
    longterm_archive_url: str | None = None
    detectors: tuple[Detector, ...] = (Detector.C2, Detector.C3)
    # COMET_PARTITIONS_START: by default the first of the month before last (see
    # default_partitions_start): 59-91 days back, 1,400-2,200 hourly partitions in the UI
    partitions_start: date = field(
        default_factory=lambda: default_partitions_start(datetime.now(UTC).date())
    )
    dagster_url: str = DEFAULT_DAGSTER_URL
    retention: Retention = Retention()
    # COMET_STORE_URL: None keeps the lifecycle store in COMET_HOME (lifecycle.db, SQLite);
    # postgresql://... puts it in that PostgreSQL database (store.open_store chooses)
    store_url: str | None = None

    @property
    def layout(self) -> HomeLayout:
        return HomeLayout(self.home)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, today: date | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        home = Path(env.get("COMET_HOME") or Path.home() / ".comet_pipeline").expanduser()
        detectors = _parse_detectors(env.get("COMET_DETECTORS", "c2,c3"))
        start = _partitions_start(env, today or datetime.now(UTC).date())
        retention = Retention(
            raw_days=_days(env, "COMET_KEEP_RAW_DAYS", Retention.raw_days),
            fits_days=_days(env, "COMET_KEEP_FITS_DAYS", Retention.fits_days),
            png_days=_days(env, "COMET_KEEP_PNG_DAYS", Retention.png_days),
        )
        archive_url = _url(env, "COMET_ARCHIVE_URL", DEFAULT_ARCHIVE_URL).rstrip("/")
        return cls(
            retention=retention,
            home=home,
            archive_url=archive_url,
            longterm_archive_url=_longterm_url(env, archive_url),
            schedule_url=_url(env, "COMET_SCHEDULE_URL", DEFAULT_SCHEDULE_URL),
            detectors=detectors,
            partitions_start=start,
            dagster_url=_url(env, "COMET_DAGSTER_URL", DEFAULT_DAGSTER_URL, simulated=False).rstrip(
                "/"
            ),
            store_url=_store_url(env),
        )


def default_partitions_start(today: date) -> date:
    """The first day of the month before last (59-91 days back): the partitions cover
    the near-real-time archive's recent days and about the FITS products' 60 days of
    retention, and the UI lists 1,400-2,200 hours, not every hour since a fixed date.
    Stable within a month, so the partitions definition (part of each asset's identity)
    changes twelve times a year. Older ranges: set COMET_PARTITIONS_START."""
    months = today.year * 12 + today.month - 1 - 2
    return date(months // 12, months % 12 + 1, 1)


def _partitions_start(env: Mapping[str, str], today: date) -> date:
    text = env.get("COMET_PARTITIONS_START", "").strip()
    if not text:
        return default_partitions_start(today)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise SettingsError(
            f"COMET_PARTITIONS_START must be a date like 2025-01-01, got {text!r}"
        ) from exc


def _url(env: Mapping[str, str], name: str, default: str, *, simulated: bool = True) -> str:
    """A URL the client can reach: http(s) or the embedded simulator (sim://).

    ``sim://lasco-<profile>`` names a simulated sky profile: an unknown one is a settings
    error now, not a traceback in the first run.
    """
    value = env.get(name) or default
    if not simulated and value.startswith("sim://"):
        raise SettingsError(f"{name} must be an http(s) URL, got {value!r}")
    if not value.startswith(("https://", "http://", "sim://")):
        raise SettingsError(
            f"{name} must start with https://, http:// or sim://, got {value!r} "
            f"(the real archive is e.g. {REAL_ARCHIVE_URL})"
        )
    # "http://" alone passes the prefix test and then fails every request at run time,
    # after minutes of retries: a URL without a host (or with a garbled port) stops here.
    try:
        parts = urlsplit(value)
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise SettingsError(f"{name}={value!r} is not a valid URL: {exc}") from exc
    if not host:
        raise SettingsError(
            f"{name}={value!r} has no host (the real archive is e.g. {REAL_ARCHIVE_URL})"
        )
    if value.startswith("sim://"):
        from comet_pipeline.simulator.profiles import profile_from_url

        try:
            profile = profile_from_url(value)
        except ValueError as exc:
            raise SettingsError(f"{name}={value!r}: {exc}") from exc
        if profile is None and not value.rstrip("/").lower() == "sim://schedule":
            raise SettingsError(
                f"{name}={value!r} names nothing the simulator serves: use sim://lasco, "
                "sim://lasco-<profile> (e.g. sim://lasco-rolled) or sim://schedule"
            )
    return value


def default_longterm_url(archive_url: str) -> str:
    """The long-term tree beside ``archive_url``: the simulated one for ``sim://lasco[-p]``,
    umbra's ``lasco_level05`` for a ``.../pub/lasco/lastimage/level_05`` base (the real host
    or the loopback simulator), else the real one (:data:`REAL_LONGTERM_ARCHIVE_URL`)."""
    from comet_pipeline.archive.layout import longterm_url_for

    return longterm_url_for(archive_url) or REAL_LONGTERM_ARCHIVE_URL


def _longterm_url(env: Mapping[str, str], archive_url: str) -> str:
    """COMET_LONGTERM_ARCHIVE_URL, checked like COMET_ARCHIVE_URL; a simulated long-term tree
    must be the same simulated sky as the near-real-time one (one simulator serves both)."""
    name = "COMET_LONGTERM_ARCHIVE_URL"
    value = _url(env, name, default_longterm_url(archive_url)).rstrip("/")
    if value.startswith("sim://"):
        from comet_pipeline.simulator.profiles import profile_from_url

        if profile_from_url(value) != profile_from_url(archive_url):
            raise SettingsError(
                f"{name}={value!r} must be the simulated sky of COMET_ARCHIVE_URL="
                f"{archive_url!r}: e.g. {default_longterm_url(archive_url)}"
                if archive_url.startswith("sim://")
                else f"{name}={value!r} is simulated but COMET_ARCHIVE_URL={archive_url!r} is not"
            )
    return value


def _store_url(env: Mapping[str, str]) -> str | None:
    """COMET_STORE_URL: unset or empty for the SQLite file in COMET_HOME, else a PostgreSQL
    URL (postgresql://user@host:port/database; a password is better kept in ~/.pgpass)."""
    value = env.get("COMET_STORE_URL", "").strip()
    if not value:
        return None
    scheme = urlsplit(value).scheme.lower()
    if scheme not in ("postgresql", "postgres"):
        # the value itself is not echoed: it may hold a password
        found = f"a {scheme}:// URL" if scheme else "no URL scheme"
        raise SettingsError(
            "COMET_STORE_URL must be a PostgreSQL URL such as postgresql://comet@localhost/comet"
            f" (or unset, for the SQLite file in COMET_HOME); it has {found}"
        )
    return value


def _days(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    """A whole number of days, or 'forever'."""
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("forever", "never", "none"):
        return None
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 1:
        raise SettingsError(
            f"{name} must be a number of days (1 or more) or 'forever', got {text!r}"
        )
    return days


def _parse_detectors(text: str) -> tuple[Detector, ...]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise SettingsError("COMET_DETECTORS is empty; use e.g. 'c2,c3'")
    try:
        return tuple(dict.fromkeys(Detector(name) for name in names))
    except ValueError as exc:
        raise SettingsError(f"COMET_DETECTORS must list c2 and/or c3, got {text!r}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings.from_env()
