"""The simulated archive over real HTTP on loopback, under the real paths, with faults.

``start_server(archive, faults=...)`` runs a ``ThreadingHTTPServer`` in a background thread
and returns a :class:`RunningServer` (a context manager). ``serve_forever`` (keyword arguments only) is
the body of ``comet-pipeline simulate-archive --port P``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from comet_pipeline.archive.layout import LONGTERM_ROOT
from comet_pipeline.simulator.archive import LEVEL05_ROOT, SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.faults import Faults
from comet_pipeline.simulator.profiles import profile_config
from comet_pipeline.simulator.routes import SCHEDULE_PATH, Router


class _Handler(BaseHTTPRequestHandler):
    server_version = "Apache/2.4.37"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    router: Router  # set on the subclass made per server
    server: ThreadingHTTPServer  # what serves it (BaseRequestHandler types it BaseServer)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(send_body=False)

    def _answer(self, *, send_body: bool) -> None:
        reply = self.router.handle(self.path)
        if reply.latency_s:
            time.sleep(reply.latency_s)
        self.send_response(reply.status)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.redirect_slash:
            addr = self.server.server_address
            host = self.headers.get("Host") or f"{str(addr[0])}:{addr[1]}"
            self.send_header("Location", f"http://{host}{self.path.split('?', 1)[0]}/")
        if reply.truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if send_body:
            try:
                self.wfile.write(reply.sent_body)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: tests and demos read counters, not logs


@dataclass
class RunningServer:
    """A started simulator: ``url`` is the base of the level-0.5 tree (no trailing slash)."""

    httpd: ThreadingHTTPServer
    thread: threading.Thread
    router: Router

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Base of the level-0.5 tree: use it as ``COMET_ARCHIVE_URL``."""
        return self.root_url + LEVEL05_ROOT

    @property
    def longterm_url(self) -> str:
        """Base of the long-term level-0.5 tree: use it as ``COMET_LONGTERM_ARCHIVE_URL``."""
        return self.root_url + LONGTERM_ROOT

    @property
    def schedule_url(self) -> str:
        """The schedule page: use it as ``COMET_SCHEDULE_URL``."""
        return self.root_url + SCHEDULE_PATH

    @property
    def counts(self) -> dict[str, int]:
        """Requests seen per path (a copy)."""
        return self.router.counts

    def request_counts(self) -> dict[str, int]:
        """Requests seen per path (a copy; same as :attr:`counts`)."""
        return self.router.counts

    def count(self, path_suffix: str) -> int:
        """Requests seen for paths ending in ``path_suffix``."""
        return sum(n for p, n in self.counts.items() if p.endswith(path_suffix))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    archive: SimArchive, *, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None
) -> RunningServer:
    """Serve ``archive`` on ``host:port`` (0 = any free port) in a daemon thread."""
    router = Router(archive, faults)
    handler = type("SimHandler", (_Handler,), {"router": router})
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-archive", daemon=True
    )
    thread.start()
    return RunningServer(httpd, thread, router)


def faults_from_options(options: object) -> Faults | None:
    """Faults from CLI options (argparse names: error_rate, latency, truncate_rate, corrupt,
    missing, malformed_index, hostile_names, flaky as ``NAME=N`` strings); None if none."""
    flaky = {}
    for item in getattr(options, "flaky", None) or []:
        name, _, count = str(item).partition("=")
        flaky[name] = int(count or 1)
    malformed = getattr(options, "malformed_index", 0)
    faults = Faults(
        error_rate=float(getattr(options, "error_rate", 0.0) or 0.0),
        latency_s=float(getattr(options, "latency", 0.0) or 0.0),
        truncate_rate=float(getattr(options, "truncate_rate", 0.0) or 0.0),
        corrupt=frozenset(getattr(options, "corrupt", None) or ()),
        missing=frozenset(getattr(options, "missing", None) or ()),
        malformed_index_lines=6 if malformed is True else int(malformed or 0),
        hostile_names=bool(getattr(options, "hostile_names", False)),
        flaky=flaky,
        seed=int(getattr(options, "seed", 0) or 0),
    )
    return None if faults == Faults(seed=faults.seed) else faults


def serve_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 0,
    faults: Faults | None = None,
    config: SimConfig | None = None,
    clock: Callable[[], datetime] | None = None,
    announce: Callable[[str], None] = print,
    profile: str = "nominal",
) -> None:
    """Run the simulator in the foreground until interrupted (Ctrl-C).

    The sky is ``config`` if given, else sky profile ``profile`` with ``seed`` (an unknown
    profile raises ValueError before anything binds). Binding errors (port in use, no
    permission) leave as the ``OSError`` from the socket, before anything is announced, so
    the CLI can say what went wrong in one line.
    """
    config = config or profile_config(profile, seed=seed)
    server = start_server(SimArchive(config, clock), host=host, port=port, faults=faults)
    try:
        announce(f"simulated LASCO archive on {server.root_url} (seed {config.seed})")
        announce(f"  sky profile: {config.profile}")
        announce(f"  COMET_ARCHIVE_URL={server.url}")
        announce(f"  COMET_LONGTERM_ARCHIVE_URL={server.longterm_url}")
        announce(f"  COMET_SCHEDULE_URL={server.schedule_url}")
        if faults is not None:
            announce(f"  faults: {faults}")
        while server.thread.is_alive():
            server.thread.join(timeout=1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
