"""``/api/frames``: the chronological keyset pages, one frame's detail, and bad input."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from comet_pipeline.domain import ArchiveFile, Detector, Frame
from comet_pipeline.store.sqlite.frames import FRAMES_PAGE_NEWEST_SQL, FRAMES_PAGE_SQL
from comet_pipeline.viewer.params import encode_cursor
from comet_pipeline_tests.shared import HOUR
from comet_pipeline_tests.viewer.conftest import ARRIVED_AT, STOCKED_AT, make_viewer

CHRONOLOGICAL = ["32000001.fts", "32000002.fts", "32000000.fts"]  # 03:00, 04:00, 05:00


def _summary(name, at):
    return {
        "name": name,
        "detector": "c3",
        "observed_at": at,
        "roll_deg": 180.0 if name == "32000000.fts" else 0.0,
        "naxis1": 1024,
        "naxis2": 1024,
        "url": f"/api/frames/{name}",
        "products": {
            "calibrated": f"/products/{name}/calibrated",
            "processed_png": f"/products/{name}/processed_png",
        },
    }


def test_frames_come_in_time_order_with_their_product_urls(viewer):
    reply = viewer.get("/api/frames", params={"detector": "c3"})
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    assert reply.json() == {
        "items": [
            _summary("32000001.fts", "2025-06-10T03:00:00Z"),
            _summary("32000002.fts", "2025-06-10T04:00:00Z"),
            _summary("32000000.fts", "2025-06-10T05:00:00Z"),
        ],
        "next_cursor": None,
    }
    assert viewer.get("/api/frames", params={"detector": "c2"}).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_since_is_inclusive_and_until_exclusive_and_naive_times_are_utc(viewer):
    params = {"detector": "c3", "since": "2025-06-10T04:00", "until": "2025-06-10T07:00+02:00"}
    names = [f["name"] for f in viewer.get("/api/frames", params=params).json()["items"]]
    assert names == ["32000002.fts"]  # 07:00+02:00 is 05:00 UTC: 32000000 is left out


@pytest.fixture
def many_frames(filled_store):
    """47 more C3 frames, two of them at the same second (the name breaks the tie)."""
    start = HOUR + timedelta(hours=10)
    minutes = [12 * (10 if i == 11 else i) for i in range(47)]
    files = [
        ArchiveFile(f"3300{i:04d}.fts", Detector.C3, start + timedelta(minutes=m), 18.0, 1024, 1024)
        for i, m in enumerate(minutes)
    ]
    filled_store.register_files(files, now=start)
    for f in reversed(files):  # stored newest first on purpose
        filled_store.record_frame(Frame(f.name, f.detector, f.observed_at), now=start)
    return filled_store


def test_pages_walk_every_frame_once_in_order(settings, many_frames, serve_app):
    viewer = make_viewer(settings, serve_app)
    seen, page_of, cursor = [], {}, None
    for page in range(1, 20):
        params = {"detector": "c3", "limit": 7} | ({"cursor": cursor} if cursor else {})
        body = viewer.get("/api/frames", params=params).json()
        assert len(body["items"]) == 7 or body["next_cursor"] is None
        seen += [(f["observed_at"], f["name"]) for f in body["items"]]
        page_of |= {f["name"]: page for f in body["items"]}
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert page == 8  # 50 frames: seven full pages and one of one
    assert len(seen) == len(set(seen)) == 50
    assert seen == sorted(seen)
    assert [name for _, name in seen[:3]] == CHRONOLOGICAL
    # the two frames of the same second straddle pages 2 and 3: the name breaks the tie
    assert (page_of["33000010.fts"], page_of["33000011.fts"]) == (2, 3)
    assert seen[13][0] == seen[14][0]


def test_newest_first_pages_walk_back_through_the_same_frames(settings, many_frames, serve_app):
    viewer = make_viewer(settings, serve_app)
    forward = []
    cursor = None
    while True:
        params = {"detector": "c3", "limit": 100} | ({"cursor": cursor} if cursor else {})
        body = viewer.get("/api/frames", params=params).json()
        forward += [f["name"] for f in body["items"]]
        if (cursor := body["next_cursor"]) is None:
            break
    backward, cursor = [], None
    for _ in range(20):
        params = {"detector": "c3", "limit": 9, "order": "newest"}
        body = viewer.get("/api/frames", params=params | ({"cursor": cursor} if cursor else {}))
        backward += [f["name"] for f in body.json()["items"]]
        if (cursor := body.json()["next_cursor"]) is None:
            break
    assert backward == forward[::-1] and len(backward) == 50
    first = viewer.get("/api/frames", params={"detector": "c3", "limit": 9, "order": "newest"})
    mixed = viewer.get(
        "/api/frames", params={"detector": "c3", "cursor": first.json()["next_cursor"]}
    )
    assert mixed.status_code == 400
    assert "continues an order=newest listing" in mixed.json()["message"]
    assert viewer.get("/api/frames", params={"detector": "c3", "order": "up"}).status_code == 422


def test_a_page_that_ends_exactly_at_the_last_frame_has_no_cursor(viewer):
    body = viewer.get("/api/frames", params={"detector": "c3", "limit": 2}).json()
    assert [f["name"] for f in body["items"]] == CHRONOLOGICAL[:2]
    last = viewer.get(
        "/api/frames", params={"detector": "c3", "limit": 1, "cursor": body["next_cursor"]}
    ).json()
    assert [f["name"] for f in last["items"]] == CHRONOLOGICAL[2:]
    assert last["next_cursor"] is None


def test_a_cursor_never_widens_the_window(viewer):
    early = encode_cursor(HOUR - timedelta(days=3), "0.fts")
    params = {"detector": "c3", "since": "2025-06-10T04:00", "cursor": early}
    names = [f["name"] for f in viewer.get("/api/frames", params=params).json()["items"]]
    assert names == CHRONOLOGICAL[1:]


def test_store_pages_forward_and_backward(filled_store):
    start, end = HOUR, HOUR + timedelta(days=1)
    first = filled_store.frames_page("c3", start, end, limit=2)
    assert [f.name for f in first] == CHRONOLOGICAL[:2]
    rest = filled_store.frames_page(
        "c3", start, end, after=(first[-1].observed_at, first[-1].name), limit=2
    )
    assert [f.name for f in rest] == CHRONOLOGICAL[2:]
    assert rest[0].products["calibrated"].path == "/f/32000000.fts.cal.fits"
    newest = filled_store.frames_page("c3", start, end, limit=2, newest_first=True)
    assert [f.name for f in newest] == CHRONOLOGICAL[::-1][:2]
    older = filled_store.frames_page(
        "c3",
        start,
        end,
        after=(newest[-1].observed_at, newest[-1].name),
        limit=5,
        newest_first=True,
    )
    assert [f.name for f in older] == CHRONOLOGICAL[:1]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        filled_store.frames_page("c3", start, end, limit=0)


@pytest.mark.parametrize("sql", [FRAMES_PAGE_SQL, FRAMES_PAGE_NEWEST_SQL], ids=["oldest", "newest"])
def test_a_page_is_an_index_range_scan(filled_store, sql):
    params = {
        "detector": "c3",
        "start": "a",
        "end": "b",
        "key_at": "a",
        "key_name": "",
        "limit": 100,
    }
    plan = filled_store.explain(sql, params)
    assert any(
        line.startswith("SEARCH frames USING INDEX idx_frames_detector_observed_name (detector=?")
        for line in plan
    ), plan
    assert not any(line.startswith("SCAN") or "TEMP B-TREE" in line for line in plan), plan


def test_one_frame_with_times_latency_statistics_and_products(stocked):
    reply = stocked.get("/api/frames/32000010.fts")
    assert reply.status_code == 200
    assert reply.json() == {
        "name": "32000010.fts",
        "detector": "c3",
        "state": "PROCESSED",
        "times": {
            "observed_at": "2025-06-10T06:00:00Z",
            "arrived_at": "2025-06-10T06:50:00Z",
            "processed_at": "2025-06-10T06:55:00Z",
            "arrival_latency_minutes": 50.0,
            "processing_latency_minutes": 55.0,
        },
        "stats": {"median": 3.5, "noise_sigma": 0.25},
        "background_kind": "rolling",
        "background_frames": 3,
        "products": [
            {
                "name": name,
                "url": f"/products/32000010.fts/{name}",
                "content_type": kind,
                "size_bytes": size,
                "description": description,
            }
            for name, kind, size, description in [
                (
                    "calibrated",
                    "application/fits",
                    2880,
                    "calibrated float32, DN/s per full-resolution pixel, masked pixels NaN, WCS",
                ),
                ("preview", "image/png", 10, "the processed frame, 512 px (playback)"),
                (
                    "processed_png",
                    "image/png",
                    1032,
                    "the processed frame for display, 1024 px, north up",
                ),
                ("thumbnail", "image/png", 99, "the processed frame, 256 px"),
            ]
        ],
    }
    assert STOCKED_AT < ARRIVED_AT


def test_a_frame_never_processed_through_the_lifecycle_has_no_processed_time(viewer):
    body = viewer.get("/api/frames/32000001.fts").json()
    assert body["state"] == "DISCOVERED"
    assert body["times"] == {
        "observed_at": "2025-06-10T03:00:00Z",
        "arrived_at": "2025-06-10T04:00:00Z",
        "processed_at": None,
        "arrival_latency_minutes": 60.0,
        "processing_latency_minutes": None,
    }


def _tampered() -> str:
    return base64.urlsafe_b64encode(b"yesterday|32000001.fts").decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"detector": "c4"}, 422, "query.detector: Input should be 'c2' or 'c3' (got 'c4')"),
        ({}, 422, "query.detector: Field required"),
        (
            {"detector": "c3", "since": "2025-06-10T25:00"},
            422,
            "query.since: not an ISO date/time (e.g. 2025-06-10 or 2025-06-10T03:00Z) (got '2025-06-10T25:00')",
        ),
        (
            {"detector": "c3", "until": "1718000000"},
            422,
            "query.until: not an ISO date/time (e.g. 2025-06-10 or 2025-06-10T03:00Z) (got '1718000000')",
        ),
        (
            {"detector": "c3", "since": "2025-06-11", "until": "2025-06-10"},
            400,
            "since (2025-06-11T00:00:00.000000+00:00) is after until (2025-06-10T00:00:00.000000+00:00)",
        ),
        (
            {"detector": "c3", "limit": "0"},
            422,
            "query.limit: Input should be greater than or equal to 1 (got '0')",
        ),
        (
            {"detector": "c3", "limit": "501"},
            422,
            "query.limit: Input should be less than or equal to 500 (got '501')",
        ),
        (
            {"detector": "c3", "limit": "ten"},
            422,
            "query.limit: Input should be a valid integer, unable to parse string as an integer (got 'ten')",
        ),
        *[
            (
                {"detector": "c3", "cursor": bad},
                400,
                "cursor is not one this API gave out: ask again without it for the first page",
            )
            for bad in ("not base64!", "bm9waXBl", _tampered())
        ],
    ],
    ids=[
        "detector",
        "no-detector",
        "since",
        "until-number",
        "since>until",
        "limit-0",
        "limit-501",
        "limit-text",
        "cursor-junk",
        "cursor-no-sep",
        "cursor-bad-time",
    ],
)
def test_bad_input_is_a_4xx_with_one_clear_line(viewer, params, status, message):
    reply = viewer.get("/api/frames", params=params)
    assert reply.status_code == status
    body = reply.json()
    assert body["status"] == status and body["message"] == message
    assert reply.headers["content-type"] == "application/json"


def test_an_unknown_frame_is_404(viewer):
    reply = viewer.get("/api/frames/99999999.fts")
    assert reply.status_code == 404
    assert reply.json() == {"status": 404, "message": "no frame named '99999999.fts'", "fields": []}
    assert viewer.get("/api/nothing-here").json() == {
        "status": 404,
        "message": "Not Found",
        "fields": [],
    }


def test_without_a_store_lists_are_empty_and_details_404(settings, serve_app):
    viewer = make_viewer(settings, serve_app)
    assert viewer.get("/api/frames", params={"detector": "c3"}).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert viewer.get("/api/candidates").json() == {"items": []}
    assert viewer.get("/api/slots", params={"day": "2025-06-10"}).json()["slots"] == []
    reply = viewer.get("/api/frames/32000000.fts")
    assert reply.status_code == 404
    assert reply.json()["message"] == (
        f"no frame named '32000000.fts' (no lifecycle store at {settings.layout.lifecycle_db} yet)"
    )
