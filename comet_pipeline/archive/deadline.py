"""The overall deadline of one fetch, enforced even on a server that drips bytes.

Per-read timeouts never fire on a server that sends one byte a second. So the client
checks the clock after every read, and a timer shuts the fetch's sockets when the deadline
passes: a read blocked on such a server (headers included) returns at once. The sockets
are registered by the connection classes here, through a thread-local, since requests
gives no handle on them before a response exists.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import urllib3
import urllib3.connection
from requests.adapters import HTTPAdapter

from comet_pipeline.archive.errors import Transient

_ACTIVE = threading.local()  # ``.deadline``: the Deadline of the fetch running in this thread


class Deadline:
    """The overall time limit of one fetch: all redirect hops, retries, headers and body.

    Per-read timeouts never fire on a server that sends one byte a second, so the chunk loop
    checks the clock after every read, and a timer shuts the fetch's sockets down when the
    deadline passes: a read blocked on such a server (headers included) returns at once.
    Sockets are registered by :class:`_WatchedHTTPConnection` through a thread-local, since
    requests gives no handle on them before the response exists.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.received = 0
        self.expired = False
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._done = False
        self._previous: Deadline | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._previous = getattr(_ACTIVE, "deadline", None)
        _ACTIVE.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
            self._sockets.clear()
        self._timer.cancel()
        _ACTIVE.deadline = self._previous

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    @property
    def remaining(self) -> float:
        return max(0.0, self.seconds - self.elapsed)

    def passed(self) -> bool:
        return self.expired or self.elapsed > self.seconds

    def watch(self, sock: socket.socket | None) -> None:
        """Cut ``sock`` when the deadline passes (at once if it already has)."""
        if sock is None:
            return
        with self._lock:
            if self._done:
                return
            if self.expired:
                _shutdown(sock)
            elif sock not in self._sockets:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:  # under the lock: never cut a connection a finished fetch gave back
            if self._done:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)

    def error(self, url: str) -> Transient:
        return Transient(
            f"download too slow: {self.received} bytes in {self.elapsed:.1f} s, "
            f"deadline {self.seconds:g} s",
            url=url,
        )


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watch(sock: socket.socket | None) -> None:
    deadline: Deadline | None = getattr(_ACTIVE, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(urllib3.connection.HTTPConnection):
    """An HTTP connection whose socket the running fetch's deadline can cut."""

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401  urllib3's signature
        _watch(self.sock)  # a kept-alive connection: registered for this fetch too
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(urllib3.connection.HTTPSConnection):
    """An HTTPS connection whose socket the running fetch's deadline can cut."""

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401  urllib3's signature
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' HTTP adapter on connection pools whose sockets a fetch's deadline can cut.

    (Through a proxy, requests builds its own pools: there the chunk loop's clock check is
    what enforces the deadline, a read timeout later at worst.)
    """

    def init_poolmanager(
        self,
        connections: int,
        maxsize: int,
        block: bool = False,
        **pool_kwargs: Any,  # noqa: ANN401  passed through to urllib3
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }
