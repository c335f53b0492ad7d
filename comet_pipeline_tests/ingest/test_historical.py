"""Historical partitions: days older than the near-real-time window come from the long-term tree.

Discovery and download run through the real ingest services against the simulator, whose
near-real-time tree holds only its last ``nrt_days`` days; the request log shows which tree
each request went to.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from comet_pipeline.archive.layout import LONGTERM_ROOT, NEAR_REAL_TIME_DAYS, NRT_ROOT, ArchiveTree
from comet_pipeline.domain import Detector, FileState
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window

from .conftest import HOUR, NOW

C3 = (Detector.C3,)


def _day_requests(client) -> dict[str, int]:
    """Requests to day folders (index, listing, files) per server path."""
    counts = client.session.get_adapter("sim://lasco").counts
    return {p: n for p, n in counts.items() if p.startswith((NRT_ROOT + "/", LONGTERM_ROOT + "/"))}


def _ingest(store, client, settings, clock, start, end):
    discover_window(store, client, C3, start, end, now=clock(), run_id="r1")
    result = download_window(
        store, client, settings.layout.raw_dir, start, end, clock=clock, owner="r1", workers=2
    )
    return result, store.files_between(Detector.C3, start, end)


def test_a_day_older_than_the_window_is_discovered_and_downloaded_from_the_long_term_tree(
    store, client, sim, settings, clock
):
    start = HOUR - timedelta(days=40)
    end = start + timedelta(hours=1)
    assert sim.has_directory(start.date(), Detector.C3)
    assert not sim.serves(ArchiveTree.NEAR_REAL_TIME, start.date())  # gone from near-real-time
    result, records = _ingest(store, client, settings, clock, start, end)
    expected = {
        o.name
        for o in sim.observations(start.date(), Detector.C3)
        if start <= o.observed_at < end and o.synoptic and not o.duplicate_of
    }
    ready = {r.name for r in records if r.state is FileState.READY}
    assert expected and ready == expected
    assert result.outcomes["ready"] == len(expected)
    for r in records:
        if r.state is FileState.READY:
            assert r.raw_path and Path(r.raw_path).stat().st_size > 2880
            assert r.arrived_at is not None  # the long-term listing gave arrival times
    requests = _day_requests(client)
    assert requests and all(p.startswith(LONGTERM_ROOT + "/") for p in requests), requests
    folder = f"{LONGTERM_ROOT}/{start:%y%m%d}/c3/"
    assert requests[folder + "img_hdr.txt"] == 1 and requests[folder] == 1
    assert {p.rsplit("/", 1)[1] for p in requests if p.endswith(".fts")} == expected


def test_a_recent_day_comes_from_the_near_real_time_tree(store, client, settings, clock):
    end = HOUR + timedelta(hours=1)
    result, records = _ingest(store, client, settings, clock, HOUR, end)
    assert result.outcomes["ready"] > 0
    requests = _day_requests(client)
    assert requests and all(p.startswith(NRT_ROOT + "/") for p in requests), requests


def test_a_day_that_rolls_out_between_discovery_and_download_is_fetched_long_term(
    store, client, sim, settings, clock
):
    """Discovered while near-real-time, downloaded once it has aged out of the window."""
    start = HOUR - timedelta(days=NEAR_REAL_TIME_DAYS - 2)
    end = start + timedelta(hours=1)
    discover_window(store, client, C3, start, end, now=clock(), run_id="r1")
    listed = _day_requests(client)
    assert listed and all(p.startswith(NRT_ROOT + "/") for p in listed)
    clock.now = NOW + timedelta(days=5)  # the day is now older than the window
    result = download_window(
        store, client, settings.layout.raw_dir, start, end, clock=clock, owner="r2"
    )
    assert result.outcomes["ready"] > 0 and not result.outcomes.get("download_failed")
    fetched = [p for p in _day_requests(client) if p.endswith(".fts")]
    assert len(fetched) == result.outcomes["ready"]
    assert all(p.startswith(LONGTERM_ROOT + "/") for p in fetched), fetched
