"""Dagster resources: the store, the archive client, the clock, and the pipeline settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource
from pydantic import PrivateAttr, field_validator

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.domain import Detector, from_iso, utcnow
from comet_pipeline.imaging.recipes import DEFAULT_RECIPE, recipe
from comet_pipeline.ingest.home import HomeMismatch, check_home
from comet_pipeline.settings import HomeLayout, Retention, Settings
from comet_pipeline.store import LifecycleStore, open_store

if TYPE_CHECKING:
    from comet_pipeline.simulator.archive import SimArchive


class ClockResource(ConfigurableResource):
    """Wall time, or a frozen instant (ISO-8601 with offset) for tests and replays."""

    frozen_at: str | None = None

    def now(self) -> datetime:
        return from_iso(self.frozen_at) if self.frozen_at else utcnow()


class StoreResource(ConfigurableResource):
    """The lifecycle store (opened lazily, once per process): the SQLite file ``db_path``
    in COMET_HOME, or the PostgreSQL database ``url`` when set (``COMET_STORE_URL``).

    It is opened only in a home that exists (a typo in ``COMET_HOME`` must not silently
    start an empty store: ``comet-pipeline init`` creates a home and says so; the raw files
    and frames live there whatever the engine), and refused when it is empty while the home
    holds files (see ``ingest/home.py``).
    """

    db_path: str
    url: str | None = None
    max_attempts: int = 5
    lease_minutes: float = 10.0
    _store: LifecycleStore | None = PrivateAttr(default=None)

    def get(self) -> LifecycleStore:
        if self._store is None:
            db = Path(self.db_path)
            if not db.parent.is_dir():
                raise HomeMismatch(
                    f"COMET_HOME {db.parent} does not exist (a typo?); "
                    "`comet-pipeline init` creates it"
                )
            store = open_store(
                self.url or db,
                max_attempts=self.max_attempts,
                lease=timedelta(minutes=self.lease_minutes),
            )
            check_home(store, HomeLayout(db.parent))
            self._store = store
        return self._store


def store_resource(settings: Settings) -> StoreResource:
    """The store the settings name: COMET_HOME's SQLite file, or ``store_url``."""
    return StoreResource(db_path=str(settings.layout.lifecycle_db), url=settings.store_url)


class ArchiveResource(ConfigurableResource):
    """The LASCO archive: real HTTPS URLs or the embedded simulator (``sim://``).

    ``archive_url`` ``sim://lasco`` simulates the nominal sky, ``sim://lasco-<profile>`` a
    named sky profile (``rolled``, ``storm``, ... see ``simulator/profiles.py``).
    """

    archive_url: str
    schedule_url: str
    longterm_archive_url: str | None = None  # None: the tree beside archive_url
    sim_seed: int = 0
    sim_comets_per_day: float | None = None  # None: the simulator's default rate
    retries: int = 3
    backoff_seconds: float = 0.5
    clock: ClockResource
    _client: ArchiveClient | None = PrivateAttr(default=None)

    def get(self) -> ArchiveClient:
        if self._client is None:
            options: dict[str, Any] = {
                "retries": self.retries,
                "backoff": self.backoff_seconds,
                "longterm_url": self.longterm_archive_url,
            }
            simulator = self._simulator()
            if simulator is None:
                self._client = ArchiveClient(self.archive_url, self.schedule_url, **options)
            else:
                from comet_pipeline.simulator.attach import simulated_client

                self._client = simulated_client(
                    self.archive_url, self.schedule_url, sim_archive=simulator, **options
                )
        return self._client

    def _simulator(self) -> SimArchive | None:
        """The embedded archive, only when a URL asks for it (real deployments never load it)."""
        if not (self.archive_url.startswith("sim://") or self.schedule_url.startswith("sim://")):
            return None
        from comet_pipeline.simulator.archive import SimArchive
        from comet_pipeline.simulator.profiles import profile_config, profile_from_url

        # sim://lasco is the nominal sky, sim://lasco-<profile> a named one (settings
        # validated the name, so an unknown one cannot get here from the environment)
        profile = profile_from_url(self.archive_url) or "nominal"
        config = profile_config(profile, seed=self.sim_seed)
        if self.sim_comets_per_day is not None:
            config = replace(config, comets_per_day=self.sim_comets_per_day)
        return SimArchive(config=config, clock=self.clock.now)


class PipelineResource(ConfigurableResource):
    """The settings assets and sensors act on: the home they write under (raw files, frames,
    products) and the detectors they ingest. Built from :class:`Settings` by
    :func:`pipeline_resource`; assets get it as a parameter, never from a closure.

    ``recipe``: the processing preset (``imaging/recipes.py``) of runs that do not name
    one in their run config (``defs/recipes.py``)."""

    home: str
    detector_names: list[str] = [d.value for d in Detector]
    # days each kind of file is kept (None: for ever); see settings.Retention
    keep_raw_days: int | None = Retention.raw_days
    keep_fits_days: int | None = Retention.fits_days
    keep_png_days: int | None = Retention.png_days
    recipe: str = DEFAULT_RECIPE

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, name: str) -> str:
        recipe(name)  # KeyError naming the known ones: said when the definitions load
        return name

    @property
    def layout(self) -> HomeLayout:
        return HomeLayout(Path(self.home))

    @property
    def detectors(self) -> tuple[Detector, ...]:
        return tuple(Detector(d) for d in self.detector_names)

    @property
    def retention(self) -> Retention:
        return Retention(self.keep_raw_days, self.keep_fits_days, self.keep_png_days)


def pipeline_resource(settings: Settings, *, recipe: str = DEFAULT_RECIPE) -> PipelineResource:
    """``recipe``: the preset of runs whose run config names none (``comet-pipeline
    recipes run`` passes its choice here)."""
    return PipelineResource(
        home=str(settings.home),
        detector_names=[d.value for d in settings.detectors],
        keep_raw_days=settings.retention.raw_days,
        keep_fits_days=settings.retention.fits_days,
        keep_png_days=settings.retention.png_days,
        recipe=recipe,
    )
