"""The platform's products through the viewer: composites, mosaics and the featured targets
that the real services wrote for a simulated hour, listed and served from disk; names that
are not the services' own, traversal and symlinks out of the products folder refused."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from urllib.parse import quote

import pytest
from PIL import Image

from comet_pipeline.domain import Detector
from comet_pipeline.ingest.featured import overlay_path
from comet_pipeline.ingest.mosaics import hourly_paths
from comet_pipeline.settings import Settings
from comet_pipeline.viewer.platform import summary_path
from comet_pipeline_tests.shared import HOUR

from .conftest import Viewer, make_viewer
from .platform_home import DAY, products_home

END = HOUR + timedelta(hours=1)
STAMP = f"{HOUR:%Y%m%d_%H%M}"
LABELS = ["c2_temporal", "c2c3", "c3_temporal"]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Settings:
    return products_home(tmp_path_factory.mktemp("platform"))


@pytest.fixture
def products(made, serve_app) -> Iterator[Viewer]:
    running = make_viewer(made, serve_app)
    yield running
    running.session.close()


def _png_size(content: bytes) -> tuple[int, int]:
    with Image.open(BytesIO(content)) as img:
        return img.size


def test_the_hours_composites_are_listed_and_served(products, made):
    reply = products.get("/api/composites", params={"since": "2025-06-10T03:00", "until": "04:00"})
    assert reply.status_code == 422  # "04:00" is no time: the listing refuses it
    reply = products.get(
        "/api/composites", params={"since": HOUR.isoformat(), "until": END.isoformat()}
    )
    assert reply.status_code == 200, reply.text
    items = reply.json()["items"]
    assert [i["label"] for i in items] == LABELS
    by_label = {i["label"]: i for i in items}
    assert by_label["c2c3"]["kind"] == "c2c3" and by_label["c2c3"]["detector"] == "c3"
    assert by_label["c2_temporal"]["detector"] == "c2"
    for item in items:
        assert datetime.fromisoformat(item["hour"]) == HOUR
        png = products.get(item["png"]["url"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert _png_size(png.content) == (1024, 1024)
        assert len(png.content) == item["png"]["size_bytes"]
        assert png.headers["cache-control"] == "no-cache"  # a re-run hour rewrites it
        thumb = products.get(item["thumbnail"]["url"])
        assert _png_size(thumb.content) == (256, 256)
        cube = products.get(item["fits"]["url"])
        assert cube.headers["content-type"] == "application/fits"
        assert cube.content.startswith(b"SIMPLE  =")
        # the ETag spares the bytes the second time
        again = products.get(item["png"]["url"], headers={"If-None-Match": png.headers["etag"]})
        assert again.status_code == 304 and not again.content
    # the hour before and after have none; an open window lists the same three
    before = {"since": (HOUR - timedelta(hours=1)).isoformat(), "until": HOUR.isoformat()}
    assert products.get("/api/composites", params=before).json()["items"] == []
    assert [i["label"] for i in products.get("/api/composites").json()["items"]] == LABELS


def test_the_mosaics_are_listed_and_served(products):
    reply = products.get("/api/mosaics", params={"since": DAY.isoformat()})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [datetime.fromisoformat(m["hour"]) for m in body["hourly"]] == [HOUR]
    assert [m["day"] for m in body["daily"]] == [DAY.isoformat()]
    hourly, daily = body["hourly"][0], body["daily"][0]
    assert hourly["png"]["url"] == f"/products/mosaics/hourly/{HOUR:%Y%m%d}/{STAMP}_mosaic.png"
    for link in (hourly["png"], daily["png"]):
        png = products.get(link["url"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert _png_size(png.content)[0] >= 512
    assert products.get(hourly["fits"]["url"]).content.startswith(b"SIMPLE  =")
    # a window that ends before the hour has no hourly mosaic but still touches the day
    early = products.get(
        "/api/mosaics", params={"since": DAY.isoformat(), "until": "2025-06-10T02:00"}
    )
    assert early.json()["hourly"] == [] and len(early.json()["daily"]) == 1
    later = products.get("/api/mosaics", params={"since": "2025-06-11"}).json()
    assert later == {"hourly": [], "daily": []}


def test_the_day_picker_lists_the_days_with_products(products):
    days = products.get("/api/product-days").json()["days"]
    assert days == [
        {
            "day": DAY.isoformat(),
            "composites": 3,
            "hourly_mosaics": 1,
            "daily_mosaic": True,
            "featured": True,
        }
    ]


def test_the_featured_summary_gives_the_days_key_facts(products, made):
    reply = products.get("/api/featured", params={"day": DAY.isoformat()})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    written = json.loads(summary_path(made.layout.products_dir, DAY).read_text())
    assert body["day"] == DAY.isoformat()
    assert body["kreutz_well_placed"] == written["kreutz_well_placed"]
    assert set(body["kreutz_well_placed"]) == {"c2", "c3"}
    assert [(p["detector"], p["planet"], p["hours"]) for p in body["planets"]] == [
        (p["detector"], p["planet"], p["hours"]) for p in written["planets"]
    ]
    assert len(body["envelopes"]) == len(written["envelopes"]) > 0
    # one processed hour of the day: the other 23 are a data gap of each detector
    gaps = {
        g["detector"]: sum(x["hours"] for x in body["data_gaps"] if x["detector"] == g["detector"])
        for g in body["data_gaps"]
    }
    assert gaps == {"c2": 23.0, "c3": 23.0}
    assert all(g["detector"] is None for g in body["pass_gaps"])
    assert [o["detector"] for o in body["overlays"]] == ["c2", "c3"]
    for overlay in body["overlays"]:
        png = products.get(overlay["png"]["url"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    # the file's own (absolute) paths never reach the wire
    assert str(made.home) not in reply.text


@pytest.mark.parametrize(
    ("params", "status"),
    [({"day": "2025-06-12"}, 404), ({"day": "June 10"}, 422), ({}, 422), ({"day": "1"}, 422)],
)
def test_a_day_without_a_summary_or_a_bad_day_is_refused(products, params, status):
    reply = products.get("/api/featured", params=params)
    assert reply.status_code == status
    assert reply.json()["status"] == status


def test_a_damaged_summary_is_a_503_not_a_traceback(settings, serve_app):
    path = summary_path(settings.layout.products_dir, DAY)
    path.parent.mkdir(parents=True)
    path.write_text('{"day": "2025-06-10", "planets": "many"}')
    viewer = make_viewer(settings, serve_app)
    reply = viewer.get("/api/featured", params={"day": DAY.isoformat()})
    assert reply.status_code == 503
    assert "not in the expected form" in reply.json()["message"]


BAD_NAMES = [
    # unknown labels, kinds, suffixes and malformed times
    f"/products/composites/temporal/{HOUR:%Y%m%d}/{STAMP}_c4_temporal.png",
    f"/products/composites/temporal/{HOUR:%Y%m%d}/{STAMP}_c2c3.png",  # c2c3 is its own kind
    f"/products/composites/c2c3/{HOUR:%Y%m%d}/{STAMP}_c2c3.jpg",
    f"/products/composites/rgb/{HOUR:%Y%m%d}/{STAMP}_c2c3.png",
    f"/products/composites/c2c3/20250611/{STAMP}_c2c3.png",  # the folder is not its day
    "/products/composites/c2c3/20251340/20251340_0300_c2c3.png",
    f"/products/composites/c2c3/{HOUR:%Y%m%d}/{HOUR:%Y%m%d}_2500_c2c3.png",
    f"/products/composites/c2c3/{HOUR:%Y%m%d}/{HOUR:%Y%m%d}_0330_c2c3.png",
    f"/products/mosaics/hourly/{HOUR:%Y%m%d}/{STAMP}_mosaic.webp",
    f"/products/mosaics/hourly/20250611/{STAMP}_mosaic.png",
    "/products/mosaics/daily/2025-06-10_mosaic.png",
    f"/products/featured/c2/{HOUR:%Y%m%d}_c3.png",
    f"/products/featured/c4/{HOUR:%Y%m%d}_c4.png",
    # made (missing) files of a well-formed name
    f"/products/composites/c2c3/{HOUR:%Y%m%d}/{HOUR:%Y%m%d}_0400_c2c3.png",
    "/products/mosaics/daily/20250611_mosaic.png",
]


@pytest.mark.parametrize("path", BAD_NAMES)
def test_unknown_or_missing_names_are_404(products, path):
    reply = products.get(path)
    assert reply.status_code == 404, path
    assert reply.json()["status"] == 404


def test_traversal_out_of_the_products_folder_is_refused(products, made):
    # a real file two folders up, of a name the routes would serve, reached by climbing
    secret = made.layout.products_dir / f"{STAMP}_c2c3.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n not a composite")
    try:
        for climb in (f"../{STAMP}_c2c3.png", f"../../{STAMP}_c2c3.png", str(secret)):
            for path in (
                f"/products/composites/c2c3/{HOUR:%Y%m%d}/{quote(climb, safe='')}",
                f"/products/composites/c2c3/{quote(climb, safe='')}/{STAMP}_c2c3.png",
                f"/products/mosaics/daily/{quote(climb, safe='')}",
                f"/products/featured/{quote(climb, safe='')}/{HOUR:%Y%m%d}_c2.png",
            ):
                reply = products.get(path)
                assert reply.status_code == 404, path
                assert b"not a composite" not in reply.content
        # and a plain "../" the client would normalise away is sent as written
        raw = products.session.get(
            products.url + f"/products/composites/c2c3/{HOUR:%Y%m%d}/..%2F..%2F{STAMP}_c2c3.png",
            timeout=10,
        )
        assert raw.status_code == 404
    finally:
        secret.unlink()


def test_a_product_symlinked_out_of_the_products_folder_is_403(settings, serve_app, tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\n outside")
    day = date(2025, 6, 10)
    overlay = overlay_path(settings.layout.products_dir, Detector.C2, day)
    overlay.parent.mkdir(parents=True)
    overlay.symlink_to(outside)
    mosaic = hourly_paths(settings.layout.products_dir, HOUR).png
    mosaic.parent.mkdir(parents=True)
    mosaic.write_bytes(b"\x89PNG\r\n\x1a\n inside")
    viewer = make_viewer(settings, serve_app)
    reply = viewer.get(f"/products/featured/c2/{day:%Y%m%d}_c2.png")
    assert reply.status_code == 403 and not reply.content.startswith(b"\x89PNG")
    # the file inside is served as it is (the listing needs only the name)
    hourly = viewer.get("/api/mosaics").json()["hourly"]
    assert [m["hour"] for m in hourly] == ["2025-06-10T03:00:00Z"]
    assert hourly[0]["fits"] is None
    assert viewer.get(hourly[0]["png"]["url"]).content.endswith(b"inside")


def test_foreign_files_in_the_folders_are_not_listed(settings, serve_app):
    """Only the services' own names are listed: a stray file, a bad day folder, an unknown
    label or a thumbnail alone are passed over."""
    products_dir = settings.layout.products_dir
    folder = products_dir / "composites" / "temporal" / "20250610"
    folder.mkdir(parents=True)
    for name in (
        "20250610_0300_c2_temporal.png",
        "20250610_0400_c3_temporal.thumb.png",  # no PNG beside it
        "20250610_0300_c9_temporal.png",
        "notes.txt",
    ):
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    (products_dir / "composites" / "temporal" / "2025-06-10").mkdir()
    (products_dir / "composites" / "temporal" / "20250610" / "sub.png").mkdir()
    os.symlink("nowhere", folder / "20250610_0500_c2_temporal.png")  # dangling
    viewer = make_viewer(settings, serve_app)
    items = viewer.get("/api/composites").json()["items"]
    assert [(i["label"], i["hour"]) for i in items] == [("c2_temporal", "2025-06-10T03:00:00Z")]
    assert items[0]["thumbnail"] is None and items[0]["fits"] is None
    days = viewer.get("/api/product-days").json()["days"]
    assert [(d["day"], d["composites"]) for d in days] == [("2025-06-10", 2)]


def test_an_empty_home_lists_nothing(settings, serve_app):
    viewer = make_viewer(settings, serve_app)
    assert viewer.get("/api/composites").json() == {"items": []}
    assert viewer.get("/api/mosaics").json() == {"hourly": [], "daily": []}
    assert viewer.get("/api/product-days").json() == {"days": []}
    since_after_until = {"since": "2025-06-11", "until": "2025-06-10"}
    assert viewer.get("/api/composites", params=since_after_until).status_code == 400


def test_reads_need_the_token_beyond_loopback(made, serve_app):
    viewer = make_viewer(made, serve_app, reads_need_token=True)
    assert viewer.get("/api/composites").status_code == 401
    url = f"/products/mosaics/daily/{DAY:%Y%m%d}_mosaic.png"
    assert viewer.get(url).status_code == 401


def test_the_hours_in_the_listing_are_utc(products):
    items = products.get("/api/composites", params={"since": "2025-06-10T05:00+02:00"}).json()
    assert [datetime.fromisoformat(i["hour"]).astimezone(UTC) for i in items["items"]] == [HOUR] * 3
