"""Verdicts on candidates over HTTP: tokens, the audit, bad input, and reads off loopback."""

from __future__ import annotations

from functools import partial

import pytest

from comet_pipeline.domain import CandidateStatus
from comet_pipeline.store import SQLiteStore
from comet_pipeline.viewer import build_app
from comet_pipeline.viewer.auth import new_token, token_hash
from comet_pipeline.viewer.throttle import FailureThrottle
from comet_pipeline_tests.shared import NOW
from comet_pipeline_tests.viewer.conftest import CANDIDATE_ID, Viewer, make_viewer

STATUS = f"/api/candidates/{CANDIDATE_ID}/status"


@pytest.fixture
def token(filled_store) -> str:
    value = new_token()
    filled_store.create_token("ada", token_hash(value), now=NOW)
    return value


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_a_verdict_with_a_token_is_written_and_audited(viewer, token, filled_store):
    reply = viewer.post(
        STATUS, json={"status": "rejected", "note": "a hot pixel"}, headers=bearer(token)
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["status"] == "rejected"
    assert body["reviews"] == [
        {
            "from_status": "new",
            "status": "rejected",
            "by": "ada",
            "at": "2025-06-11T12:00:00Z",
            "note": "a hot pixel",
        }
    ]
    assert filled_store.candidate(CANDIDATE_ID).status is CandidateStatus.REJECTED
    second = viewer.post(STATUS, json={"status": "reported"}, headers=bearer(token)).json()
    assert [(r["from_status"], r["status"], r["note"]) for r in second["reviews"]] == [
        ("new", "rejected", "a hot pixel"),
        ("rejected", "reported", None),
    ]
    assert viewer.get(f"/api/candidates/{CANDIDATE_ID}").json()["status"] == "reported"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YWRhOmFkYQ=="}],
    ids=["none", "wrong", "not-bearer"],
)
def test_a_verdict_without_a_valid_token_is_401_and_changes_nothing(
    viewer, token, filled_store, headers
):
    reply = viewer.post(STATUS, json={"status": "rejected"}, headers=headers)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in reply.json()["message"]
    assert filled_store.candidate(CANDIDATE_ID).status is CandidateStatus.NEW
    assert filled_store.reviews_for(CANDIDATE_ID) == []


def test_a_revoked_token_is_refused(viewer, token, filled_store):
    assert filled_store.revoke_token("ada", now=NOW)
    reply = viewer.post(STATUS, json={"status": "rejected"}, headers=bearer(token))
    assert reply.status_code == 401 and "revoked" in reply.json()["message"]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/candidates/nope/status", {"status": "rejected"}, 404, "no candidate"),
        (STATUS, {"status": "maybe"}, 422, "body.status"),
        (STATUS, {"status": "rejected", "colour": "red"}, 422, "colour"),
        (STATUS, {"status": "rejected", "note": "x" * 2001}, 422, "body.note"),
        (STATUS, {}, 422, "body.status"),
    ],
    ids=["unknown-id", "unknown-status", "extra-field", "long-note", "no-status"],
)
def test_bad_verdicts_get_a_clear_4xx(viewer, token, path, body, status, says):
    reply = viewer.post(path, json=body, headers=bearer(token))
    assert reply.status_code == status
    assert says in reply.json()["message"]


def test_off_loopback_reads_need_the_token_too(settings, filled_store, serve_app, token):
    viewer = make_viewer(settings, serve_app, reads_need_token=True)
    assert viewer.get("/api/frames", params={"detector": "c3"}).status_code == 401
    assert viewer.get(f"/api/candidates/{CANDIDATE_ID}").status_code == 401
    ok = viewer.get("/api/frames", params={"detector": "c3"}, headers=bearer(token))
    assert ok.status_code == 200 and len(ok.json()["items"]) == 3


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeated_wrong_tokens_are_slowed_down_and_a_right_one_clears_them():
    clock = Ticks()
    throttle = FailureThrottle(free=3, base_s=0.25, max_s=2.0, window_s=60.0, clock=clock)
    delays = []
    for _ in range(7):
        delays.append(throttle.delay_s("10.0.0.9"))
        throttle.failed("10.0.0.9")
        clock.now += 1.0
    assert delays == [0.0, 0.0, 0.0, 0.25, 0.5, 1.0, 2.0]
    assert throttle.delay_s("10.0.0.9") == 2.0  # capped
    assert throttle.delay_s("10.0.0.10") == 0.0  # per address
    clock.now += 61.0
    assert throttle.delay_s("10.0.0.9") == 0.0  # a quiet window later it starts afresh
    for _ in range(5):
        throttle.failed("10.0.0.9")
    throttle.succeeded("10.0.0.9")
    assert throttle.delay_s("10.0.0.9") == 0.0


def test_a_flood_of_addresses_is_remembered_within_a_bound():
    throttle = FailureThrottle(free=0, max_addresses=100, clock=Ticks())
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert throttle.remembered() == 100
    assert throttle.delay_s("10.0.3.231") > 0  # the most recent are kept
    assert throttle.delay_s("10.0.0.0") == 0.0  # the oldest went first


def test_the_viewer_slows_a_client_after_repeated_failures(viewer, token):
    throttle = viewer.app.state.viewer.throttle
    for _ in range(4):
        assert (
            viewer.post(STATUS, json={"status": "rejected"}, headers=bearer("bad")).status_code
            == 401
        )
    assert throttle.delay_s("127.0.0.1") == 0.5
    assert (
        viewer.post(STATUS, json={"status": "rejected"}, headers=bearer(token)).status_code == 200
    )
    assert throttle.delay_s("127.0.0.1") == 0.0


def test_a_verdict_the_store_cannot_take_is_a_503_saying_it_could_not_be_written(
    settings, filled_store, serve_app, token
):
    """A viewer whose write handle cannot write (as on a read-only home; file modes do not
    stop root, so the handle itself is read-only here): reads work, the verdict is a 503."""
    app = build_app(
        settings,
        partial(SQLiteStore, read_only=True),
        open_writer=partial(SQLiteStore, read_only=True),
        clock=lambda: NOW,
    )
    viewer = Viewer(serve_app(app), settings, app)
    assert viewer.get(f"/api/candidates/{CANDIDATE_ID}").status_code == 200
    reply = viewer.post(STATUS, json={"status": "rejected"}, headers=bearer(token))
    assert reply.status_code == 503
    assert reply.json()["message"].startswith("the verdict could not be written to ")
    assert filled_store.candidate(CANDIDATE_ID).status is CandidateStatus.NEW
