"""Binding and running the viewer on uvicorn (``comet-pipeline serve``).

The socket is bound here, before uvicorn starts, so a busy port is one ``OSError`` the CLI
turns into one line and exit 2 (uvicorn itself would log it and ``sys.exit(1)``).
"""

from __future__ import annotations

import ipaddress
import socket

import uvicorn
from fastapi import FastAPI

#: Connections the kernel queues before they are accepted (uvicorn's default).
BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host:port`` (port 0: any free one). Listening already, so
    a client that reads the printed URL and connects before uvicorn runs is queued, not
    refused."""
    family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_loopback(sock: socket.socket) -> bool:
    """True when only this machine can reach ``sock`` (127.0.0.0/8 or ::1)."""
    host = sock.getsockname()[0]
    return ipaddress.ip_address(host.split("%")[0]).is_loopback


def make_server(app: FastAPI, *, log_level: str = "info") -> uvicorn.Server:
    """A uvicorn server for ``app``; run it with ``server.run(sockets=[bind(...)])``."""
    return uvicorn.Server(uvicorn.Config(app, log_level=log_level, access_log=False))


def serve(app: FastAPI, sock: socket.socket) -> None:
    """Serve until interrupted (Ctrl-C, SIGTERM)."""
    make_server(app).run(sockets=[sock])
