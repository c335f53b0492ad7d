"""Serving: the sim:// adapter and the loopback HTTP server, real paths and every fault kind."""

from __future__ import annotations

import http.client
import io
import time
from datetime import UTC, datetime

import pytest
import requests
from astropy.io import fits

from comet_pipeline.archive.parsers import parse_img_hdr, parse_listing, parse_schedule
from comet_pipeline.domain.models import Detector
from comet_pipeline.settings import DEFAULT_ARCHIVE_URL, DEFAULT_SCHEDULE_URL
from comet_pipeline.simulator import HOSTILE_NAMES, Faults, SimArchive, SimConfig
from comet_pipeline.simulator.adapter import mount_sim
from comet_pipeline.simulator.faults import FaultInjector
from comet_pipeline.simulator.server import start_server
from comet_pipeline_tests.simulator.conftest import DAY

NOW = datetime(2024, 3, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def archive() -> SimArchive:
    return SimArchive(SimConfig(seed=9), clock=lambda: NOW)


@pytest.fixture(scope="module")
def names(archive: SimArchive) -> list[str]:
    return [o.name for o in archive.arrived(DAY, Detector.C2)]


def test_adapter_serves_the_settings_default_urls(archive: SimArchive, names: list[str]) -> None:
    session = requests.Session()
    adapter = mount_sim(session, archive)
    base = f"{DEFAULT_ARCHIVE_URL}/240305/c2/"
    listing = session.get(base)
    assert listing.status_code == 200 and listing.headers["Content-Type"].startswith("text/html")
    assert {e.name for e in parse_listing(listing.text).items} == set(names)
    index = session.get(base + "img_hdr.txt")
    assert int(index.headers["Content-Length"]) == len(index.content)
    assert [f.name for f in parse_img_hdr(index.text).items] == names
    with session.get(base + names[0], stream=True) as r:
        assert r.status_code == 200
        chunks = list(r.iter_content(chunk_size=65536))
    body = b"".join(chunks)
    assert len(chunks) > 1 and len(body) == int(r.headers["Content-Length"])
    assert fits.getheader(io.BytesIO(body))["FILENAME"] == names[0]
    schedule = session.get(DEFAULT_SCHEDULE_URL)
    assert schedule.status_code == 200 and parse_schedule(schedule.text).items
    assert session.get(base + "29999999.fts").status_code == 404
    assert session.get("sim://lasco/249999/c2/").status_code == 404
    assert session.get("sim://elsewhere/x").status_code == 404
    redirected = session.get(base.rstrip("/"))
    assert redirected.status_code == 200 and redirected.history[0].status_code == 301
    assert adapter.counts["/pub/lasco/lastimage/level_05/240305/c2/img_hdr.txt"] == 1


def test_adapter_truncation_breaks_the_stream(archive: SimArchive, names: list[str]) -> None:
    session = requests.Session()
    mount_sim(session, archive, Faults(truncate_rate=1.0))
    with (
        pytest.raises(requests.exceptions.ChunkedEncodingError),
        session.get(f"sim://lasco/240305/c2/{names[0]}", stream=True) as r,
    ):
        b"".join(r.iter_content(65536))


def test_http_server_answers_the_real_paths(archive: SimArchive, names: list[str]) -> None:
    with start_server(archive) as srv:
        assert srv.url.endswith("/pub/lasco/lastimage/level_05")
        base = f"{srv.url}/240305/c2/"
        assert parse_listing(requests.get(base, timeout=5).text).items
        assert requests.get(base + "img_hdr.txt", timeout=5).text.startswith(names[0])
        r = requests.get(base + names[1], timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/fits"
        assert len(r.content) == int(r.headers["Content-Length"])
        assert "Last-Modified" in r.headers
        assert requests.head(base + names[1], timeout=5).headers["Content-Length"] == str(
            len(r.content)
        )
        s = requests.get(srv.schedule_url, timeout=5)
        assert srv.schedule_url.endswith("/operations/schedule/schedule.html") and s.ok
        for bad in ("/", "/pub/lasco/", base + "nope.txt", base + "2209x721.fts",
                    f"{srv.url}/240305/c4/", f"{srv.url}/241340/c2/", f"{srv.url}/240320/c2/"):  # fmt: skip
            url = bad if bad.startswith("http") else srv.root_url + bad
            assert requests.get(url, timeout=5).status_code == 404, bad
        assert srv.count(names[1]) == 2


def test_error_rate_is_deterministic_per_path(archive: SimArchive, names: list[str]) -> None:
    faults = Faults(error_rate=0.3, seed=5)
    with start_server(archive, faults=faults) as srv:
        url = f"{srv.url}/240305/c2/img_hdr.txt"
        got = [requests.get(url, timeout=5).status_code for _ in range(30)]
    oracle = FaultInjector(faults)
    path = "/pub/lasco/lastimage/level_05/240305/c2/img_hdr.txt"
    want = [503 if oracle.would_fail(path, n) else 200 for n in range(1, 31)]
    assert got == want and 3 <= got.count(503) <= 20
    with start_server(archive, faults=Faults(error_rate=1.0)) as srv:
        assert requests.get(f"{srv.url}/240305/c2/", timeout=5).status_code == 503


def test_latency(archive: SimArchive) -> None:
    with start_server(archive, faults=Faults(latency_s=0.3)) as srv:
        t0 = time.perf_counter()
        assert requests.get(srv.schedule_url, timeout=5).ok
        assert time.perf_counter() - t0 >= 0.3


def test_truncated_bodies(archive: SimArchive, names: list[str]) -> None:
    with start_server(archive, faults=Faults(truncate_rate=1.0)) as srv:
        url = f"{srv.url}/240305/c2/{names[0]}"
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url, timeout=5)
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
        conn.request("GET", url.removeprefix(srv.root_url))
        resp = conn.getresponse()
        claimed = int(resp.getheader("Content-Length"))
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        conn.close()
        assert claimed == len(archive.fits_bytes(DAY, Detector.C2, names[0]))
        assert 0 < len(info.value.partial) < claimed


def test_corrupt_and_missing_files(archive: SimArchive, names: list[str]) -> None:
    faults = Faults(corrupt={names[0]}, missing={names[1]})
    with start_server(archive, faults=faults) as srv:
        base = f"{srv.url}/240305/c2/"
        good = archive.fits_bytes(DAY, Detector.C2, names[0])
        bad = requests.get(base + names[0], timeout=5).content
        assert len(bad) == len(good) and bad != good
        with pytest.raises(OSError, match="No SIMPLE card found"):
            fits.open(io.BytesIO(bad)).verify("exception")
        assert names[1] in requests.get(base + "img_hdr.txt", timeout=5).text
        assert names[1] in requests.get(base, timeout=5).text
        assert requests.get(base + names[1], timeout=5).status_code == 404
        assert requests.get(base + names[2], timeout=5).content == archive.fits_bytes(
            DAY, Detector.C2, names[2]
        )


def test_malformed_index_lines_and_hostile_names(archive: SimArchive, names: list[str]) -> None:
    with start_server(archive, faults=Faults(malformed_index_lines=6, hostile_names=True)) as srv:
        base = f"{srv.url}/240305/c2/"
        parsed = parse_img_hdr(
            requests.get(base + "img_hdr.txt", timeout=5).text, detector=Detector.C2
        )
        assert [f.name for f in parsed.items] == names
        assert len(parsed.problems) == 6 + len(HOSTILE_NAMES)
        text = "\n".join(p.line for p in parsed.problems)
        assert all(name in text for name in HOSTILE_NAMES)
        listing = requests.get(base, timeout=5).text
        assert 'href="../../etc/passwd.fts"' in listing and 'href="/abs.fts"' in listing
        parsed_listing = parse_listing(listing)
        assert {e.name for e in parsed_listing.items} == set(names)
        assert len(parsed_listing.problems) == len(HOSTILE_NAMES)
        assert requests.get(base + "2209x721.fts", timeout=5).status_code == 404


def test_flaky_files_fail_n_times_then_succeed(archive: SimArchive, names: list[str]) -> None:
    with start_server(archive, faults=Faults(flaky={names[3]: 2})) as srv:
        url = f"{srv.url}/240305/c2/{names[3]}"
        codes = [requests.get(url, timeout=5).status_code for _ in range(4)]
        assert codes == [503, 503, 200, 200]
        assert srv.counts[url.removeprefix(srv.root_url)] == 4
        assert requests.get(f"{srv.url}/240305/c2/{names[4]}", timeout=5).status_code == 200


def test_faults_in_the_config_apply_to_sim_urls() -> None:
    archive = SimArchive(SimConfig(seed=9, faults=Faults(error_rate=1.0)), clock=lambda: NOW)
    session = requests.Session()
    mount_sim(session, archive)
    assert session.get("sim://lasco/240305/c2/img_hdr.txt").status_code == 503


def test_truncation_spares_text_unless_asked(archive: SimArchive) -> None:
    with start_server(archive, faults=Faults(truncate_rate=1.0)) as srv:
        assert parse_listing(requests.get(f"{srv.url}/240305/c2/", timeout=5).text).items
    with (
        start_server(archive, faults=Faults(truncate_rate=1.0, truncate_text=True)) as srv,
        pytest.raises(requests.exceptions.ChunkedEncodingError),
    ):
        requests.get(f"{srv.url}/240305/c2/img_hdr.txt", timeout=5)


def test_faults_from_cli_options() -> None:
    from argparse import Namespace

    from comet_pipeline.simulator.server import faults_from_options

    assert faults_from_options(Namespace(port=1, seed=0, error_rate=0.0)) is None
    f = faults_from_options(
        Namespace(error_rate=0.2, latency=0.1, truncate_rate=0.3, corrupt=["22932721.fts"],
                  missing=[], malformed_index=True, hostile_names=True, flaky=["22932722.fts=2"])
    )  # fmt: skip
    assert f is not None and f.error_rate == 0.2 and f.latency_s == 0.1 and f.truncate_rate == 0.3
    assert f.corrupt == {"22932721.fts"} and f.malformed_index_lines == 6 and f.hostile_names
    assert f.flaky == {"22932722.fts": 2}


def test_serve_forever_takes_keywords_and_stops_on_interrupt() -> None:
    import errno
    import socket
    from argparse import Namespace

    from comet_pipeline.simulator.server import serve_forever

    with pytest.raises(TypeError):
        serve_forever(Namespace(port=0, seed=3))  # type: ignore[misc]  # options are not accepted

    lines: list[str] = []
    answers: list[int] = []

    def announce(line: str) -> None:
        lines.append(line)
        if line.startswith("  COMET_SCHEDULE_URL="):
            answers.append(requests.get(line.split("=", 1)[1], timeout=5).status_code)
        if line.startswith("  faults:"):
            raise KeyboardInterrupt  # what Ctrl-C does: serve_forever stops the server

    faults = Faults(hostile_names=True, seed=4)
    serve_forever(port=0, seed=3, faults=faults, clock=lambda: NOW, announce=announce)
    assert "(seed 3)" in lines[0] and answers == [200]
    assert lines[-1] == f"  faults: {faults}"
    port = int(lines[0].split("(seed")[0].rsplit(":", 1)[1])
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))  # stopped and closed

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        said: list[str] = []
        with pytest.raises(OSError) as info:  # noqa: PT011  its errno is checked below
            serve_forever(port=taken, announce=said.append)
    assert info.value.errno == errno.EADDRINUSE and said == []
