"""Attach the embedded archive to the real client: one call that mounts ``sim://``.

The archive client knows nothing of the simulator; a front door (the Dagster resource, the
CLI, a test) that wants the simulated archive builds the client here, which mounts the
``sim://`` transport on its session. Real deployments never import this package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.simulator.adapter import mount_sim
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.profiles import profile_config, profile_from_url


def uses_simulator(*urls: str) -> bool:
    """True when any of the URLs is served by the embedded archive."""
    return any(u.startswith("sim://") for u in urls)


def simulated_client(
    archive_url: str,
    schedule_url: str,
    *,
    sim_archive: SimArchive | None = None,
    sim_seed: int | None = None,
    sim_clock: Callable[[], datetime] | None = None,
    **kwargs: Any,  # noqa: ANN401  ArchiveClient options, checked by its signature
) -> ArchiveClient:
    """A client whose session serves ``sim://`` from a simulated archive.

    ``sim_archive`` is used as is; otherwise one is built from the sky profile the archive
    URL names (``sim://lasco`` nominal, ``sim://lasco-<profile>`` another one), ``sim_seed``
    (0 if None) and ``sim_clock`` (wall time if None). A URL naming an unknown profile, or
    one other than ``sim_archive``'s, raises ValueError. ``kwargs`` go to the client.
    """
    session = requests.Session()
    named = profile_from_url(archive_url)
    if sim_archive is None:
        config = profile_config(named or "nominal", seed=sim_seed or 0)
        sim_archive = SimArchive(config=config, clock=sim_clock)
    elif named not in (None, "nominal") and named != sim_archive.config.profile:
        raise ValueError(
            f"{archive_url} names sky profile {named!r} but the simulated archive "
            f"given is {sim_archive.config.profile!r}"
        )
    longterm = kwargs.get("longterm_url")
    if isinstance(longterm, str) and uses_simulator(longterm):
        lt_named = profile_from_url(longterm)
        if lt_named != (named or sim_archive.config.profile):
            raise ValueError(
                f"long-term tree {longterm} names sky profile {lt_named!r} but the "
                f"near-real-time tree {archive_url} is {named or sim_archive.config.profile!r}:"
                " one simulated sky serves both"
            )
    mount_sim(session, sim_archive)
    return ArchiveClient(archive_url, schedule_url, session=session, **kwargs)
