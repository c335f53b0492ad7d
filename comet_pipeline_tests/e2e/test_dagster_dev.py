"""The real `dagster dev` on a loopback port: launch a run over /graphql and see it succeed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from comet_pipeline.domain import Detector, FileState
from comet_pipeline.store import SQLiteStore

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
STATUS = """
query Status($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } }
}
"""
ASSET = """
query Asset($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset { assetMaterializations(limit: 1) { partition metadataEntries { label } } }
  }
}
"""


def _hour_with_frames() -> datetime:
    """An hour of yesterday (wall clock, as `dagster dev` sees it) with C3 files arrived."""
    from comet_pipeline.simulator.archive import SimArchive

    now = datetime.now(UTC)
    sim = SimArchive()
    day = (now - timedelta(days=1)).date()
    counts: dict[datetime, int] = {}
    for obs in sim.observations(day, Detector.C3):
        if obs.synoptic and obs.arrived_at < now - timedelta(hours=1):
            hour = obs.observed_at.replace(minute=0, second=0, microsecond=0)
            counts[hour] = counts.get(hour, 0) + 1
    return max(counts, key=lambda h: (counts[h], h))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str, variables: dict) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _wait(predicate, *, timeout: float, what: str, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dagster dev exited while waiting for {what}"
        value = predicate()
        if value:
            return value
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _the_viewer_shows_the_run_and_the_frames(env: dict[str, str], run_id: str) -> None:
    """What `make dev` runs beside dagster dev: the viewer, reading the same home and asking
    the same webserver for its runs and sensors."""
    serve = subprocess.Popen(
        [str(BIN / "comet-pipeline"), "serve", "--port", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()  # printed once the socket listens
        base = line.split()[2].rstrip("/")
        page = requests.get(base + "/", timeout=10)
        assert page.status_code == 200 and 'id="player-image"' in page.text
        jobs = requests.get(base + "/api/jobs", timeout=10).json()["items"]
        assert [(j["run_id"], j["status"]) for j in jobs if j["run_id"] == run_id] == [
            (run_id, "SUCCESS")
        ]
        health = requests.get(base + "/api/health", timeout=10).json()
        assert health["dagster"]["reachable"] is True
        sensors = {s["name"]: s["status"] for s in health["dagster"]["sensors"]}
        assert sensors["downlink_sensor"] == "STOPPED"  # stopped above, and Dagster says so
        frames = requests.get(base + "/api/frames", params={"detector": "c3"}, timeout=10)
        assert frames.status_code == 200 and frames.json()["items"]
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)


@pytest.mark.slow
def test_dagster_dev_launches_a_partition_run_over_graphql(tmp_path: Path):
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    comet_home = tmp_path / "comet_home"
    comet_home.mkdir()  # `make dev` runs `comet-pipeline init` first
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "COMET_HOME": str(comet_home),
        "COMET_ARCHIVE_URL": "sim://lasco",
        "COMET_SCHEDULE_URL": "sim://schedule",
    }
    # The sensors and schedules run by default; stop them in this instance so the only run
    # is the one this test launches (the daemon still dequeues it).
    for kind, name in [
        ("sensor", "downlink_sensor"),
        ("sensor", "retry_sensor"),
        ("sensor", "slot_sensor"),
        ("schedule", "daily_slots_schedule"),
        ("schedule", "hourly_sweep_schedule"),
        ("schedule", "daily_retention_schedule"),
    ]:
        subprocess.run(
            [str(BIN / "dagster"), kind, "stop", name, "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    port = _free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    proc = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def ready():
            try:
                return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok
            except requests.ConnectionError:
                return False

        _wait(ready, timeout=180, what="the webserver", proc=proc)
        hour = _hour_with_frames()
        partition = hour.strftime("%Y-%m-%d-%H:%M")
        params = {
            "selector": {
                "repositoryLocationName": "comet_pipeline",
                "repositoryName": "__repository__",
                "jobName": "ingest_hour",
            },
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": partition}]},
        }

        def launched():
            data = _graphql(url, LAUNCH, {"params": params})["launchRun"]
            return data if data["__typename"] == "LaunchRunSuccess" else None

        run_id = _wait(launched, timeout=120, what="the code location", proc=proc)["run"]["runId"]

        def finished():
            status = _graphql(url, STATUS, {"runId": run_id})["runOrError"]["status"]
            return status if status in {"SUCCESS", "FAILURE", "CANCELED"} else None

        assert _wait(finished, timeout=600, what=f"run {run_id}", proc=proc) == "SUCCESS"

        asset = _graphql(url, ASSET, {"key": {"path": ["processed_frames"]}})["assetOrError"]
        latest = asset["assetMaterializations"][0]
        assert latest["partition"] == partition
        labels = {e["label"] for e in latest["metadataEntries"]}
        assert {"frames", "files", "newest_frame"} <= labels

        store = SQLiteStore(comet_home / "lifecycle.db")
        records = [
            r for d in Detector for r in store.files_between(d, hour, hour + timedelta(hours=1))
        ]
        assert records
        assert {r.state for r in records} <= {FileState.PROCESSED, FileState.SKIPPED}
        assert store.frames_between(Detector.C3, hour, hour + timedelta(hours=1))
        _the_viewer_shows_the_run_and_the_frames(env | {"COMET_DAGSTER_URL": url[:-8]}, run_id)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
