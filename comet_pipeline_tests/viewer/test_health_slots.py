"""``/api/health`` and ``/api/slots`` over the filled store, an absent one and a damaged one."""

from __future__ import annotations

from comet_pipeline.domain import FileState
from comet_pipeline.store import SCHEMA_VERSION
from comet_pipeline_tests.viewer.conftest import make_viewer

ZERO_COUNTS = dict.fromkeys((s.value for s in FileState), 0)


def test_health_reports_the_store_its_counts_and_the_newest_frames(viewer, settings):
    reply = viewer.get("/api/health")
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    body = reply.json()
    assert body == {
        "checked_at": "2025-06-11T12:00:00Z",
        "store": {
            "reachable": True,
            "location": str(settings.layout.lifecycle_db),
            "schema_version": SCHEMA_VERSION,
            "error": None,
        },
        "files_by_state": ZERO_COUNTS | {"DISCOVERED": 3},
        "newest_frames": [
            {"detector": "c2", "name": None, "observed_at": None, "age_minutes": None},
            {
                "detector": "c3",
                "name": "32000000.fts",
                "observed_at": "2025-06-10T05:00:00Z",
                "age_minutes": 31 * 60.0,
            },
        ],
        "dagster": body["dagster"],  # checked on its own below
    }
    assert body["dagster"]["reachable"] is False  # the settings point at a closed port
    assert body["dagster"]["url"] == "http://127.0.0.1:9"
    assert "127.0.0.1:9" in body["dagster"]["error"]


def test_health_says_when_there_is_no_store_yet(settings, serve_app):
    viewer = make_viewer(settings, serve_app)  # nothing ever wrote the home
    body = viewer.get("/api/health").json()
    db = settings.layout.lifecycle_db
    assert body["store"] == {
        "reachable": False,
        "location": str(db),
        "schema_version": None,
        "error": f"no lifecycle store at {db} yet: run `comet-pipeline demo` or `comet-pipeline init`",
    }
    assert body["files_by_state"] == ZERO_COUNTS
    assert [f["name"] for f in body["newest_frames"]] == [None, None]
    assert not db.exists()  # reading never creates it


def test_health_on_a_damaged_store_is_200_with_the_error_line(settings, serve_app):
    settings.home.mkdir(parents=True)
    settings.layout.lifecycle_db.write_bytes(b"this is not a database" * 100)
    store = make_viewer(settings, serve_app).get("/api/health").json()["store"]
    assert store["reachable"] is False and store["schema_version"] is None
    assert store["error"].startswith(f"lifecycle store {settings.layout.lifecycle_db}: ")
    assert "\n" not in store["error"]


def test_slots_of_a_day(viewer):
    reply = viewer.get("/api/slots", params={"day": "2025-06-10"})
    assert reply.status_code == 200
    assert reply.json() == {
        "day": "2025-06-10",
        "slots": [
            {
                "bot": "2025-06-10T03:00:00Z",
                "eot": "2025-06-10T07:00:00Z",
                "antenna": "DSS-14",
                "state": "PENDING",
                "source": "schedule",
            }
        ],
    }
    assert viewer.get("/api/slots", params={"day": "2025-06-11"}).json()["slots"] == []


def test_slots_need_a_real_day(viewer):
    for bad in ("2025-13-01", "2025-02-30", "yesterday"):
        reply = viewer.get("/api/slots", params={"day": bad})
        assert reply.status_code == 422
        assert reply.json() == {
            "status": 422,
            "message": f"query.day: not a day like 2025-06-10 (got {bad!r})",
            "fields": [
                {"where": "query.day", "message": f"not a day like 2025-06-10 (got {bad!r})"}
            ],
        }
    missing = viewer.get("/api/slots")
    assert missing.status_code == 422
    assert missing.json()["message"] == "query.day: Field required"
