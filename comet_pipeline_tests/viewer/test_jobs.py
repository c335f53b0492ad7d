"""``/api/jobs`` and the ``dagster`` part of ``/api/health``, against a real Dagster webserver.

The webserver (``dagster_fixture.py``) runs without a daemon, so a run launched over its
GraphQL stays QUEUED until the viewer terminates it: listing, filters and terminate are
checked on runs in a known state, and what Dagster then says is read back from Dagster
itself. The unreachable cases (a closed port, a port that never answers, a server that is
not Dagster) need no webserver.

The webserver starts once for the module, in about 5 s on an idle machine (the whole module
takes about 10 s), so these tests are in the default suite; should its start-up grow past
~15 s, mark the tests that request ``dagster`` slow.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from comet_pipeline.viewer import dagster_graphql
from comet_pipeline.viewer.auth import new_token, token_hash
from comet_pipeline.viewer.dagster_graphql import DagsterGraphQL, DagsterUnreachable
from comet_pipeline_tests.shared import NOW
from comet_pipeline_tests.viewer.conftest import Viewer, make_viewer
from comet_pipeline_tests.viewer.dagster_fixture import DagsterWebserver, dagster_webserver

PARTITION = "2025-06-10-03:00"
UNKNOWN_RUN = "00000000-0000-4000-8000-000000000000"
SENSORS = ["downlink_sensor", "retry_sensor", "slot_sensor"]
SCHEDULES = [
    "daily_retention_schedule",
    "daily_scan_schedule",
    "daily_slots_schedule",
    "hourly_sweep_schedule",
]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def token(filled_store) -> str:
    """A live token named 'ada', made as `comet-pipeline token create ada` makes it."""
    value = new_token()
    filled_store.create_token("ada", token_hash(value), now=NOW)
    return value


@pytest.fixture(scope="module")
def dagster(tmp_path_factory) -> Iterator[DagsterWebserver]:
    with dagster_webserver(tmp_path_factory.mktemp("dagster")) as server:
        yield server


@pytest.fixture
def jobs_viewer(settings, filled_store, serve_app, dagster) -> Iterator[Viewer]:
    """The viewer asking the real webserver."""
    running = make_viewer(replace(settings, dagster_url=dagster.url), serve_app)
    yield running
    running.session.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting is refused at once, and nothing
    else can take the port while the test holds it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def down_viewer(settings, filled_store, serve_app, closed_port) -> Iterator[Viewer]:
    """The viewer pointed at a Dagster webserver that is not there."""
    url = f"http://127.0.0.1:{closed_port}"
    running = make_viewer(replace(settings, dagster_url=url), serve_app)
    yield running
    running.session.close()


def _item(viewer: Viewer, run_id: str, **params: object) -> dict | None:
    reply = viewer.get("/api/jobs", params=params)
    assert reply.status_code == 200, reply.text
    return next((j for j in reply.json()["items"] if j["run_id"] == run_id), None)


# -- against the real webserver ---------------------------------------------------------


def test_jobs_lists_a_queued_run_with_its_partition_status_and_tags(jobs_viewer, dagster):
    run_id = dagster.launch("ingest_hour", {"dagster/partition": PARTITION})
    reply = jobs_viewer.get("/api/jobs")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["dagster_url"] == dagster.url
    assert body["items"][0]["run_id"] == run_id  # newest first
    job = body["items"][0]
    assert job == {
        "run_id": run_id,
        "job_name": "ingest_hour",
        "status": "QUEUED",
        "partition": PARTITION,
        "partition_range": None,
        "created_at": job["created_at"],
        "started_at": None,
        "ended_at": None,
        "updated_at": job["updated_at"],
        "duration_seconds": None,
        "can_terminate": True,
        # the job's own tag and the partition; Dagster's internal ones are left out
        "tags": {"comet/archive": "true", "dagster/partition": PARTITION},
        "dagster_ui_url": f"{dagster.url}/runs/{run_id}",
    }
    assert job["created_at"].endswith("Z") and job["updated_at"] >= job["created_at"]


def test_a_run_over_a_range_of_partitions_shows_the_range(jobs_viewer, dagster):
    run_id = dagster.launch(
        "ingest_hour",
        {
            "dagster/asset_partition_range_start": "2025-06-10-00:00",
            "dagster/asset_partition_range_end": "2025-06-10-11:00",
        },
    )
    job = _item(jobs_viewer, run_id)
    assert job is not None
    assert job["partition"] is None
    assert job["partition_range"] == {"start": "2025-06-10-00:00", "end": "2025-06-10-11:00"}


def test_jobs_filters_by_status_job_and_limit(jobs_viewer, dagster):
    run_id = dagster.launch("ingest_hour", {"dagster/partition": PARTITION})
    assert _item(jobs_viewer, run_id, status="queued") is not None  # any case
    assert _item(jobs_viewer, run_id, status=["SUCCESS", "QUEUED"]) is not None
    assert _item(jobs_viewer, run_id, status="SUCCESS") is None
    assert _item(jobs_viewer, run_id, job="ingest_hour") is not None
    assert _item(jobs_viewer, run_id, job="refresh_slots") is None
    assert _item(jobs_viewer, run_id, job="no_such_job") is None
    dagster.launch("refresh_slots", {"dagster/partition": "2025-06-10"})
    one = jobs_viewer.get("/api/jobs", params={"limit": 1}).json()["items"]
    assert [j["job_name"] for j in one] == ["refresh_slots"]


def test_terminate_needs_a_token_and_changes_nothing_without_one(jobs_viewer, dagster, token):
    run_id = dagster.launch("ingest_hour", {"dagster/partition": PARTITION})
    for headers in ({}, bearer("not-a-token")):
        reply = jobs_viewer.post(f"/api/jobs/{run_id}/terminate", headers=headers)
        assert reply.status_code == 401, reply.text
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        assert "token" in reply.json()["message"]
    assert dagster.status(run_id) == "QUEUED"


def test_terminate_cancels_a_queued_run_and_a_second_terminate_is_409(jobs_viewer, dagster, token):
    run_id = dagster.launch("ingest_hour", {"dagster/partition": PARTITION})
    reply = jobs_viewer.post(f"/api/jobs/{run_id}/terminate", headers=bearer(token))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "run_id": run_id,
        "previous_status": "QUEUED",
        "status": "CANCELED",
        "requested_by": "ada",
    }
    assert dagster.status(run_id) == "CANCELED"  # Dagster's own word
    job = _item(jobs_viewer, run_id)
    assert job is not None
    assert job["status"] == "CANCELED" and job["can_terminate"] is False
    assert job["ended_at"] is not None

    again = jobs_viewer.post(f"/api/jobs/{run_id}/terminate", headers=bearer(token))
    assert again.status_code == 409
    assert again.json() == {
        "status": 409,
        "message": f"run {run_id} has finished already (CANCELED): nothing to terminate",
        "fields": [],
    }


def test_terminate_takes_a_run_id_in_any_uuid_spelling(jobs_viewer, dagster, token):
    run_id = dagster.launch("ingest_hour", {"dagster/partition": PARTITION})
    shouted = uuid.UUID(run_id).hex.upper()  # no hyphens, upper case
    reply = jobs_viewer.post(f"/api/jobs/{shouted}/terminate", headers=bearer(token))
    assert reply.status_code == 200, reply.text
    assert reply.json()["run_id"] == run_id
    assert dagster.status(run_id) == "CANCELED"


def test_terminate_an_unknown_run_is_404(jobs_viewer, dagster, token):
    reply = jobs_viewer.post(f"/api/jobs/{UNKNOWN_RUN}/terminate", headers=bearer(token))
    assert reply.status_code == 404
    assert reply.json()["message"] == f"Dagster at {dagster.url} has no run {UNKNOWN_RUN}"


def test_health_reports_dagster_its_sensors_and_schedules(jobs_viewer, dagster):
    dagster.stop_sensor("retry_sensor")
    dagster.stop_schedule("hourly_sweep_schedule")
    reply = jobs_viewer.get("/api/health")
    assert reply.status_code == 200
    assert reply.json()["dagster"] == {
        "reachable": True,
        "url": dagster.url,
        "version": "1.13.27",
        "error": None,
        "sensors": [
            {"name": "downlink_sensor", "status": "RUNNING"},
            {"name": "retry_sensor", "status": "STOPPED"},
            {"name": "slot_sensor", "status": "RUNNING"},
        ],
        "schedules": [
            {"name": "daily_retention_schedule", "status": "RUNNING"},
            {"name": "daily_scan_schedule", "status": "RUNNING"},
            {"name": "daily_slots_schedule", "status": "RUNNING"},
            {"name": "hourly_sweep_schedule", "status": "STOPPED"},
        ],
    }


def test_the_client_reads_what_the_webserver_says(dagster):
    """The typed client on its own: version, and a GraphQL error body is one exception."""
    client = DagsterGraphQL(dagster.url)
    assert client.ping() == "1.13.27"
    sensors, schedules = client.instigators()
    assert [s.name for s in sensors] == SENSORS
    assert [s.name for s in schedules] == SCHEDULES
    # a query the schema lacks (what a webserver of another version would say): private
    # names, because every public query is one the 1.13 schema has
    with pytest.raises(DagsterUnreachable, match=r"answered HTTP 400: Cannot query field"):
        client._ask("{ noSuchField }", {}, dagster_graphql._VersionAnswer)


# -- bad input: refused before Dagster is asked -----------------------------------------


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"limit": 0}, "query.limit: Input should be greater than or equal to 1"),
        ({"limit": 201}, "query.limit: Input should be less than or equal to 200"),
        ({"limit": "many"}, "query.limit: Input should be a valid integer"),
        ({"status": "DONE"}, "query.status.0: Input should be 'QUEUED', "),
        ({"job": "ingest hour; drop"}, "query.job: String should match pattern"),
    ],
)
def test_bad_job_queries_are_422_naming_the_parameter(down_viewer, params, says):
    reply = down_viewer.get("/api/jobs", params=params)
    assert reply.status_code == 422
    body = reply.json()
    assert body["status"] == 422 and body["message"].startswith(says), body


@pytest.mark.parametrize(
    "bad", ["not-a-uuid", "12345", "0f8fad5b-d9cb-469f-a165-70867728950", "run;drop"]
)
def test_a_malformed_run_id_is_422_with_what_a_run_id_looks_like(down_viewer, token, bad):
    reply = down_viewer.post(f"/api/jobs/{bad}/terminate", headers=bearer(token))
    assert reply.status_code == 422
    assert reply.json()["message"] == (
        "path.run_id: not a Dagster run id: a UUID like "
        f"0f8fad5b-d9cb-469f-a165-70867728950e (got {bad!r})"
    )


def test_terminate_without_a_token_is_401_before_anything_else(down_viewer):
    reply = down_viewer.post("/api/jobs/not-a-uuid/terminate")
    assert reply.status_code == 401


# -- Dagster not there, or not answering ------------------------------------------------


def test_jobs_is_503_naming_the_url_when_dagster_is_down(down_viewer, closed_port):
    reply = down_viewer.get("/api/jobs")
    assert reply.status_code == 503
    assert reply.json() == {
        "status": 503,
        "message": f"the Dagster webserver at http://127.0.0.1:{closed_port} did not answer "
        "(Connection refused)",
        "fields": [],
    }


def test_terminate_is_503_when_dagster_is_down(down_viewer, closed_port, token):
    reply = down_viewer.post(f"/api/jobs/{UNKNOWN_RUN}/terminate", headers=bearer(token))
    assert reply.status_code == 503
    assert f"http://127.0.0.1:{closed_port} did not answer" in reply.json()["message"]


def test_health_is_200_and_says_dagster_is_unreachable(down_viewer, closed_port):
    reply = down_viewer.get("/api/health")
    assert reply.status_code == 200
    body = reply.json()
    assert body["store"]["reachable"] is True
    url = f"http://127.0.0.1:{closed_port}"
    assert body["dagster"] == {
        "reachable": False,
        "url": url,
        "version": None,
        "error": f"the Dagster webserver at {url} did not answer (Connection refused)",
        "sensors": [],
        "schedules": [],
    }


def test_a_server_that_is_not_dagster_is_503_with_its_answer(settings, filled_store, serve_app):
    """The viewer's own server stands in for a wrong COMET_DAGSTER_URL: it has no /graphql."""
    own_url = make_viewer(settings, serve_app).url
    viewer = make_viewer(replace(settings, dagster_url=own_url), serve_app)
    reply = viewer.get("/api/jobs")
    assert reply.status_code == 503
    assert reply.json()["message"] == f"the Dagster webserver at {own_url} answered HTTP 404"
    assert viewer.get("/api/health").json()["dagster"]["reachable"] is False


def test_a_webserver_that_never_answers_times_out_with_the_url():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(DagsterUnreachable) as caught:
            DagsterGraphQL(url, timeout_s=0.3).runs(5)
    assert str(caught.value) == f"the Dagster webserver at {url} did not answer within 0.3 s"


class _Dripping(http.server.BaseHTTPRequestHandler):
    """Answers 200 at once, then the body one byte every 50 ms (a sick webserver)."""

    def do_POST(self) -> None:  # noqa: N802  http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "4000")
        self.end_headers()
        try:
            for _ in range(4000):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:  # the client gave up: what this test wants
            pass

    def log_message(self, *args: object) -> None:
        pass


def test_a_webserver_that_drips_its_answer_is_cut_off_at_the_deadline():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Dripping)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        started = time.monotonic()
        with pytest.raises(DagsterUnreachable) as caught:
            DagsterGraphQL(url, timeout_s=0.5).runs(5)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert str(caught.value) == f"the Dagster webserver at {url} did not answer within 0.5 s"
    assert elapsed < 2.0  # per-read timeouts alone would wait the whole 200 s drip


@pytest.mark.slow
def test_a_read_only_webserver_refuses_terminate_and_the_viewer_says_403(
    settings, filled_store, serve_app, dagster, token
):
    """A second webserver over the same instance, started --read-only (as a public Dagster
    UI might be): runs are listed, terminating one is Dagster's to refuse."""
    run_id = dagster.launch("ingest_hour", {"dagster/partition": PARTITION})
    with dagster_webserver(dagster.log.parent, read_only=True) as read_only:
        viewer = make_viewer(replace(settings, dagster_url=read_only.url), serve_app)
        assert _item(viewer, run_id) is not None  # reading is allowed
        reply = viewer.post(f"/api/jobs/{run_id}/terminate", headers=bearer(token))
    assert reply.status_code == 403, reply.text
    assert read_only.url in reply.json()["message"]
    assert dagster.status(run_id) == "QUEUED"  # nothing was stopped
