"""``/api/candidates``: ranked lists, filters, one candidate's track, and bad input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from comet_pipeline_tests.viewer.conftest import CANDIDATE_ID, make_viewer

SUMMARY = {
    "id": CANDIDATE_ID,
    "detector": "c3",
    "first_seen_at": "2025-06-10T03:00:00Z",
    "last_seen_at": "2025-06-10T05:00:00Z",
    "n_frames": 3,
    "score": 0.8,
    "snr": 6.0,
    "speed_px_per_hour": 4.0,
    "direction_deg": 200.0,
    "status": "new",
    "known": None,
    "url": f"/api/candidates/{CANDIDATE_ID}",
}


@pytest.fixture
def ranked(filled_store):
    """Three more: a better C3 one, a rejected C2 one, and an unscored known planet."""
    base = filled_store.candidates()[0]
    for cid, detector, score, status, known in [
        ("c3-20250610-0002", "c3", 0.95, "new", None),
        ("c2-20250610-0001", "c2", 0.5, "rejected", None),
        ("c3-20250610-0003", "c3", None, "new", "known: Venus"),
    ]:
        filled_store.upsert_candidate(
            replace(base, id=cid, detector=detector, score=score, status=status, known=known)
        )
    return filled_store


def test_candidates_are_ranked_best_first(settings, ranked, serve_app):
    viewer = make_viewer(settings, serve_app)
    reply = viewer.get("/api/candidates")
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    items = reply.json()["items"]
    assert [(c["id"], c["score"]) for c in items] == [
        ("c3-20250610-0002", 0.95),
        (CANDIDATE_ID, 0.8),
        ("c2-20250610-0001", 0.5),
        ("c3-20250610-0003", None),
    ]
    assert items[1] == SUMMARY
    assert items[3]["known"] == "known: Venus"

    def ids(**params):
        return [c["id"] for c in viewer.get("/api/candidates", params=params).json()["items"]]

    assert ids(detector="c2") == ["c2-20250610-0001"]
    assert ids(status="rejected") == ["c2-20250610-0001"]
    assert ids(detector="c3", status="new") == [
        "c3-20250610-0002",
        CANDIDATE_ID,
        "c3-20250610-0003",
    ]
    assert ids(since="2025-06-10T05:00:01") == []  # every track ended at 05:00
    assert ids(since="2025-06-10T05:00", until="2025-06-10T06:00") == [
        "c3-20250610-0002",
        CANDIDATE_ID,
        "c2-20250610-0001",
        "c3-20250610-0003",
    ]


def test_one_candidate_with_its_track_report_cutout_and_light_curve(stocked):
    reply = stocked.get(f"/api/candidates/{CANDIDATE_ID}")
    assert reply.status_code == 200
    times = ["2025-06-10T03:00:00Z", "2025-06-10T04:00:00Z", "2025-06-10T05:00:00Z"]
    names = ["32000001.fts", "32000002.fts", "32000000.fts"]
    assert reply.json() == SUMMARY | {
        "updated_at": "2025-06-11T12:00:00Z",
        "report_text": "C3 32000000.fts 512.0 500.0",
        "cutout_url": f"/products/candidates/{CANDIDATE_ID}/cutout",
        "detections": [
            {
                "file": name,
                "observed_at": at,
                "x": 512.0 - 4 * i,
                "y": 500.0 + 2 * i,
                "flux": 100.0 + i,
                "snr": 5.0 + i,
                "frame_url": f"/api/frames/{name}",
            }
            for i, (at, name) in enumerate(zip(times, names, strict=True))
        ],
        "light_curve": {
            "observed_at": times,
            "flux": [100.0, 101.0, 102.0],
            "snr": [5.0, 6.0, 7.0],
        },
        "reviews": [],
    }


def test_a_candidate_without_a_cutout_file_has_no_cutout_url(viewer):
    body = viewer.get(f"/api/candidates/{CANDIDATE_ID}").json()
    assert body["cutout_url"] is None and body["detections"] == [] and body["report_text"] is None
    assert body["light_curve"] == {"observed_at": [], "flux": [], "snr": []}


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/candidates/c3-19990101-0001", {}, 404, "no candidate with id 'c3-19990101-0001'"),
        (
            "/api/candidates",
            {"detector": "lasco"},
            422,
            "query.detector: Input should be 'c2' or 'c3' (got 'lasco')",
        ),
        (
            "/api/candidates",
            {"status": "maybe"},
            422,
            "query.status: Input should be 'new', 'confirmed', 'rejected' or 'reported' (got 'maybe')",
        ),
        (
            "/api/candidates",
            {"since": "noon"},
            422,
            "query.since: not an ISO date/time (e.g. 2025-06-10 or 2025-06-10T03:00Z) (got 'noon')",
        ),
        (
            "/api/candidates",
            {"since": "2025-06-10T05:00Z", "until": "2025-06-10T04:00Z"},
            400,
            "since (2025-06-10T05:00:00.000000+00:00) is after until (2025-06-10T04:00:00.000000+00:00)",
        ),
    ],
    ids=["unknown-id", "detector", "status", "since", "since>until"],
)
def test_bad_input_is_a_4xx_with_one_clear_line(viewer, path, params, status, message):
    reply = viewer.get(path, params=params)
    assert reply.status_code == status
    assert reply.json() == {"status": status, "message": message, "fields": reply.json()["fields"]}
