"""Client tests against a tiny loopback HTTP server and a transport adapter that fails.

Both are real code paths of ``requests``: the server exercises sockets, Content-Length,
urllib3 retries and early connection close; the adapter raises from inside the body stream.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import requests
import urllib3
from astropy.io import fits
from requests.adapters import BaseAdapter

from comet_pipeline.archive.client import ArchiveClient, verify_fits
from comet_pipeline.archive.errors import Corrupt, NotFound, Rejected, RejectedName, Transient
from comet_pipeline.domain.models import ArchiveFile, Detector

DAY = date(2024, 1, 1)
NAME = "22932721.fts"
OBSERVED = datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)


def fits_bytes(
    *, n: int = 64, detector: str = "C2", date_obs: str = "2024/01/01", time_obs: str = "00:00:05"
) -> bytes:
    hdu = fits.PrimaryHDU(np.arange(n * n, dtype=np.int16).reshape(n, n))
    h = hdu.header
    h["FILENAME"] = NAME
    h["DATE-OBS"] = date_obs
    h["TIME-OBS"] = time_obs
    h["EXPTIME"] = 25.1
    h["DETECTOR"] = detector
    h["FILTER"] = "Orange"
    h["POLAR"] = "Clear"
    h["LP_NUM"] = "Normal"
    h["OFFSET"] = 370.0
    h["CRPIX1"] = n / 2 + 0.5
    h["CRPIX2"] = n / 2 + 0.5
    h["CTYPE1"] = "SOLAR-X"
    h["CTYPE2"] = "SOLAR-Y"
    h["CDELT1"] = 11.9
    h["CDELT2"] = 11.9
    buf = io.BytesIO()
    hdu.writeto(buf)
    return buf.getvalue()


BODY = fits_bytes()
EXPECTED = ArchiveFile(
    name=NAME,
    detector=Detector.C2,
    observed_at=OBSERVED,
    exptime=25.1,
    naxis1=64,
    naxis2=64,
    filter="Orange",
    polarizer="Clear",
    program="Normal",
)
INDEX = (
    f"{NAME}    2024/01/01  00:00:05   C2    25.1     64     64     20      1  "
    "Orange  Clear   Normal       0.0000  4179\n"
)


# ---------------------------------------------------------------- loopback server


class Plan:
    """What the loopback server answers per path, and how many requests it saw."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.cut_at: dict[str, int] = {}  # send Content-Length of the full body, stop here
        self.fail_first: dict[str, int] = {}  # first n requests answer 503
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()


def make_handler(plan: Plan) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 - http.server API
            with plan.lock:
                plan.hits[self.path] += 1
                n = plan.hits[self.path]
            if n <= plan.fail_first.get(self.path, 0):
                self._send(503, b"busy")
                return
            status, body = plan.routes.get(self.path, (404, b"not here"))
            if self.path in plan.cut_at:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: plan.cut_at[self.path]])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send(status, body)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, Plan]]:
    plan = Plan()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(plan))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", plan
    finally:
        httpd.shutdown()
        httpd.server_close()


def client_for(base: str, **kwargs: object) -> ArchiveClient:
    opts: dict[str, object] = {"backoff": 0.0, "connect_timeout": 2.0, "read_timeout": 5.0}
    opts.update(kwargs)
    return ArchiveClient(f"{base}/level_05", f"{base}/schedule.html", **opts)  # type: ignore[arg-type]


FILE_PATH = f"/level_05/240101/c2/{NAME}"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_writes_file_with_sha256(server, tmp_path: Path) -> None:
    base, plan = server
    upper = FILE_PATH.replace(NAME, NAME.upper())
    plan.routes[upper] = (200, BODY)
    with client_for(base) as client:
        result = client.download(DAY, Detector.C2, NAME.upper(), tmp_path / NAME)
        info = client.verify_fits(result.path, EXPECTED)
    assert result.path.read_bytes() == BODY
    assert result.size == len(BODY)
    assert result.sha256 == hashlib.sha256(BODY).hexdigest()
    assert result.elapsed_s >= 0
    assert leftovers(tmp_path) == [NAME]  # no temporary file left behind
    assert info.detector is Detector.C2 and (info.naxis1, info.sun_x) == (64, 31.5)
    # the name is fetched as the index spells it: a case-sensitive server has no .fts twin
    assert plan.hits[upper] == 1 and plan.hits[FILE_PATH] == 0


@pytest.mark.parametrize("cut", [0, 1, 2879, 2880, len(BODY) // 2, len(BODY) - 1])
def test_connection_closed_mid_body_leaves_nothing(server, tmp_path: Path, cut: int) -> None:
    base, plan = server
    plan.routes[FILE_PATH] = (200, BODY)
    plan.cut_at[FILE_PATH] = cut
    with client_for(base) as client, pytest.raises(Transient, match="truncated|connection"):
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert leftovers(tmp_path) == []
    assert plan.hits[FILE_PATH] == 1  # a broken body is not retried inside the client


def test_size_cap_by_content_length(server, tmp_path: Path) -> None:
    base, plan = server
    plan.routes[FILE_PATH] = (200, BODY)
    with (
        client_for(base, max_bytes=len(BODY) - 1) as client,
        pytest.raises(Rejected, match="Content-Length .* exceeds"),
    ):
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert leftovers(tmp_path) == []


def test_retries_5xx_then_succeeds(server, tmp_path: Path) -> None:
    base, plan = server
    plan.routes[FILE_PATH] = (200, BODY)
    plan.fail_first[FILE_PATH] = 2
    with client_for(base, retries=3) as client:
        result = client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert result.sha256 == hashlib.sha256(BODY).hexdigest()
    assert plan.hits[FILE_PATH] == 3


def test_5xx_after_retries_is_transient_and_404_is_not_retried(server, tmp_path: Path) -> None:
    base, plan = server
    plan.routes[FILE_PATH] = (200, BODY)
    plan.fail_first[FILE_PATH] = 100
    with client_for(base, retries=2) as client:
        with pytest.raises(Transient, match="HTTP 503"):
            client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
        assert plan.hits[FILE_PATH] == 3  # 1 + 2 retries
        missing = "/level_05/240101/c2/22932799.fts"
        with pytest.raises(NotFound) as info:
            client.download(DAY, Detector.C2, "22932799.fts", tmp_path / "22932799.fts")
        assert info.value.permanent
        assert plan.hits[missing] == 1
    assert leftovers(tmp_path) == []


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        client_for(f"http://127.0.0.1:{port}", retries=1) as client,
        pytest.raises(Transient, match="connection"),
    ):
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert leftovers(tmp_path) == []


def test_hostile_name_never_reaches_the_network(server, tmp_path: Path) -> None:
    base, plan = server
    with client_for(base) as client, pytest.raises(RejectedName):
        client.download(DAY, Detector.C2, "../../etc/passwd.fts", tmp_path / "x.fts")
    assert sum(plan.hits.values()) == 0
    assert leftovers(tmp_path) == []


def test_index_listing_schedule(server) -> None:
    base, plan = server
    plan.routes["/level_05/240101/c2/img_hdr.txt"] = (200, INDEX.encode())
    plan.routes["/level_05/240101/c2/"] = (
        200,
        f'<tr><td><a href="{NAME}">{NAME}</a></td><td align="right">2024-01-01 01:23 </td>'.encode(),
    )
    plan.routes["/schedule.html"] = (200, b"<pre>47  327  MON  2026-11-23  04:35 - 08:30  D24\n")
    with client_for(base) as client:
        index = client.fetch_index(DAY, Detector.C2)
        assert [f.name for f in index.items] == [NAME] and index.problems == []
        listing = client.fetch_listing(DAY, Detector.C2)
        assert listing.items[0].modified_at == datetime(2024, 1, 1, 6, 23, tzinfo=UTC)
        [p] = client.fetch_schedule().items
        assert p.antenna == "D24"
        # A day whose folder does not exist yet: empty, not an error, and not retried.
        assert len(client.fetch_index(date(2024, 1, 2), Detector.C2)) == 0
        assert len(client.fetch_listing(date(2024, 1, 2), Detector.C2)) == 0
        assert plan.hits["/level_05/240102/c2/img_hdr.txt"] == 1
        plan.routes.pop("/schedule.html")
        with pytest.raises(NotFound):
            client.fetch_schedule()


# ---------------------------------------------------------------- failing transport


class BrokenStream:
    """A raw body that delivers ``fail_at`` bytes and then raises ``exc``."""

    def __init__(self, body: bytes, fail_at: int, exc: BaseException) -> None:
        self.buf = io.BytesIO(body)
        self.fail_at = fail_at
        self.exc = exc

    def read(self, n: int = -1, **_: object) -> bytes:
        remaining = self.fail_at - self.buf.tell()
        if remaining <= 0:
            raise self.exc
        return self.buf.read(min(n, remaining) if n and n > 0 else remaining)

    def close(self) -> None:
        pass


class BrokenAdapter(BaseAdapter):
    def __init__(self, body: bytes, fail_at: int, exc: BaseException) -> None:
        super().__init__()
        self.args = (body, fail_at, exc)
        self.sent = 0

    def send(self, request: requests.PreparedRequest, **_: object) -> requests.Response:
        self.sent += 1
        body, fail_at, exc = self.args
        response = requests.Response()
        response.status_code = 200
        response.headers["Content-Length"] = str(len(body))
        response.raw = BrokenStream(body, fail_at, exc)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "exc",
    [
        urllib3.exceptions.ProtocolError("Connection broken"),
        urllib3.exceptions.ReadTimeoutError(None, "x", "read timed out"),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
@pytest.mark.parametrize("fail_at", [0, 100, 2880, len(BODY) // 2, len(BODY) - 1])
def test_stream_error_mid_body_leaves_nothing(tmp_path: Path, fail_at: int, exc: Exception) -> None:
    session = requests.Session()
    session.mount("http://broken.test/", BrokenAdapter(BODY, fail_at, exc))
    client = ArchiveClient("http://broken.test/l05", "http://broken.test/s", session=session)
    with pytest.raises(Transient):
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert leftovers(tmp_path) == []


def test_interrupt_mid_body_leaves_nothing_and_propagates(tmp_path: Path) -> None:
    session = requests.Session()
    session.mount("http://broken.test/", BrokenAdapter(BODY, len(BODY) // 2, KeyboardInterrupt()))
    client = ArchiveClient("http://broken.test/l05", "http://broken.test/s", session=session)
    with pytest.raises(KeyboardInterrupt):
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert leftovers(tmp_path) == []


def test_existing_file_is_kept_when_a_new_download_fails(tmp_path: Path) -> None:
    (tmp_path / NAME).write_bytes(b"old")
    session = requests.Session()
    session.mount("http://broken.test/", BrokenAdapter(BODY, 10, ConnectionResetError()))
    client = ArchiveClient("http://broken.test/l05", "http://broken.test/s", session=session)
    with pytest.raises(Transient):
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert leftovers(tmp_path) == [NAME] and (tmp_path / NAME).read_bytes() == b"old"


def test_size_cap_without_content_length(tmp_path: Path) -> None:
    class NoLength(BrokenAdapter):
        def send(self, request, **kw):  # type: ignore[no-untyped-def]
            response = super().send(request, **kw)
            del response.headers["Content-Length"]
            return response

    adapter = NoLength(BODY, len(BODY) + 1, AssertionError("never reached"))
    session = requests.Session()
    session.mount("http://broken.test/", adapter)
    client = ArchiveClient(
        "http://broken.test/l05", "http://broken.test/s", session=session, max_bytes=5000
    )
    with pytest.raises(Rejected, match="body exceeds the 5000-byte cap"):
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert leftovers(tmp_path) == []


def test_short_body_without_transport_error_is_transient(tmp_path: Path) -> None:
    class Short(BrokenAdapter):
        def send(self, request, **kw):  # type: ignore[no-untyped-def]
            response = super().send(request, **kw)
            response.headers["Content-Length"] = str(len(BODY) + 10)
            return response

    session = requests.Session()
    session.mount("http://broken.test/", Short(BODY, len(BODY) + 1, AssertionError()))
    client = ArchiveClient("http://broken.test/l05", "http://broken.test/s", session=session)
    with pytest.raises(Transient, match=f"truncated body: {len(BODY)} of {len(BODY) + 10}"):
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME)
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- verify_fits


def test_verify_fits_accepts_the_promised_image(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(BODY)
    info = verify_fits(path, EXPECTED)
    assert info.observed_at == OBSERVED and info.offset == 370.0


@pytest.mark.parametrize(
    ("body", "expected", "reason"),
    [
        (b"SIMPLE  =  garbage" * 200, EXPECTED, "does not open as FITS"),
        (b"", EXPECTED, "does not open as FITS"),
        (BODY[:2880] + BODY[2880 + 100 :], EXPECTED, "data truncated: 8540 bytes"),
        (BODY[: 2880 + 4000], EXPECTED, "data truncated"),
        (fits_bytes(detector="C3"), EXPECTED, "detector C3 != index C2"),
        (fits_bytes(time_obs="00:00:35"), EXPECTED, "30.0s from the index"),
        (fits_bytes(n=32), EXPECTED, "header size 32x32 != index 64x64"),
        (fits_bytes(date_obs="yesterday"), EXPECTED, "unusable header"),
    ],
)
def test_verify_fits_rejects(
    tmp_path: Path, body: bytes, expected: ArchiveFile, reason: str
) -> None:
    path = tmp_path / NAME
    path.write_bytes(body)
    with pytest.raises(Corrupt, match=reason) as info:
        verify_fits(path, expected)
    assert info.value.permanent


def test_verify_fits_tolerates_a_few_seconds(tmp_path: Path) -> None:
    path = tmp_path / NAME
    path.write_bytes(fits_bytes(time_obs="00:00:08.900"))
    assert verify_fits(path, EXPECTED).observed_at.second == 8


# ---------------------------------------------------------------- download(verify=...)


def test_download_verifies_the_complete_temp_file_before_replacing(server, tmp_path: Path) -> None:
    base, plan = server
    plan.routes[FILE_PATH] = (200, BODY)
    seen: list[tuple[Path, bytes, bool]] = []

    def verify(tmp: Path) -> None:
        seen.append((tmp, tmp.read_bytes(), (tmp_path / NAME).exists()))
        verify_fits(tmp, EXPECTED)  # must not depend on the name: tmp ends in .part

    with client_for(base) as client:
        result = client.download(DAY, Detector.C2, NAME, tmp_path / NAME, verify=verify)
    [(tmp, body, dest_existed)] = seen
    assert tmp != tmp_path / NAME and tmp.parent == tmp_path and tmp.suffix == ".part"
    assert body == BODY and not dest_existed
    assert leftovers(tmp_path) == [NAME] and result.path.read_bytes() == BODY


@pytest.mark.parametrize(
    ("failure", "raised"),
    [
        (Corrupt("header time is off"), Corrupt),
        (Transient("disk hiccup"), Transient),
        (ValueError("odd bytes"), Corrupt),
    ],
)
def test_failed_verify_removes_temp_and_keeps_existing_file(
    server, tmp_path: Path, failure: Exception, raised: type[Exception]
) -> None:
    base, plan = server
    plan.routes[FILE_PATH] = (200, BODY)
    good = fits_bytes(time_obs="00:00:06")
    (tmp_path / NAME).write_bytes(good)

    def verify(tmp: Path) -> None:
        raise failure

    with client_for(base) as client, pytest.raises(raised) as info:
        client.download(DAY, Detector.C2, NAME, tmp_path / NAME, verify=verify)
    if raised is type(failure):
        assert info.value is failure
    else:
        assert "ValueError: odd bytes" in str(info.value) and info.value.__cause__ is failure
    assert leftovers(tmp_path) == [NAME]
    assert (tmp_path / NAME).read_bytes() == good


def test_verify_fits_rejection_on_temp_leaves_nothing(server, tmp_path: Path) -> None:
    base, plan = server
    plan.routes[FILE_PATH] = (200, fits_bytes(detector="C3"))
    with client_for(base) as client, pytest.raises(Corrupt, match="detector C3 != index C2"):
        client.download(
            DAY, Detector.C2, NAME, tmp_path / NAME, verify=lambda t: verify_fits(t, EXPECTED)
        )
    assert leftovers(tmp_path) == []
