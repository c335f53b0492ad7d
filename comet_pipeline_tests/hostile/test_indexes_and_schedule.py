"""One detector's bad index never hides the other's files; a junk schedule page is an
error, not a quiet fall back to nominal passes; server text in errors stays short."""

from __future__ import annotations

import time
from datetime import timedelta

from comet_pipeline.domain import Detector, FileState
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.slots import scheduled_slots, sync_slots
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline_tests.shared import HOUR, NOW, SEED

from .conftest import END, HostileServer, Route, client_for


def _serve_day(server: HostileServer, detector: Detector) -> int:
    """Serve the simulator's img_hdr.txt and listing of HOUR's day for ``detector``; return
    how many synoptic files of the hour the index lists."""
    sim = SimArchive(SimConfig(seed=SEED), clock=lambda: NOW)
    day = HOUR.date()
    folder = f"/level_05/{day:%y%m%d}/{detector.value}/"
    server.routes[folder + "img_hdr.txt"] = Route(body=sim.img_hdr_text(day, detector).encode())
    listing = sim.listing_html(day, detector, directory=folder)
    server.routes[folder] = Route(body=listing.encode(), headers={"Content-Type": "text/html"})
    return sum(
        1
        for o in sim.observations(day, detector)
        if HOUR <= o.observed_at < END and o.synoptic and not o.duplicate_of
    )


def test_an_over_cap_c2_index_is_reported_and_c3_is_registered(hostile, home):
    expected_c3 = _serve_day(hostile, Detector.C3)
    assert expected_c3 > 0
    c2 = f"/level_05/{HOUR:%y%m%d}/c2/img_hdr.txt"
    hostile.routes[c2] = Route(body=b"x" * 300_000)  # over the client's 200 kB cap
    started = time.monotonic()
    result = discover_window(
        home.store, client_for(hostile), (Detector.C2, Detector.C3), HOUR, END, now=NOW
    )
    assert time.monotonic() - started < 10
    registered = home.store.files_between(Detector.C3, HOUR, END, states=[FileState.DISCOVERED])
    assert len(registered) == expected_c3
    assert home.store.files_between(Detector.C2, HOUR, END) == []
    [failed] = result.failed_sources
    assert failed.startswith("c2") and "img_hdr.txt" in failed and "cap" in failed, failed
    assert hostile.hits[c2] == 1  # permanent: asked once, not retried


def test_a_huge_junk_line_in_an_index_is_reported_short(hostile, home):
    _serve_day(hostile, Detector.C3)
    c3 = f"/level_05/{HOUR:%y%m%d}/c3/img_hdr.txt"
    good = hostile.routes[c3].body
    hostile.routes[c3] = Route(body=good + b"J" * 150_000 + b"\n")
    result = discover_window(home.store, client_for(hostile), (Detector.C3,), HOUR, END, now=NOW)
    assert result.outcomes["index_problem"] >= 1
    assert all(len(e) < 400 for e in result.errors), [len(e) for e in result.errors]
    assert any("characters" in e for e in result.errors)
    assert home.store.files_between(Detector.C3, HOUR, END)  # the good lines still count


def test_a_junk_schedule_page_is_an_error_not_nominal_passes(hostile, home):
    hostile.routes["/schedule.html"] = Route(body=bytes(range(256)) * 200)  # binary, 200 OK
    client = client_for(hostile)  # its schedule URL is {server}/schedule.html
    read = scheduled_slots(client)
    assert read.slots == [] and read.problem and "no pass" in read.problem
    result = sync_slots(home.store, read, HOUR.date(), NOW)
    assert result.failed_sources and "DSN schedule" in result.failed_sources[0]
    day = HOUR.replace(hour=0)
    assert home.store.slots_between(day, day + timedelta(days=1)) == []


def test_index_and_listing_that_disagree_on_case_still_join(hostile, home):
    """Names keep their case now, so an index saying .fts and a listing saying .FTS must
    still give each file its arrival time."""
    _serve_day(hostile, Detector.C3)
    folder = f"/level_05/{HOUR:%y%m%d}/c3/"
    listing = hostile.routes[folder].body.decode()
    hostile.routes[folder] = Route(
        body=listing.replace(".fts", ".FTS").encode(), headers={"Content-Type": "text/html"}
    )
    discover_window(home.store, client_for(hostile), (Detector.C3,), HOUR, END, now=NOW)
    records = home.store.files_between(Detector.C3, HOUR, END)
    assert records and all(r.arrived_at is not None for r in records)
    assert all(r.name.endswith(".fts") for r in records)  # the index's spelling is kept
