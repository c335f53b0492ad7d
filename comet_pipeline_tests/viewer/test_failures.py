"""An unreadable store is a 503 with one line, whatever the route; never a traceback."""

from __future__ import annotations

import sqlite3

import pytest
import requests

from comet_pipeline.viewer import build_app
from comet_pipeline_tests.viewer.conftest import make_viewer


@pytest.fixture
def damaged(settings, serve_app):
    settings.home.mkdir(parents=True)
    settings.layout.lifecycle_db.write_bytes(b"this is not a database" * 100)
    return make_viewer(settings, serve_app)


@pytest.mark.parametrize(
    "path",
    [
        "/api/frames?detector=c3",
        "/api/frames/32000000.fts",
        "/api/candidates",
        "/api/candidates/c3-20250610-0001",
        "/api/slots?day=2025-06-10",
        "/products/32000000.fts/processed_png",
    ],
)
def test_a_damaged_database_is_503_with_one_line(damaged, settings, path):
    reply = damaged.get(path)
    assert reply.status_code == 503
    body = reply.json()
    assert body["status"] == 503 and body["fields"] == []
    assert body["message"].startswith(
        f"the lifecycle store cannot be read: lifecycle store {settings.layout.lifecycle_db}: "
    )
    assert "\\n" not in reply.text and "Traceback" not in reply.text
    assert reply.headers["cache-control"] == "no-store"


def test_the_store_is_opened_once_it_exists(settings, sqlite_store, serve_app):
    """A viewer started before the first ingest reads the store the pipeline creates later."""
    db = settings.layout.lifecycle_db
    sqlite_store.close()
    db.rename(db.with_suffix(".later"))
    viewer = make_viewer(settings, serve_app)
    assert viewer.get("/api/health").json()["store"]["reachable"] is False
    db.with_suffix(".later").rename(db)
    assert viewer.get("/api/health").json()["store"]["reachable"] is True


def test_an_unexpected_error_is_one_json_line_not_a_traceback(settings, serve_app):
    def broken_engine(path):
        raise RuntimeError(f"engine bug opening {path}")

    settings.home.mkdir(parents=True)
    settings.layout.lifecycle_db.touch()
    url = serve_app(build_app(settings, broken_engine))
    reply = requests.get(f"{url}/api/candidates", timeout=10)
    assert reply.status_code == 500
    assert reply.json() == {
        "status": 500,
        "message": "internal error (RuntimeError); the server log has the details",
        "fields": [],
    }


def test_a_sqlite_error_let_through_mid_read_is_still_503(settings, serve_app):
    """Defence in depth: the engine wraps errors at open time, not every read."""

    class MalformedMidRead:
        """Opens fine; its first read fails the way a page damaged after opening does."""

        def __init__(self, path):
            self.path = path

        def candidates(self, detector=None, since=None, until=None):  # noqa: ARG002  LifecycleStore's signature
            raise sqlite3.DatabaseError(f"database disk image is malformed: {self.path.name}")

        def close(self):
            pass

    settings.home.mkdir(parents=True)
    settings.layout.lifecycle_db.touch()
    url = serve_app(build_app(settings, MalformedMidRead))
    reply = requests.get(f"{url}/api/candidates", timeout=10)
    assert reply.status_code == 503
    assert reply.json()["message"] == (
        "the lifecycle store cannot be read: database disk image is malformed: lifecycle.db"
    )
