"""Retries against the real HTTP simulator with faults: transient ends PROCESSED, corrupt ABANDONED."""

from __future__ import annotations

from datetime import timedelta

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.domain import TERMINAL_FILE_STATES, FileState
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.recover import recover_leases
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.faults import Faults
from comet_pipeline.simulator.server import start_server
from comet_pipeline.store import SQLiteStore

from .conftest import DETECTORS, HOUR, NOW, SEED

END = HOUR + timedelta(hours=1)


def test_faulty_archive_ends_every_file_in_a_terminal_state(settings):
    sim = SimArchive(SimConfig(seed=SEED), clock=lambda: NOW)
    synoptic = sorted(
        o.name
        for d in DETECTORS
        for o in sim.observations(HOUR.date(), d)
        if HOUR <= o.observed_at < END and o.synoptic and not o.duplicate_of
    )
    flaky, corrupt = synoptic[0], synoptic[1]
    faults = Faults(flaky={flaky: 5}, corrupt={corrupt}, truncate_rate=0.25, error_rate=0.1, seed=3)
    settings.home.mkdir(parents=True)
    store = SQLiteStore(settings.layout.lifecycle_db, max_attempts=5)
    processor = FrameProcessor(settings.layout.frames_dir)
    with start_server(sim, faults=faults) as server:
        client = ArchiveClient(server.url, server.schedule_url, retries=3, backoff=0)
        discover_window(store, client, DETECTORS, HOUR, END, now=NOW)
        now = NOW
        for _ in range(6):  # the retry sensor's job, hour after hour
            recover_leases(store, now=now)
            download_window(
                store, client, settings.layout.raw_dir, HOUR, END, clock=lambda t=now: t, owner="r"
            )
            process_window(store, processor, HOUR, END, clock=lambda t=now: t, owner="r")
            now += timedelta(hours=2)  # past the longest backoff
        served = server.request_counts()

    records = {r.name: r for d in DETECTORS for r in store.files_between(d, HOUR, END)}
    assert {r.state for r in records.values()} <= TERMINAL_FILE_STATES
    flaky_history = [t.to_state for t in store.transitions_for(flaky)]
    assert "DOWNLOAD_FAILED" in flaky_history and records[flaky].state is FileState.PROCESSED
    assert records[corrupt].state is FileState.ABANDONED
    assert "Corrupt" in records[corrupt].last_error
    assert sum(r.state is FileState.PROCESSED for r in records.values()) == len(synoptic) - 1
    assert sum(n for path, n in served.items() if path.endswith(".fts")) > len(synoptic)
