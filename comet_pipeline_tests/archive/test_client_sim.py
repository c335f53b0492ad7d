"""The client against the simulated archive: over real HTTP on loopback (with faults, counting
requests on the server side) and in process through the ``sim://`` adapter."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.errors import Corrupt, NotFound, Transient
from comet_pipeline.archive.layout import validate_file_name
from comet_pipeline.domain.models import ArchiveFile, Detector
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.faults import HOSTILE_NAMES, Faults
from comet_pipeline.simulator.server import RunningServer, start_server

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
DAY = date(2025, 6, 9)


@pytest.fixture(scope="module")
def archive() -> SimArchive:
    # One archive for the module: its render cache keeps the few FITS we fetch cheap.
    return SimArchive(SimConfig(seed=1), clock=lambda: NOW)


@pytest.fixture(scope="module")
def first_file(archive: SimArchive) -> ArchiveFile:
    with simulated_client("sim://lasco", "sim://schedule", sim_archive=archive) as client:
        return client.fetch_index(DAY, Detector.C2).items[0]


def serve(archive: SimArchive, faults: Faults | None = None) -> RunningServer:
    return start_server(archive, port=0, faults=faults)


def http_client(server: RunningServer, **kwargs: object) -> ArchiveClient:
    opts: dict[str, object] = {"backoff": 0.0, "retries": 3, "read_timeout": 10.0}
    opts.update(kwargs)
    return ArchiveClient(server.url, server.schedule_url, **opts)  # type: ignore[arg-type]


def file_path(f: ArchiveFile) -> str:
    return f"/{f.day_dir}/{f.detector.value}/{f.name}"


def test_5xx_is_retried_until_served(archive, first_file, tmp_path: Path) -> None:
    f = first_file
    with serve(archive, Faults(flaky={f.name: 2})) as server, http_client(server) as client:
        result = client.download(DAY, f.detector, f.name, tmp_path / f.name)
        info = client.verify_fits(result.path, f)
        assert server.count(file_path(f)) == 3  # two 503s, then the file
    expected = archive.fits_bytes(DAY, f.detector, f.name)
    assert result.sha256 == hashlib.sha256(expected).hexdigest() and result.size == len(expected)
    assert info.detector is f.detector and abs(info.observed_at - f.observed_at).seconds < 1


def test_5xx_exhausts_retries_then_transient(archive, first_file, tmp_path: Path) -> None:
    f = first_file
    with serve(archive, Faults(error_rate=1.0)) as server, http_client(server, retries=2) as c:
        with pytest.raises(Transient, match="HTTP 503"):
            c.download(DAY, f.detector, f.name, tmp_path / f.name)
        assert server.count(file_path(f)) == 3  # 1 try + 2 retries
        with pytest.raises(Transient):
            c.fetch_index(DAY, Detector.C2)
        assert server.count(f"/{f.day_dir}/c2/img_hdr.txt") == 3
    assert list(tmp_path.iterdir()) == []


def test_404_is_not_retried(archive, first_file, tmp_path: Path) -> None:
    f = first_file
    with serve(archive, Faults(missing={f.name})) as server, http_client(server) as client:
        with pytest.raises(NotFound):
            client.download(DAY, f.detector, f.name, tmp_path / f.name)
        assert server.count(file_path(f)) == 1
        # A day whose folder does not exist yet: an empty index, one request.
        future = NOW.date() + timedelta(days=2)
        assert len(client.fetch_index(future, Detector.C3)) == 0
        assert len(client.fetch_listing(future, Detector.C3)) == 0
        assert server.count(f"/{future:%y%m%d}/c3/img_hdr.txt") == 1
        assert server.count(f"/{future:%y%m%d}/c3/") == 1
    assert list(tmp_path.iterdir()) == []


def test_truncated_body_is_transient_and_leaves_nothing(archive, first_file, tmp_path) -> None:
    f = first_file
    with serve(archive, Faults(truncate_rate=1.0)) as server, http_client(server) as client:
        with pytest.raises(Transient, match="truncated|connection"):
            client.download(DAY, f.detector, f.name, tmp_path / f.name)
        assert server.count(file_path(f)) == 1
    assert list(tmp_path.iterdir()) == []


def test_corrupt_fits_is_caught_by_verification(archive, first_file, tmp_path: Path) -> None:
    f = first_file
    with serve(archive, Faults(corrupt={f.name})) as server, http_client(server) as client:
        result = client.download(DAY, f.detector, f.name, tmp_path / f.name)
        with pytest.raises(Corrupt, match="does not open|unusable header") as info:
            client.verify_fits(result.path, f)
    assert info.value.permanent


def test_hostile_names_and_malformed_lines_are_reported(archive) -> None:
    faults = Faults(hostile_names=True, malformed_index_lines=6)
    with serve(archive, faults) as server, http_client(server) as client:
        index = client.fetch_index(DAY, Detector.C2)
        listing = client.fetch_listing(DAY, Detector.C2)
    clean = archive.arrived(DAY, Detector.C2)
    assert sorted(f.name for f in index.items) == sorted(o.name for o in clean)
    assert sorted(e.name for e in listing.items) == sorted(o.name for o in clean)
    for name in [f.name for f in index.items] + [e.name for e in listing.items]:
        assert validate_file_name(name) == name
    assert len(index.problems) == 6 + len(HOSTILE_NAMES)
    assert len(listing.problems) == len(HOSTILE_NAMES)
    assert all(p.line_no > 0 and p.reason for p in index.problems + listing.problems)


def test_http_and_sim_transport_agree(archive) -> None:
    with serve(archive) as server, http_client(server) as over_http:
        http_index = over_http.fetch_index(DAY, Detector.C3)
        http_listing = over_http.fetch_listing(DAY, Detector.C3)
        http_schedule = over_http.fetch_schedule()
    with simulated_client("sim://lasco", "sim://schedule", sim_archive=archive) as in_proc:
        assert in_proc.fetch_index(DAY, Detector.C3) == http_index
        assert in_proc.fetch_listing(DAY, Detector.C3) == http_listing
        assert in_proc.fetch_schedule() == http_schedule
    assert http_index.problems == [] and http_listing.problems == []
    assert http_schedule.problems == [] and len(http_schedule.items) >= 14  # 14 days of passes
    arrivals = {e.name: e.modified_at for e in http_listing.items}
    assert len(http_index.items) > 50
    for f in http_index.items:
        # Listing times are truncated to the minute, so allow one minute of slack.
        assert arrivals[f.name] >= f.observed_at - timedelta(minutes=1)
    for p in http_schedule.items:
        assert timedelta(hours=0.5) <= p.eot - p.bot <= timedelta(hours=5)


def test_sim_scheme_gets_the_same_retry_policy(first_file, tmp_path: Path) -> None:
    f = first_file
    faults = Faults(flaky={f.name: 2}, missing={"23999999.fts"})
    flaky = SimArchive(SimConfig(seed=1, faults=faults), clock=lambda: NOW)
    client = simulated_client("sim://lasco", "sim://schedule", sim_archive=flaky, backoff=0)
    adapter = client.session.get_adapter("sim://lasco/")
    result = client.download(DAY, f.detector, f.name, tmp_path / f.name)
    assert result.size == len(flaky.fits_bytes(DAY, f.detector, f.name))
    assert adapter.counts[f"/pub/lasco/lastimage/level_05{file_path(f)}"] == 3
    with pytest.raises(NotFound):
        client.download(DAY, f.detector, "23999999.fts", tmp_path / "23999999.fts")
    assert sum(n for p, n in adapter.counts.items() if p.endswith("23999999.fts")) == 1
    with (
        simulated_client(
            "sim://lasco",
            "sim://schedule",
            sim_archive=SimArchive(SimConfig(seed=1, faults=Faults(error_rate=1.0))),
            backoff=0,
            retries=2,
        ) as failing,
        pytest.raises(Transient, match="HTTP 503"),
    ):
        failing.fetch_schedule()
    assert failing.session.get_adapter("sim://schedule").counts == {
        "/operations/schedule/schedule.html": 3
    }
