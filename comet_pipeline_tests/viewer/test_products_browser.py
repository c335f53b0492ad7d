"""The Products view end to end: real headless Chromium (Debian's, driven by Playwright) on
the real viewer over products the services made for a simulated hour. The hunter opens the
view, sees the hour's four pictures (C2 and C3 temporal composites, C2 + C3, the hourly
mosaic) decoded, the day's overlays and daily mosaic, and the featured summary's facts;
the arrow keys step hours only here, and the Player button goes back. A screenshot goes to
``test-artifacts/products.png``."""

from __future__ import annotations

import json

import pytest

from comet_pipeline_tests.browser import artifacts_dir

from .conftest import make_viewer
from .platform_home import DAY, products_home

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WAIT_MS = 20_000
LOADED = "img => img.complete && img.naturalWidth > 0"
#: Every picture of the view decoded, then two animation frames: the first paints them, the
#: second begins once that paint is done (what the screenshot should show, not a guess).
PAINTED = """async () => {
  const imgs = [...document.querySelectorAll("#products-view [data-product] img")];
  await Promise.all(imgs.map((img) => img.decode()));
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return imgs.map((img) => img.closest("[data-product]").dataset.product);
}"""
#: How far the view's content reaches below its box (it scrolls inside a viewport-high box).
HIDDEN_PX = (
    "() => { const v = document.getElementById('products-view');"
    " return v.scrollHeight - v.clientHeight; }"
)
VIEWPORT = {"width": 1280, "height": 800}
PICTURES = [
    "c2_temporal-2025-06-10T03",
    "c3_temporal-2025-06-10T03",
    "c2c3-2025-06-10T03",
    "mosaic-2025-06-10T03",
    "overlay-c2-2025-06-10",
    "overlay-c3-2025-06-10",
    "daily-2025-06-10",
]


def test_a_hunter_sees_the_hours_products_and_the_days_featured_targets(
    browser, tmp_path, serve_app
):
    settings = products_home(tmp_path)
    viewer = make_viewer(settings, serve_app)
    summary = viewer.get("/api/featured", params={"day": DAY.isoformat()}).json()
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{viewer.url}/")
        page.click("#view-products")
        page.wait_for_url("**/#/products/2025-06-10/03")
        assert page.is_hidden("main") and page.is_visible("#products-view")
        for slot in ("c2_temporal", "c3_temporal", "c2c3", "mosaic"):
            img = page.locator(f'[data-product="{slot}-2025-06-10T03"] img')
            img.wait_for()
            page.wait_for_function(LOADED, arg=img.element_handle())
            assert img.evaluate("i => i.naturalWidth") in (1024, 512), slot
        for key in ("overlay-c2-2025-06-10", "overlay-c3-2025-06-10", "daily-2025-06-10"):
            img = page.locator(f'[data-product="{key}"] img')
            img.wait_for()
            page.wait_for_function(LOADED, arg=img.element_handle())
        kreutz = page.locator("#featured-kreutz li")
        assert kreutz.count() == 2
        for det, ok in summary["kreutz_well_placed"].items():
            text = page.locator(f'#featured-kreutz li[data-detector="{det}"]').inner_text()
            assert ("well placed" in text) is ok, text
        planets = summary["planets"]
        if planets:
            rows = page.locator("#featured-planets tbody tr").all_inner_texts()
            assert [r.split("\t")[1] for r in rows] == [p["planet"] for p in planets]
        else:
            assert page.inner_text("#featured-planets") == "no planet in either field"
        gaps = page.locator('#featured-gaps li[data-gap="c2"]').inner_text()
        assert "04:00–24:00 (20 h)" in gaps, gaps  # the hours after the one processed
        assert page.locator("#products-hour option").count() == 1
        assert page.is_disabled("#products-next") and page.is_disabled("#products-prev")
        # the page is one viewport high (the view scrolls inside it): for the screenshot the
        # viewport is as tall as the view's content, so it shows all of it, corridors too
        hidden = page.evaluate(HIDDEN_PX)
        page.set_viewport_size({**VIEWPORT, "height": VIEWPORT["height"] + max(hidden, 0)})
        assert page.evaluate(HIDDEN_PX) <= 0, "the view still scrolls"
        assert sorted(page.evaluate(PAINTED)) == sorted(PICTURES)  # all of them, painted
        shot = artifacts_dir() / "products.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot} ({hidden} px below the first screen included)")
        page.set_viewport_size(VIEWPORT)
        # the C2+C3 picture enlarges on a click; ← does not step the hidden player
        page.click('[data-product="c2c3-2025-06-10T03"] img')
        assert "large" in (page.get_attribute('[data-product="c2c3-2025-06-10T03"]', "class") or "")
        page.keyboard.press("ArrowLeft")
        assert page.url.endswith("#/products/2025-06-10/03")
        assert errors == [], json.dumps(errors, indent=1)
        # a shared link to a day without products says so, in place of the pictures (the
        # featured summary's 404 is the one console line Chromium writes for it)
        page.goto(f"{viewer.url}/#/products/2025-06-12/05")
        page.wait_for_function(
            "() => document.getElementById('products-note').textContent.includes('2025-06-12')"
        )
        assert (
            page.inner_text("#products-note")
            == "no composite or mosaic for 05:00 UTC of 2025-06-12"
        )
        assert page.locator("#products-grid figure").count() == 0
        page.locator("#featured-facts p").wait_for()
        assert "No featured-targets summary" in page.inner_text("#featured-facts")
        assert page.locator("#products-day option").first.inner_text() == "2025-06-12 (no products)"
        page.click("#view-player")
        page.wait_for_url("**/#/")
        assert page.is_visible("main") and page.is_hidden("#products-view")
        assert errors == [
            "Failed to load resource: the server responded with a status of 404 (Not Found)"
        ], json.dumps(errors, indent=1)
    finally:
        page.close()
        viewer.session.close()
