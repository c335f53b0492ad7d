"""A hostile archive on loopback: a small ``ThreadingHTTPServer`` whose routes each test sets.

Not the project's simulator: this server misbehaves on purpose, per route — a status and
headers of the test's choosing, a body dripped one byte at a time or in pieces with a hook
before each, redirects anywhere, headers dripped byte by byte — and counts every request.
The services run for real against it (``download_window``, a SQLite store in the test's
home), so each test asserts the end state a run leaves behind.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.domain import ArchiveFile, Detector, FileState
from comet_pipeline.settings import Settings
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.shared import HOUR

END = HOUR + timedelta(hours=1)
SIDE = 64  # image side of the test frames: small, and the smallest a check accepts
DAY_PATH = f"/level_05/{HOUR:%y%m%d}/c2"


@dataclass
class Route:
    """What the server answers on one path."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None  # the status line's reason phrase (None: the standard one)
    byte_delay: float = 0.0  # > 0: the body one byte at a time, this many seconds apart
    header_delay: float = 0.0  # > 0: status line and headers one byte at a time too
    pieces: int = 0  # > 0: the body in this many pieces, calling on_piece(i) before each
    on_piece: Callable[[int], None] | None = None


class HostileServer:
    """One loopback server; ``routes`` by path, ``hits`` counts requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.hostile = self  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def archive_url(self) -> str:
        return f"{self.url}/level_05"

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Route(status=status, headers={"Location": location})

    def close(self) -> None:
        self.stop.set()  # ends any drip at once
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    @property
    def hostile(self) -> HostileServer:
        return self.server.hostile  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass

    def handle(self) -> None:
        # a client that gave up mid-connection is expected here, not worth a trace
        with contextlib.suppress(ConnectionError):
            super().handle()

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        with self.hostile.lock:
            self.hostile.hits[self.path] += 1
        route = self.hostile.routes.get(self.path, Route(status=404, body=b"not here"))
        try:
            if self._head(route):
                self._body(route)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up: what these tests want

    def _head(self, route: Route) -> bool:
        headers = {"Content-Length": str(len(route.body)), **route.headers}
        if route.header_delay:
            head = f"HTTP/1.1 {route.status} {route.reason or 'OK'}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            return self._drip(head.encode("latin-1"), route.header_delay)
        self.send_response(route.status, route.reason)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        return True

    def _body(self, route: Route) -> None:
        if route.byte_delay:
            self._drip(route.body, route.byte_delay)
        elif route.pieces:
            size = -(-len(route.body) // route.pieces)
            for i in range(route.pieces):
                if route.on_piece is not None:
                    route.on_piece(i)
                self.wfile.write(route.body[i * size : (i + 1) * size])
                self.wfile.flush()
        else:
            self.wfile.write(route.body)

    def _drip(self, data: bytes, delay: float) -> bool:
        """``data`` one byte at a time (the server's pace, ended at once by ``stop``)."""
        for i in range(len(data)):
            if self.hostile.stop.wait(delay if i else 0.0):
                self.close_connection = True
                return False
            self.wfile.write(data[i : i + 1])
            self.wfile.flush()
        return True


@pytest.fixture
def make_server() -> Iterator[Callable[[], HostileServer]]:
    """``make_server()``: a started hostile server (as many as a test needs), stopped after."""
    made: list[HostileServer] = []

    def make() -> HostileServer:
        server = HostileServer()
        server.thread.start()
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def hostile(make_server) -> HostileServer:
    return make_server()


# ---------------------------------------------------------------- FITS bodies and files


def observed(k: int) -> datetime:
    """The observation time of the k-th test file (k minutes into the hour)."""
    return HOUR + timedelta(minutes=k, seconds=5)


def name_of(k: int) -> str:
    return f"2{k:07d}.fts"


def fits_body(
    when: datetime, *, side: int = SIDE, planes: int = 0, **cards: float | int | str
) -> bytes:
    """A small level-0.5-like C2 frame as the archive serves it; ``cards`` override header
    values (after the data set NAXIS*), ``planes`` > 0 makes it a 3-D cube."""
    shape = (planes, side, side) if planes else (side, side)
    hdu = fits.PrimaryHDU(np.arange(int(np.prod(shape)), dtype=np.int16).reshape(shape) % 4000)
    h = hdu.header
    h["FILENAME"] = "frame.fts"
    h["DATE-OBS"] = when.strftime("%Y/%m/%d")
    h["TIME-OBS"] = when.strftime("%H:%M:%S.000")
    h["EXPTIME"] = 25.1
    h["DETECTOR"] = "C2"
    h["FILTER"] = "Orange"
    h["POLAR"] = "Clear"
    h["LP_NUM"] = "Normal"
    h["LEBXSUM"] = 1
    h["SUMCOL"] = 1
    h["OFFSET"] = 370.0
    h["CRPIX1"] = side / 2 + 0.5
    h["CRPIX2"] = side / 2 + 0.5
    h["CRVAL1"] = 0.0
    h["CRVAL2"] = 0.0
    h["CTYPE1"] = "SOLAR-X"
    h["CTYPE2"] = "SOLAR-Y"
    h["CUNIT1"] = "ARCSEC"
    h["CUNIT2"] = "ARCSEC"
    h["CDELT1"] = 11.9
    h["CDELT2"] = 11.9
    h.update(cards)
    buf = io.BytesIO()
    hdu.writeto(buf, output_verify="silentfix")
    return buf.getvalue()


def index_entry(k: int, name: str | None = None) -> ArchiveFile:
    """What the index says of the k-th file (verification compares the download with it)."""
    return ArchiveFile(
        name or name_of(k), Detector.C2, observed(k), 25.1, SIDE, SIDE, "Orange", "Clear", "Normal"
    )


@dataclass
class Home:
    """A test's COMET_HOME: settings, the real SQLite store, the raw dir."""

    root: Path
    settings: Settings
    store: SQLiteStore

    @property
    def raw_dir(self) -> Path:
        return self.settings.layout.raw_dir

    def raw_file(self, name: str) -> Path:
        return self.raw_dir / "c2" / f"{HOUR:%y%m%d}" / name

    def register(self, *files: ArchiveFile) -> None:
        self.store.register_files(files, now=HOUR)

    def written(self) -> list[str]:
        """Every file under the test's tmp dir, relative to it (the store's files aside)."""
        found = []
        for folder, _dirs, names in os.walk(self.root):
            for n in names:
                rel = (Path(folder) / n).relative_to(self.root).as_posix()
                if not rel.startswith("home/lifecycle.db"):
                    found.append(rel)
        return sorted(found)

    def assert_clean(self, *kept: str) -> None:
        """Nothing outside the home, no partial or ``.part`` file: only the raw files named."""
        raw = f"home/raw/c2/{HOUR:%y%m%d}/"
        assert self.written() == sorted(raw + n for n in kept)


@pytest.fixture
def home(tmp_path: Path, hostile: HostileServer) -> Home:
    root = tmp_path / "home"
    root.mkdir()
    settings = Settings(
        home=root, archive_url=hostile.archive_url, schedule_url=f"{hostile.url}/schedule.html"
    )
    store = SQLiteStore(settings.layout.lifecycle_db)
    yield Home(tmp_path, settings, store)
    store.close()


def client_for(server: HostileServer, **options: float) -> ArchiveClient:
    """A client with small timeouts and deadlines (the tests end in seconds), no backoff."""
    opts: dict[str, float] = {
        "backoff": 0.0,
        "retries": 0,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "deadline_base": 10.0,
        "max_bytes": 200_000,
        "min_rate": 1_000_000.0,
    }
    opts.update(options)
    return ArchiveClient(server.archive_url, f"{server.url}/schedule.html", **opts)  # type: ignore[arg-type]


def path_of(name: str) -> str:
    """The server path of a file of the test day."""
    return f"{DAY_PATH}/{name}"


def good_neighbours(home: Home, server: HostileServer, ks: tuple[int, ...] = (2, 3)) -> list[str]:
    """Register and serve well-behaved files alongside a test's bad one; their names."""
    files = [index_entry(k) for k in ks]
    home.register(*files)
    for f in files:
        server.routes[path_of(f.name)] = Route(body=fits_body(f.observed_at))
    return [f.name for f in files]


def assert_ready(home: Home, names: list[str]) -> None:
    """Each file READY, its verified bytes at its raw path."""
    for name in names:
        record = home.store.get_file(name)
        assert record is not None and record.state is FileState.READY, record
        assert record.raw_path == str(home.raw_file(name)) and Path(record.raw_path).is_file()


def download_hour(home: Home, server: HostileServer):  # noqa: ANN201  a StepResult
    """The test hour's downloads through the real service, against ``server``."""
    from comet_pipeline.ingest.download import download_window
    from comet_pipeline_tests.clocks import ManualClock
    from comet_pipeline_tests.shared import NOW

    return download_window(
        home.store, client_for(server), home.raw_dir, HOUR, END, clock=ManualClock(NOW), owner="r"
    )
