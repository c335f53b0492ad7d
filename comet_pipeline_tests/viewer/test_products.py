"""``/products``: the recorded files, byte for byte, with content types and cache headers,
and never a file outside COMET_HOME."""

from __future__ import annotations

import pytest

from comet_pipeline_tests.viewer.conftest import CANDIDATE_ID, CUTOUT_BYTES, FITS_BYTES, PNG_BYTES

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("product", "content_type", "data"),
    [("processed_png", "image/png", PNG_BYTES), ("calibrated", "application/fits", FITS_BYTES)],
)
def test_a_product_is_served_byte_identical_with_long_cache(stocked, product, content_type, data):
    reply = stocked.get(f"/products/32000010.fts/{product}")
    assert reply.status_code == 200
    assert reply.content == data
    assert reply.headers["content-type"] == content_type
    assert reply.headers["cache-control"] == IMMUTABLE
    assert reply.headers["content-length"] == str(len(data))
    etag = reply.headers["etag"]
    again = stocked.get(f"/products/32000010.fts/{product}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == IMMUTABLE


def test_the_frame_detail_links_to_the_files_it_serves(stocked):
    links = {
        p["name"]: p["url"] for p in stocked.get("/api/frames/32000010.fts").json()["products"]
    }
    assert stocked.get(links["processed_png"]).content == PNG_BYTES


def test_a_cutout_strip_is_served_and_revalidated(stocked):
    url = stocked.get(f"/api/candidates/{CANDIDATE_ID}").json()["cutout_url"]
    reply = stocked.get(url)
    assert reply.status_code == 200 and reply.content == CUTOUT_BYTES
    assert reply.headers["content-type"] == "image/png"
    assert reply.headers["cache-control"] == "no-cache" and reply.headers["etag"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        (
            "/products/32000010.fts/sharpened",
            404,
            "no product 'sharpened'; known: calibrated, calibrated_preview, processed, processed_png, preview, thumbnail, difference, difference_png, difference_preview",
        ),
        ("/products/99999999.fts/processed_png", 404, "no frame named '99999999.fts'"),
        (
            "/products/32000010.fts/difference_png",
            404,
            "frame '32000010.fts' has no difference_png product",
        ),
        (
            "/products/32000010.fts/thumbnail",
            404,
            "32000010.thumb.png is recorded but missing on disk",
        ),
        (
            "/products/candidates/c3-19990101-0001/cutout",
            404,
            "no candidate with id 'c3-19990101-0001'",
        ),
    ],
    ids=["unknown-product", "unknown-frame", "product-not-made", "file-gone", "unknown-candidate"],
)
def test_what_cannot_be_served_is_a_404_saying_why(stocked, path, status, message):
    reply = stocked.get(path)
    assert reply.status_code == status
    assert reply.json() == {"status": status, "message": message, "fields": []}
    assert reply.headers["cache-control"] == "no-store"


def test_a_recorded_path_outside_the_home_is_refused(stocked, settings):
    outside = stocked.get("/products/32000000.fts/processed_png")  # recorded as /f/...
    assert outside.status_code == 403
    assert outside.json()["message"] == (
        f"/f/32000000.fts.png lies outside COMET_HOME ({settings.home.resolve()}); it is not served"
    )
    escape = stocked.get("/products/32000010.fts/preview")  # a symlink out of the home
    assert escape.status_code == 403 and b"not the viewer's" not in escape.content


@pytest.mark.parametrize(
    "path",
    [
        "/products/32000010.fts/..%2F..%2Flifecycle.db",
        "/products/..%2F..%2Flifecycle.db/calibrated",
    ],
)
def test_a_path_in_the_url_reaches_no_file(stocked, path):
    reply = stocked.get(path)
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/json"
    assert b"SQLite format" not in reply.content
