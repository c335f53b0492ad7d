"""The real `dagster dev` with both stores on PostgreSQL: Dagster's (dagster.postgres.yaml,
DAGSTER_PG_URL) and the lifecycle store (COMET_STORE_URL). A day's asset backfill of the
ingest job's hourly assets is launched over /graphql, the daemon runs it, and what it left
is read back from both databases."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests
import yaml

from comet_pipeline.domain import Detector, FileState
from comet_pipeline.store import open_store
from comet_pipeline_tests.postgres_server import PostgresServer, start_server

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION = "comet_pipeline"
REPOSITORY = "__repository__"
#: The ingest_hour job's assets (defs/jobs.py: every hourly asset).
HOURLY_ASSETS = ["discovered_files", "downloaded_files", "processed_frames", "comet_candidates"]
STOPPED = [
    ("sensor", "downlink_sensor"),
    ("sensor", "retry_sensor"),
    ("sensor", "slot_sensor"),
    ("schedule", "daily_slots_schedule"),
    ("schedule", "hourly_sweep_schedule"),
    ("schedule", "daily_retention_schedule"),
]
#: Deadlines (seconds). A day is about 470 files; on two loaded cores the backfill takes
#: a few minutes, most of it processing and hunting.
WEBSERVER_S = 240
BACKFILL_S = 1500

LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on PartitionSetNotFoundError { message }
  }
}
"""
BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename ... on PartitionBackfill { status } ... on PythonError { message }
  }
}
"""
RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename ... on Runs { results { runId status tags { key value } } }
  }
}
"""
#: Backfill statuses that mean it is over.
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def _downlinked_day() -> date:
    """The newest UTC day whose files had all arrived an hour ago (wall clock, as `dagster
    dev` sees it): yesterday once its last downlink is in, else the day before."""
    from comet_pipeline.simulator.archive import SimArchive

    sim = SimArchive()
    cutoff = datetime.now(UTC) - timedelta(hours=1)
    day = cutoff.date() - timedelta(days=1)
    while any(o.arrived_at > cutoff for d in Detector for o in sim.observations(day, d)):
        day -= timedelta(days=1)
    return day


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str, variables: dict) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _wait(predicate, *, timeout: float, what: str, proc: subprocess.Popen, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dagster dev exited while waiting for {what}"
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


def test_the_postgres_instance_file_is_dagster_yaml_with_postgres_storage():
    """dagster.postgres.yaml keeps dagster.yaml's coordinator, concurrency, monitoring and
    retries: only the storage differs, and it names no URL, only the variable."""
    sqlite = yaml.safe_load((REPO / "dagster.yaml").read_text())
    postgres = yaml.safe_load((REPO / "dagster.postgres.yaml").read_text())
    storage = postgres.pop("storage")
    assert storage == {"postgres": {"postgres_url": {"env": "DAGSTER_PG_URL"}}}
    assert postgres == sqlite


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_a_days_backfill_through_dagster_dev_with_both_stores_on_postgres(
    tmp_path: Path, postgres: PostgresServer
):
    t0 = time.monotonic()
    day = _downlinked_day()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    dagster_url, store_url = postgres.new_database(), postgres.new_database()
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.postgres.yaml", dagster_home / "dagster.yaml")
    comet_home = tmp_path / "comet_home"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        # SQLAlchemy's URL with the psycopg2 driver, as dagster.postgres.yaml asks
        "DAGSTER_PG_URL": dagster_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        "COMET_STORE_URL": store_url,
        "COMET_HOME": str(comet_home),
        "COMET_ARCHIVE_URL": "sim://lasco",
        "COMET_SCHEDULE_URL": "sim://schedule",
        # the partitions begin with the day: a small partition set for the daemon to walk
        "COMET_PARTITIONS_START": day.isoformat(),
    }
    # what `make dev-postgres` runs first: the home, and the store's schema in PostgreSQL
    subprocess.run(
        [str(BIN / "comet-pipeline"), "init"], env=env, check=True, capture_output=True, timeout=120
    )
    # The sensors and schedules run by default; stop them in this instance (its state is
    # in PostgreSQL now) so the backfill's runs are the only ones.
    for kind, name in STOPPED:
        subprocess.run(
            [str(BIN / "dagster"), kind, "stop", name, "-w", "workspace.yaml"],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
    # as `make dev-postgres` does: the pools' rows first, or the backfill's first two runs,
    # claiming "lasco_archive" at once, may race to create it and one fail (the script says)
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "init_dagster_pools.py")],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )

    port = _free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    log = (tmp_path / "dagster_dev.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def ready():
            try:
                return requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok
            except requests.ConnectionError:
                return False

        _wait(ready, timeout=WEBSERVER_S, what="the webserver", proc=proc)
        last = start + timedelta(hours=23)
        partitions = {
            "range": {"start": f"{start:%Y-%m-%d-%H:%M}", "end": f"{last:%Y-%m-%d-%H:%M}"}
        }
        params = {
            "partitionsByAssets": [
                {"assetKey": {"path": [name]}, "partitions": partitions} for name in HOURLY_ASSETS
            ],
            "title": "a day on PostgreSQL",
        }

        def launched():
            answer = _graphql(url, LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
            if answer["__typename"] == "LaunchBackfillSuccess":
                return answer["backfillId"]
            # the code location may still be loading; anything else is a real refusal
            assert answer["__typename"] == "PythonError", answer
            return None

        backfill_id = _wait(launched, timeout=180, what="the code location", proc=proc)
        t_launch = time.monotonic()

        def finished():
            data = _graphql(url, BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
            return data["status"] if data.get("status") in FINISHED else None

        status = _wait(finished, timeout=BACKFILL_S, what=f"backfill {backfill_id}", proc=proc)
        backfill_s = time.monotonic() - t_launch
        tag = {"key": "dagster/backfill", "value": backfill_id}
        runs = _graphql(url, RUNS, {"filter": {"tags": [tag]}})["runsOrError"]["results"]
        statuses = {r["runId"]: r["status"] for r in runs}
        assert status == "COMPLETED_SUCCESS", (status, statuses)
        # the backfill policy: at most 12 hours a run, so a day is a handful of runs
        assert runs and set(statuses.values()) == {"SUCCESS"}, statuses
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()

    # no storage call of Dagster's failed on the way, in any of its processes
    assert "sqlalchemy.exc" not in (tmp_path / "dagster_dev.log").read_text(errors="replace")
    # Dagster really kept its runs in PostgreSQL: the run storage's table holds them...
    with psycopg.connect(dagster_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables").fetchall()}
        assert {"runs", "event_logs", "jobs"} <= tables
        pools = dict(conn.execute('SELECT concurrency_key, "limit" FROM concurrency_limits'))
        assert pools == {"lasco_archive": 1, "comet_hunting": 1}  # dagster.yaml's default_limit
        stored = dict(
            conn.execute(
                "SELECT run_id, status FROM runs WHERE run_id = ANY(%s)", (list(statuses),)
            ).fetchall()
        )
    assert stored == statuses
    # ...and wrote no SQLite storage of its own
    assert not [p for p in dagster_home.rglob("*.db")]

    # The lifecycle store is the PostgreSQL database, and every file of the day went through
    store = open_store(store_url, read_only=True)
    expected = _expected_names(day)
    for detector in Detector:
        records = store.files_between(detector, start, start + timedelta(days=1))
        assert {r.name.lower() for r in records} == expected[detector], detector
        for hour in range(24):
            begin = start + timedelta(hours=hour)
            states = {
                r.state for r in records if begin <= r.observed_at < begin + timedelta(hours=1)
            }
            assert states <= {FileState.PROCESSED, FileState.SKIPPED}, (detector, hour, states)
        assert store.frames_between(detector, start, start + timedelta(days=1)), detector
    # the files are in COMET_HOME, the store is not
    assert (comet_home / "frames").is_dir()
    assert not [p for p in comet_home.rglob("*.db")]
    print(
        f"\n{day}: backfill {backfill_s:.0f} s in {len(runs)} runs, whole test "
        f"{time.monotonic() - t0:.0f} s"
    )


def _expected_names(day: date) -> dict[Detector, set[str]]:
    from comet_pipeline.simulator.archive import SimArchive

    sim = SimArchive()
    return {d: {o.name.lower() for o in sim.observations(day, d)} for d in Detector}
