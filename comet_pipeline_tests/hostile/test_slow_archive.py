"""A server that sends slowly: every fetch ends at its deadline, a slow but live download
keeps its lease, and one slow file never holds the rest of the batch."""

from __future__ import annotations

import queue
import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from comet_pipeline.archive.errors import Transient
from comet_pipeline.domain import Detector, FileState
from comet_pipeline.ingest.download import download_window
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.shared import HOUR, NOW

from .conftest import (
    DAY_PATH,
    END,
    Route,
    assert_ready,
    client_for,
    fits_body,
    good_neighbours,
    index_entry,
    path_of,
)


def _reached(home, name: str, state: FileState) -> datetime:
    return next(t.at for t in home.store.transitions_for(name) if t.to_state is state)


def test_a_file_dripped_at_one_byte_a_second_fails_alone_at_its_deadline(hostile, home):
    slow = index_entry(1)
    home.register(slow)
    hostile.routes[path_of(slow.name)] = Route(body=fits_body(slow.observed_at), byte_delay=1.0)
    others = good_neighbours(home, hostile, ks=(2, 3, 4, 5, 6))
    client = client_for(hostile, deadline_base=1.0)  # 1.0 + 200 kB / 1 MB/s = 1.2 s
    started = time.monotonic()
    result = download_window(
        home.store,
        client,
        home.raw_dir,
        HOUR,
        END,
        clock=lambda: datetime.now(UTC),  # real time: the audit says who finished first
        owner="run",
        workers=2,
    )
    took = time.monotonic() - started

    record = home.store.get_file(slow.name)
    assert record.state is FileState.DOWNLOAD_FAILED and record.attempts == 1
    assert re.fullmatch(
        r"Transient: download too slow: [1-3] bytes in (1\.[2-9]|2\.\d) s, deadline 1\.2 s \(.*\)",
        record.last_error,
    ), record.last_error
    assert result.outcomes == {"download_failed": 1, "ready": 5}
    assert_ready(home, others)
    # Two workers, six files: the slow one held one worker; the other did all five, each
    # claimed as soon as the previous one ended, all before the slow one gave up.
    failed_at = _reached(home, slow.name, FileState.DOWNLOAD_FAILED)
    assert all(_reached(home, n, FileState.READY) < failed_at for n in others)
    assert took < 1.2 + 1.5
    home.assert_clean(*others)


class RenewalSpy:
    """The real store; every ``renew_lease`` call is also reported on ``renewals``."""

    def __init__(self, store) -> None:
        self.store = store
        self.renewals: queue.Queue[tuple[datetime, bool]] = queue.Queue()
        self.count = 0

    def __getattr__(self, name: str):
        return getattr(self.store, name)

    def renew_lease(self, name, **kwargs) -> bool:
        held = self.store.renew_lease(name, **kwargs)
        self.count += 1
        self.renewals.put((kwargs["now"], held))
        return held


def test_a_slow_download_within_its_deadline_renews_its_lease(hostile, home):
    """The body comes in six pieces, the service clock 4 minutes later each time: 24
    minutes for a 10-minute lease. Before each piece the server waits until the client
    renewed at the current time (a handshake, not a sleep); once the original lease is
    past, a second run tries to recover and claim the file, and must get nothing."""
    f = index_entry(1)
    home.register(f)
    neighbours = good_neighbours(home, hostile)
    clock = ManualClock(NOW)
    spy = RenewalSpy(home.store)
    seen: dict[str, object] = {}

    def wait_for_renewal_at(when: datetime) -> None:
        while True:
            at, held = spy.renewals.get(timeout=10)
            if at == when:
                seen.setdefault("held", []).append(held)
                return

    def on_piece(i: int) -> None:
        if i > 0:
            wait_for_renewal_at(clock.now)
        if clock.now >= NOW + timedelta(minutes=12) and "record" not in seen:
            # the lease taken at NOW ran out at NOW + 10 min: another run now tries it
            seen["record"] = home.store.get_file(f.name)
            seen["recovered"] = home.store.recover_expired_leases(clock.now, run_id="other")
            seen["claimed"] = home.store.claim(
                target=FileState.DOWNLOADING, owner="other", now=clock.now, names=[f.name]
            )
        clock.now += timedelta(minutes=4)

    body = fits_body(f.observed_at)
    hostile.routes[path_of(f.name)] = Route(body=body, pieces=6, on_piece=on_piece)
    # one worker: the neighbours are claimed after it, so the second run's recovery can
    # only concern this file
    result = download_window(
        spy, client_for(hostile), home.raw_dir, HOUR, END, clock=clock, owner="run", workers=1
    )

    during = seen["record"]
    assert during.state is FileState.DOWNLOADING and during.lease_owner == "run"
    assert during.lease_expires_at == NOW + timedelta(minutes=12 + 10)  # renewed at +12
    assert seen["recovered"] == [] and seen["claimed"] == []
    assert seen["held"] == [True] * 5 and spy.count == 6  # once per 4-minute step
    assert result.outcomes == {"ready": 3}
    assert_ready(home, [f.name, *neighbours])
    assert home.raw_file(f.name).read_bytes() == body
    # renewals write no audit rows: the file's story is the usual four steps
    assert [t.to_state for t in home.store.transitions_for(f.name)] == [
        FileState.DISCOVERED,
        FileState.DOWNLOADING,
        FileState.DOWNLOADED,
        FileState.READY,
    ]
    assert hostile.hits[path_of(f.name)] == 1
    home.assert_clean(f.name, *neighbours)


def test_a_download_whose_lease_was_recovered_stops_and_leaves_nothing(hostile, home):
    f = index_entry(1)
    home.register(f)
    neighbours = good_neighbours(home, hostile)
    clock = ManualClock(NOW)
    recovered: list[list[str]] = []

    def on_piece(i: int) -> None:
        if i == 2:  # another run's recovery, its clock past this lease
            recovered.append(
                home.store.recover_expired_leases(NOW + timedelta(hours=1), run_id="other")
            )
        clock.now += timedelta(minutes=4)

    hostile.routes[path_of(f.name)] = Route(
        body=fits_body(f.observed_at), pieces=6, on_piece=on_piece
    )
    result = download_window(
        home.store,
        client_for(hostile),
        home.raw_dir,
        HOUR,
        END,
        clock=clock,
        owner="run",
        workers=1,  # the neighbours are claimed after it: the recovery only sees this file
    )

    assert recovered == [[f.name]]
    assert result.outcomes == {"lease_lost": 1, "ready": 2}
    record = home.store.get_file(f.name)
    # the recovering run's failure stands; this run recorded nothing over it
    assert record.state is FileState.DOWNLOAD_FAILED and record.attempts == 1
    assert record.last_error.startswith("lease of run expired")
    assert_ready(home, neighbours)
    home.assert_clean(*neighbours)


def test_headers_dripped_byte_by_byte_end_at_the_deadline(hostile, tmp_path):
    """Per-read timeouts never fire on a server that sends the status line and headers a
    byte every 50 ms; the deadline cuts the socket while the headers are still coming."""
    f = index_entry(1)
    hostile.routes[path_of(f.name)] = Route(body=fits_body(f.observed_at), header_delay=0.05)
    client = client_for(hostile, deadline_base=0.5, max_bytes=100_000, retries=2)  # 0.6 s
    started = time.monotonic()
    with pytest.raises(Transient, match=r"download too slow: 0 bytes in 0\.\d s, deadline 0\.6 s"):
        client.download(HOUR.date(), Detector.C2, f.name, tmp_path / f.name)
    assert time.monotonic() - started < 1.5  # the drip alone would take ~2 s
    assert list(tmp_path.iterdir()) == []


def test_a_slow_index_ends_at_the_deadline(hostile):
    hostile.routes[f"{DAY_PATH}/img_hdr.txt"] = Route(body=b"x" * 100, byte_delay=0.2)
    client = client_for(hostile, deadline_base=0.5, max_bytes=100_000)
    started = time.monotonic()
    with pytest.raises(Transient, match="download too slow"):
        client.fetch_index(HOUR.date(), Detector.C2)
    assert time.monotonic() - started < 1.5
    assert hostile.hits[f"{DAY_PATH}/img_hdr.txt"] == 1
