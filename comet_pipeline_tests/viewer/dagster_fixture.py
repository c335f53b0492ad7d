"""A real ``dagster-webserver`` over the project's workspace, for the viewer's /api/jobs tests.

Its own DAGSTER_HOME (a copy of the repo's dagster.yaml: the queued run coordinator) and
COMET_HOME under a temporary folder, on a free loopback port, in its own process group. No
daemon runs, so a launched run stays QUEUED until it is terminated: the tests can hold a run
in a known state as long as they like. Started once per module (it takes a few seconds),
waited for against a deadline (the code location loaded, not just the port open), and
stopped as a group: SIGTERM, SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "comet_pipeline"
REPOSITORY = "__repository__"
START_DEADLINE_S = 180.0  # a cold import of the definitions on a busy 2-core machine
STOP_GRACE_S = 20.0
POLL_S = 0.1

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on Error { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
STATUS = """
query Status($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }
"""
LOADED = """
query Loaded {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { repositories { sensors { name id } schedules { name id } } }
          ... on PythonError { message }
        }
      }
    }
  }
}
"""
STOP_SENSOR = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) { __typename ... on Error { message } }
}
"""
STOP_SCHEDULE = """
mutation StopSchedule($id: String!) {
  stopRunningSchedule(id: $id) { __typename ... on Error { message } }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class DagsterWebserver:
    """A running webserver: its base URL, and the few GraphQL calls the tests make on it
    directly (launching a run, reading a status) to check what the viewer says."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
        )
        reply.raise_for_status()
        body = reply.json()
        assert "errors" not in body, body
        return body["data"]

    def launch(self, job: str, tags: dict[str, str]) -> str:
        """A run of ``job`` with those tags; it stays QUEUED (no daemon dequeues it)."""
        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": job,
            },
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        result = self.graphql(LAUNCH, {"params": params})["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        assert result["run"]["status"] == "QUEUED", result
        return result["run"]["runId"]

    def status(self, run_id: str) -> str:
        return self.graphql(STATUS, {"runId": run_id})["runOrError"]["status"]

    def instigator_ids(self) -> dict[str, str]:
        """Sensor and schedule names -> their ids (what the stop mutations take)."""
        ids: dict[str, str] = {}
        for entry in self.graphql(LOADED)["workspaceOrError"]["locationEntries"]:
            for repo in entry["locationOrLoadError"]["repositories"]:
                ids.update({s["name"]: s["id"] for s in repo["sensors"] + repo["schedules"]})
        return ids

    def stop_sensor(self, name: str) -> None:
        result = self.graphql(STOP_SENSOR, {"id": self.instigator_ids()[name]})["stopSensor"]
        assert result["__typename"] == "StopSensorMutationResult", result

    def stop_schedule(self, name: str) -> None:
        query, variables = STOP_SCHEDULE, {"id": self.instigator_ids()[name]}
        result = self.graphql(query, variables)["stopRunningSchedule"]
        assert result["__typename"] == "ScheduleStateResult", result

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _loaded(server: DagsterWebserver) -> bool:
    """The code location is loaded (the port alone answers before it is)."""
    try:
        reply = requests.post(
            f"{server.url}/graphql", json={"query": LOADED, "variables": {}}, timeout=5
        )
        entries = reply.json()["data"]["workspaceOrError"]["locationEntries"]
    except (requests.RequestException, ValueError, KeyError, TypeError):
        return False
    found = {e["name"]: e["locationOrLoadError"] for e in entries}
    location = found.get(LOCATION)
    if location is not None and location["__typename"] == "PythonError":
        raise RuntimeError(f"the code location did not load: {location['message']}")
    return location is not None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the group (the webserver and its code server), SIGKILL if it lingers."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_GRACE_S)
        except ProcessLookupError:
            pass
    # the code server may outlive its parent for a moment; the group goes with it
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def dagster_webserver(workdir: Path, *, read_only: bool = False) -> Iterator[DagsterWebserver]:
    """A webserver started under ``workdir`` and stopped on exit; a second one on the same
    ``workdir`` shares the first one's instance (``read_only``: started ``--read-only``)."""
    dagster_home = workdir / "dagster_home"
    comet_home = workdir / "comet_home"
    if not dagster_home.exists():
        dagster_home.mkdir(parents=True)
        (dagster_home / "dagster.yaml").write_bytes((REPO / "dagster.yaml").read_bytes())
        comet_home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMET_", "DAGSTER_"))}
    env |= {
        "DAGSTER_HOME": str(dagster_home),
        "COMET_HOME": str(comet_home),
        "COMET_ARCHIVE_URL": "sim://lasco",
        "COMET_SCHEDULE_URL": "sim://schedule",
    }
    port = free_port()
    log = workdir / ("webserver-read-only.log" if read_only else "webserver.log")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(BIN / "dagster-webserver"),
                *("-w", str(REPO / "workspace.yaml")),
                *("-h", "127.0.0.1", "-p", str(port)),
                *(("--read-only",) if read_only else ()),
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = DagsterWebserver(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not _loaded(server):
            if process.poll() is not None:
                raise RuntimeError(
                    f"dagster-webserver exited with {process.returncode}:\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"dagster-webserver did not load {LOCATION} within {START_DEADLINE_S:.0f}"
                    f" s:\n{server.log_tail()}"
                )
            time.sleep(POLL_S)
        yield server
    finally:
        _stop(process)
