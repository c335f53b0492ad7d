"""A run SIGKILLed mid-download leaves no partial file; a later run completes the hour."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import pytest
from astropy.io import fits

from comet_pipeline.domain import FileState
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.faults import Faults
from comet_pipeline.simulator.server import start_server
from comet_pipeline.store import SQLiteStore

from .conftest import DETECTORS, HOUR, NOW, SEED

END = HOUR + timedelta(hours=1)

CHILD = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from pathlib import Path
    from dagster import DagsterInstance
    from comet_pipeline.cli.runner import ingest_range
    from comet_pipeline.defs.resources import ArchiveResource, ClockResource
    from comet_pipeline.settings import Settings

    home, url, schedule_url, seed, now, start, end = sys.argv[1:8]
    settings = Settings(home=Path(home), archive_url=url, schedule_url=schedule_url)
    clock = ClockResource(frozen_at=now)
    archive = ArchiveResource(archive_url=url, schedule_url=schedule_url, sim_seed=int(seed),
                              backoff_seconds=0.0, clock=clock)
    ok = ingest_range(settings, datetime.fromisoformat(start), datetime.fromisoformat(end),
                      instance=DagsterInstance.ephemeral(), clock=clock, archive=archive)
    sys.exit(0 if all(ok) else 1)
    """
)


def _run_child(settings, server, now, **popen):
    args = [
        sys.executable,
        "-c",
        CHILD,
        str(settings.home),
        server.url,
        server.schedule_url,
        str(SEED),
        now.isoformat(),
        HOUR.isoformat(),
        END.isoformat(),
    ]
    return subprocess.Popen(args, **popen)


def _states(store):
    return [r.state for d in DETECTORS for r in store.files_between(d, HOUR, END)]


@pytest.mark.slow
def test_sigkill_mid_download_then_recovery_completes_the_hour(settings):
    sim = SimArchive(SimConfig(seed=SEED), clock=lambda: NOW)
    settings.home.mkdir(parents=True)
    store = SQLiteStore(settings.layout.lifecycle_db)
    with start_server(sim, faults=Faults(latency_s=0.4)) as server:
        child = _run_child(settings, server, NOW)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = _states(store) if settings.layout.lifecycle_db.exists() else []
            if FileState.DOWNLOADING in states and FileState.READY in states:
                break
            assert child.poll() is None, "the run finished before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("never caught the run mid-download")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)

        assert FileState.DOWNLOADING in _states(store)
        # Whatever sits at a final path is a whole, readable FITS file.
        for path in settings.layout.raw_dir.rglob("*.fts"):
            with fits.open(path) as hdul:
                assert hdul[0].data.size == hdul[0].header["NAXIS1"] * hdul[0].header["NAXIS2"]

        # A run after the lease (10 min) expired recovers the killed run's files (counting
        # the attempt, with backoff); the next run, as the retry sensor would launch it
        # once the backoff is due, finishes the hour.
        for later in (NOW + timedelta(minutes=15), NOW + timedelta(minutes=30)):
            assert _run_child(settings, server, later).wait(timeout=300) == 0

    listed = {
        o.name
        for d in DETECTORS
        for o in sim.observations(HOUR.date(), d)
        if HOUR <= o.observed_at < END
    }
    records = {r.name: r for d in DETECTORS for r in store.files_between(d, HOUR, END)}
    assert set(records) == listed
    assert {r.state for r in records.values()} <= {
        FileState.PROCESSED,
        FileState.SKIPPED,
        FileState.ABANDONED,
    }
    assert any(r.state is FileState.PROCESSED for r in records.values())
    recovered = [
        name
        for name in records
        if any(t.reason and "lease" in t.reason for t in store.transitions_for(name))
    ]
    assert recovered, "no file went through lease recovery"
