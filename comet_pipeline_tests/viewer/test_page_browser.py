"""The hunter's page end to end, as a person uses it: real Chromium (headless, Debian's),
driven by Playwright, on a real ``comet-pipeline serve`` over a store that ``comet-pipeline
demo`` filled through Dagster.

It plays ten frames (ten frame times shown), switches to C3 and to the running difference,
sees the next hour's frame and the grown candidate arrive without a reload (a second demo
run while the page is open), opens the top candidate, reads the pixel under the pointer on
one of its detections, rejects it with a token, and finds the verdict in the store.
Screenshots of the player and of the candidate page go to ``test-artifacts/`` (or
``$COMET_TEST_ARTIFACTS``).

A second, quick test drives the same page against a fake viewer (Playwright answers its
requests; no server, no demo): rolled and binned frames (the pixel under the pointer, the
overlays, the draft's image size, checked against ``orientation.py``), keys on focused
controls, the calibrated view zoomed, going back to the list after an old candidate, a
refused token (live updates pause, and resume with a new one), and the blob: URLs of
images fetched with a token (none outlives its cache entry).
"""

from __future__ import annotations

import json
import math
import os
import re
import selectors
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from comet_pipeline.imaging.orientation import fits_to_png, png_to_fits
from comet_pipeline.store import SQLiteStore
from comet_pipeline.viewer.headers import CONTENT_SECURITY_POLICY
from comet_pipeline.viewer.pages import STATIC_DIR, VERSION_MARK
from comet_pipeline_tests.browser import artifacts_dir, playwright_api

#: pytest-timeout counts fixture setup: installing Chromium with apt (the first test to ask
#: for the browser) and the demo through Dagster both come before the first line of a test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
#: The demo's six hours end here, not "now": this window of the simulated archive holds a
#: comet in C3 (checked below), so the test does not depend on the hour it runs at. The
#: next hour (run while the page is open) brings one more C3 frame of it.
DEMO_UNTIL = "2026-12-02T01:00"
LIVE_UNTIL = "2026-12-02T02:00"
POLL_WAIT_MS = 40_000  # the page polls every 10 s
DEMO_TIMEOUT_S = 600
START_DEADLINE_S = 30.0
WAIT_MS = 20_000  # Playwright's waits: ample on 2 busy cores, never slept through
CLI = [sys.executable, "-m", "comet_pipeline.cli.main"]


@dataclass
class Served:
    url: str
    home: Path
    token: str
    env: dict[str, str]


def _env(home: Path, dagster_home: Path) -> dict[str, str]:
    """This machine's environment without a developer's COMET_* settings, on our homes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    return env | {
        "COMET_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "PYTHONUNBUFFERED": "1",
    }


def _cli(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"comet-pipeline {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _url_line(proc: subprocess.Popen[str]) -> str:
    """The viewer's first line (its URL), waited for on the pipe up to a deadline."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_DEADLINE_S
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                return proc.stdout.readline()
    raise AssertionError("comet-pipeline serve printed no URL")


@pytest.fixture(scope="module")
def served(browser, tmp_path_factory) -> Iterator[Served]:  # noqa: ARG001  ordering only
    """A home the demo filled (6 h of C2 and C3), a token, and the viewer serving it.

    ``browser`` (``conftest.py``'s, shared with the other browser tests) comes first: it
    installs Chromium if need be, so a machine without it is skipped, or fails in CI, in
    seconds, not after the demo."""
    base = tmp_path_factory.mktemp("page")
    home, dagster_home = base / "home", base / "dagster"
    dagster_home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = _env(home, dagster_home)
    started = time.monotonic()
    _cli(env, "demo", "--hours", "6", "--until", DEMO_UNTIL, timeout=DEMO_TIMEOUT_S)
    print(f"demo filled {home} in {time.monotonic() - started:.0f} s")
    token = _cli(env, "token", "create", "e2e").strip()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _url_line(proc)
        match = re.match(r"comet-pipeline viewer: (http://\S+/) ", line)
        assert match, line
        yield Served(match.group(1).rstrip("/"), home, token, env)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _frame_times_while_playing(page, count: int) -> list[str]:
    """Press Play at 10 frames/s and collect what #frame-time shows, ``count`` changes."""
    page.evaluate(
        """() => {
          const el = document.getElementById("frame-time");
          window.__times = [el.textContent];
          new MutationObserver(() => {
            const t = el.textContent;
            if (t !== window.__times[window.__times.length - 1]) window.__times.push(t);
          }).observe(el, { childList: true, characterData: true, subtree: true });
        }"""
    )
    page.fill("#speed", "10")
    page.click("#play")
    # a function, not an expression: Playwright evals expressions, which the page's CSP forbids
    page.wait_for_function("n => window.__times.length > n", arg=count, timeout=WAIT_MS)
    page.keyboard.press(" ")  # the focused Play button's own click: it pauses
    expect = playwright_api().expect
    expect(page.locator("#play")).to_have_text("Play")
    return page.evaluate("window.__times")


def _newest_c3(served: Served) -> str:
    reply = requests.get(f"{served.url}/api/frames?detector=c3&limit=500", timeout=10)
    return reply.json()["items"][-1]["name"]


def _frame(served: Served, detector: str, name: str) -> dict[str, Any]:
    reply = requests.get(f"{served.url}/api/frames?detector={detector}&limit=500", timeout=10)
    return next(f for f in reply.json()["items"] if f["name"] == name)


def test_a_hunter_plays_frames_and_rejects_the_top_candidate(served, browser):
    expect = playwright_api().expect
    shots = artifacts_dir()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(served.url + "/")

    # the newest C2 frame is shown, and first-frame marked once it is
    page.wait_for_function("() => performance.getEntriesByName('first-frame').length === 1")
    image = page.locator("#player-image")
    expect(image).to_have_attribute("data-frame-name", re.compile(r"\.fts$"))
    expect(page.locator("#detector-c2")).to_have_attribute("aria-pressed", "true")

    started = time.monotonic()
    times = _frame_times_while_playing(page, 10)
    print(f"ten frames played in {time.monotonic() - started:.1f} s (10 frames/s asked)")
    changes = list(zip(times, times[1:], strict=False))[:10]
    assert len(changes) == 10 and all(a != b for a, b in changes), times
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", t) for t in times), times

    # C3, running difference: the newest C3 frame's difference product
    page.click("#detector-c3")
    expect(page.locator("#detector-c3")).to_have_attribute("aria-pressed", "true")
    expect(image).to_have_attribute("data-frame-name", _newest_c3(served))
    page.select_option("#product", "difference")
    expect(image).to_have_attribute("src", re.compile(r"/difference(_preview|_png)$"))
    rows = page.locator("#candidate-list [data-candidate-id]")
    expect(rows.first).to_be_visible()
    page.screenshot(path=str(shots / "player.png"))

    # live: the next hour arrives while the page is open; it follows the new newest frame
    # and the top candidate's row grows, without a reload
    _cli(served.env, "demo", "--hours", "1", "--until", LIVE_UNTIL, timeout=DEMO_TIMEOUT_S)
    api = requests.Session()
    c3 = api.get(f"{served.url}/api/candidates?detector=c3", timeout=10).json()["items"]
    assert c3, f"the demo window ending {LIVE_UNTIL} found no C3 candidate to review"
    top = api.get(f"{served.url}{c3[0]['url']}", timeout=10).json()
    expect(image).to_have_attribute("data-frame-name", _newest_c3(served), timeout=POLL_WAIT_MS)
    top_row = page.locator("#candidate-list tr").first
    expect(top_row).to_contain_text(f"{top['id']}")
    expect(top_row.locator("td").nth(4)).to_have_text(str(top["n_frames"]), timeout=POLL_WAIT_MS)

    # the list is the API's ranking; opening the top candidate shows its first detection
    expect(rows.first).to_have_attribute("data-candidate-id", top["id"])
    first = top["detections"][0]
    rows.first.click()
    expect(page).to_have_url(re.compile(r"#/candidates/"))
    expect(page.locator("#report-text")).to_contain_text(f"Camera: {top['detector'].upper()}")
    expect(image).to_have_attribute("data-frame-name", first["file"])  # the player jumps there
    # a row of the positions table shows its frame: the second detection's, with a difference
    target = top["detections"][1]
    page.locator("#positions tr").nth(1).click()
    expect(image).to_have_attribute("data-frame-name", target["file"])
    expect(image).to_have_attribute("src", re.compile(r"/difference(_preview|_png)$"))
    expect(page.locator("#frame-time")).to_have_text(target["observed_at"])
    box = page.locator("#stage").bounding_box()
    assert box is not None
    # FITS (x, y) of that frame's array (its size, its roll) -> displayed 1024 pixel -> CSS
    # pixel of the 512 player
    frame = _frame(served, top["detector"], target["file"])
    n1, n2 = frame["naxis1"] or 1024, frame["naxis2"] or 1024
    roll = frame["roll_deg"] or 0.0
    ix, iy = round(target["x"]), round(target["y"])
    px, py = fits_to_png(ix, iy, n1, n2, roll_deg=roll, size=1024)
    scale = box["width"] / 1024
    at = (box["x"] + (px + 0.5) * scale, box["y"] + (py + 0.5) * scale)
    page.mouse.move(*at)
    readout = page.locator("#readout")
    expect(readout).to_have_text(re.compile(r"x \d+, y \d+"))
    x, y = map(int, re.findall(r"\d+", readout.inner_text()))
    # within a pixel: an unbinned array pixel is half a CSS pixel at 1x
    assert abs(x - ix) <= 1 and abs(y - iy) <= 1, (readout.inner_text(), target, frame)
    page.mouse.click(*at)
    stamp = target["observed_at"][11:16]
    expect(page.locator("#draft-report")).to_have_value(re.compile(rf"\n{stamp} {x}, {y}\n$"))

    # the verdict: a token in the settings panel, a note, Reject; then the store has it
    page.click("#settings summary")
    page.fill("#token", served.token)
    page.click("#settings summary")
    page.fill("#review-note", "e2e: a star, not a comet")
    page.click("#mark-rejected")
    expect(page.locator("#cand-status")).to_have_text("rejected")
    expect(page.locator("#mark-rejected")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#mark-rejected")).to_be_enabled()
    expect(page.locator("#reviews")).to_contain_text("e2e: a star, not a comet")
    expect(page.locator("#status")).to_contain_text(f"{top['id']} marked rejected")
    page.mouse.move(*at)  # the crosshair, for the picture
    page.screenshot(path=str(shots / "candidate.png"))
    print(f"screenshots: {shots / 'player.png'} and {shots / 'candidate.png'}")

    store = SQLiteStore(served.home / "lifecycle.db", read_only=True)
    try:
        found = {c.id: c for c in store.candidates()}
    finally:
        store.close()
    assert found[top["id"]].status == "rejected"
    assert errors == [], errors


# ---- the page against a fake viewer --------------------------------------------------

FAKE = "http://viewer.test"
STEP = timedelta(minutes=12)
#: Every fake frame is binned (512 array pixels a side) and rolled by 180°.
BINNED, ROLL = 512, 180.2
GOOD_TOKEN = "good-token"


def _png(size: int = 8, value: int = 90) -> bytes:
    """A small grey PNG (the browser scales it up like any product)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + bytes([value]) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fake_frame(at: datetime) -> dict[str, Any]:
    name = f"c2_{at:%Y%m%d_%H%M}.fts"
    stem = name.removesuffix(".fts")
    products = {
        p: f"/img/{stem}.{p}.png"
        for p in ("preview", "processed_png", "difference_preview", "calibrated_preview")
    }
    return {
        "name": name,
        "detector": "c2",
        "observed_at": _iso(at),
        "roll_deg": ROLL,
        "naxis1": BINNED,
        "naxis2": BINNED,
        "url": f"/api/frames/{name}",
        "products": products,
    }


def _fake_candidate(cid: str, frames: list[dict[str, Any]], xy: list[tuple[float, float]]):
    detections = [
        {
            "file": f["name"],
            "observed_at": f["observed_at"],
            "x": x,
            "y": y,
            "snr": 9.0,
            "flux": 1.0,
        }
        for f, (x, y) in zip(frames, xy, strict=True)
    ]
    return {
        "id": cid,
        "url": f"/api/candidates/{cid}",
        "detector": "c2",
        "status": "new",
        "known": None,
        "score": 5.0,
        "snr": 9.0,
        "n_frames": len(frames),
        "speed_px_per_hour": 10.0,
        "direction_deg": 90.0,
        "first_seen_at": frames[0]["observed_at"],
        "last_seen_at": frames[-1]["observed_at"],
        "updated_at": frames[-1]["observed_at"],
        "cutout_url": None,
        "report_text": f"Camera: C2  (fake) {cid}",
        "detections": detections,
        "reviews": [],
    }


@dataclass
class FakeViewer:
    """The viewer's API as far as the page uses it, answered by Playwright's router.

    The newest frames are ``recent`` (an hour of them); ``gap`` (14 h earlier) are in the
    store but older than the page's 12 h, and ``old`` a week before that: the candidate
    ``c2-recent`` has detections on ``gap`` and ``recent`` frames, ``c2-old`` on ``old``
    ones. With ``token`` set, every API and image request needs it."""

    token: str | None = None
    frames: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        newest = datetime(2026, 3, 1, 11, 48, tzinfo=UTC)
        self.recent = [_fake_frame(newest - k * STEP) for k in range(9, -1, -1)]
        self.gap = [_fake_frame(newest - timedelta(hours=14) + k * STEP) for k in range(2)]
        self.old = [_fake_frame(newest - timedelta(days=7) + k * STEP) for k in range(5)]
        self.frames = self.old + self.gap + self.recent
        on = self.gap + self.recent[-3:]
        recent = _fake_candidate("c2-recent", on, [(300 - 30 * i, 100 + 30 * i) for i in range(5)])
        old = _fake_candidate("c2-old", self.old, [(50 + 5 * i, 400) for i in range(5)])
        self.candidates = [recent, old]

    def add_frame(self) -> dict[str, Any]:
        frame = _fake_frame(datetime.fromisoformat(self.frames[-1]["observed_at"]) + STEP)
        self.frames.append(frame)
        return frame

    def handle(self, route: Any) -> None:
        request = route.request
        parts = urlsplit(request.url)
        path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append(path)
        if path == "/":
            html = (STATIC_DIR / "index.html").read_text().replace(VERSION_MARK, "fake")
            return self._reply(route, 200, html.encode(), "text/html; charset=utf-8")
        if path.startswith("/static/fake/"):
            file = STATIC_DIR / path.removeprefix("/static/fake/")
            kind = "text/css" if file.suffix == ".css" else "text/javascript"
            return self._reply(route, 200, file.read_bytes(), f"{kind}; charset=utf-8")
        sent = request.headers.get("authorization")
        if self.token and sent != f"Bearer {self.token}":
            return self._json(route, 401, {"message": "a valid viewer token is needed"})
        if path.startswith("/img/"):
            garbage = "garbage" in path
            return self._reply(route, 200, b"not a png" if garbage else _png(), "image/png")
        if path == "/api/health":
            return self._json(route, 200, {"store": {"reachable": True}})
        if path == "/api/frames":
            return self._json(route, 200, {"items": self._frames(query), "next_cursor": None})
        if path == "/api/candidates":
            summaries = [
                {k: v for k, v in c.items() if k not in ("detections", "reviews")}
                for c in self.candidates
            ]
            return self._json(route, 200, {"items": summaries})
        for c in self.candidates:
            if path == c["url"]:
                return self._json(route, 200, c)
        return self._json(route, 404, {"message": f"no {path}"})

    def _frames(self, query: dict[str, str]) -> list[dict[str, Any]]:
        chosen = [
            f
            for f in self.frames
            if f["observed_at"] >= query.get("since", "")[:19]
            and ("until" not in query or f["observed_at"] < query["until"][:19])
        ]
        if query.get("order") == "newest":
            chosen = chosen[::-1]
        return chosen[: int(query.get("limit", "500"))]

    def _json(self, route: Any, status: int, body: Any) -> None:
        self._reply(route, status, json.dumps(body).encode(), "application/json")

    def _reply(self, route: Any, status: int, body: bytes, content_type: str) -> None:
        headers = {
            "content-type": content_type,
            "cache-control": "no-store",
            "content-security-policy": CONTENT_SECURITY_POLICY,
        }
        route.fulfill(status=status, headers=headers, body=body)


#: Counts the blob: URLs the page makes and revokes (images fetched with the token).
COUNT_BLOBS = """
  window.__blobs = { made: 0, revoked: 0 };
  const make = URL.createObjectURL.bind(URL);
  const revoke = URL.revokeObjectURL.bind(URL);
  URL.createObjectURL = (b) => { window.__blobs.made += 1; return make(b); };
  URL.revokeObjectURL = (u) => { window.__blobs.revoked += 1; return revoke(u); };
"""


def _fake_page(browser: Any, fake: FakeViewer, init: str = "") -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.clock.install()  # polls (every 10 s) come when the test fast-forwards
    page.add_init_script(COUNT_BLOBS + init)
    page.route(re.compile(rf"^{re.escape(FAKE)}/"), fake.handle)
    page.goto(f"{FAKE}/")
    return page, errors


def _module(page: Any, name: str) -> str:
    """The URL the page imported module ``name`` by (the same instance, state and all)."""
    return page.evaluate(
        "n => document.querySelector('script[type=module]').src.replace('viewer.js', n)", name
    )


def _check_mapping(page: Any) -> None:
    """player.js's display <-> array mapping is orientation.py's, rolled and binned too."""
    frames = [
        {"naxis1": n, "naxis2": n, "roll_deg": roll}
        for n in (1024, 512, 256)
        for roll in (0.0, 180.0, -179.5, 3.0)
    ] + [{"naxis1": None, "naxis2": None, "roll_deg": None}]
    points = [(0.0, 0.0), (0.3, 1023.9), (511.5, 100.25), (1000.2, 17.0), (1023.99, 1023.99)]
    got = page.evaluate(
        """async ([url, frames, points]) => {
          const m = await import(url);
          return frames.map((f) => points.map(([u, v]) => ({
            array: m.displayToArray(u, v, f),
            pixel: m.arrayPixelAt(u, v, f),
            back: m.arrayToDisplay(...m.displayToArray(u, v, f), f),
            centre: m.arrayToDisplay(...m.arrayPixelAt(u, v, f), f),
          })));
        }""",
        [_module(page, "player.js"), frames, points],
    )
    for frame, rows in zip(frames, got, strict=True):
        n = frame["naxis1"] or 1024
        roll = frame["roll_deg"] or 0.0
        for (u, v), row in zip(points, rows, strict=True):
            where = (frame, (u, v), row)
            # display pixel j covers [j, j+1): its index coordinate is u - 0.5
            want = png_to_fits(u - 0.5, v - 0.5, n, n, roll_deg=roll, size=1024)
            assert row["array"] == pytest.approx(list(want), abs=1e-9), where
            assert row["back"] == pytest.approx([u, v], abs=1e-9), where
            cell = [math.floor(u * n / 1024), math.floor(v * n / 1024)]
            pixel = png_to_fits(cell[0], cell[1], n, n, roll_deg=roll)
            assert row["pixel"] == [round(c) for c in pixel], where
            centre = fits_to_png(*pixel, n, n, roll_deg=roll, size=1024)
            assert row["centre"] == pytest.approx([c + 0.5 for c in centre], abs=1e-9), where
    # the two days that matter, by hand: rolled 1024, and binned 512 (unrolled)
    assert got[1][2]["pixel"] == [512, 100]  # (1023 - 511, 100)
    assert got[4][2]["pixel"] == [255, 461]  # (255, 511 - 50)


def test_rolled_binned_frames_keys_and_tokens_against_a_fake_viewer(browser):
    expect = playwright_api().expect
    fake = FakeViewer()
    page, errors = _fake_page(browser, fake)
    image = page.locator("#player-image")
    newest = fake.recent[-1]
    expect(image).to_have_attribute("data-frame-name", newest["name"])
    expect(page.locator("#array-size")).to_have_text(f"{BINNED}×{BINNED}")
    _check_mapping(page)

    # the overlays on a rolled, binned day: every detection (those on frames the player
    # has not loaded too) and the ring on this frame's, mapped as the displayed frame is
    def drawn(selector: str) -> list[list[float]]:
        return page.eval_on_selector_all(
            f"#overlay .track {selector}",
            "els => els.map(e => [+e.getAttribute('cx'), +e.getAttribute('cy')])",
        )

    def shown_at(det: dict[str, Any]) -> list[float]:
        x, y = fits_to_png(det["x"], det["y"], BINNED, BINNED, roll_deg=ROLL, size=1024)
        return [x + 0.5, y + 0.5]

    dets = fake.candidates[0]["detections"]
    expect(page.locator("#overlay .track .here")).to_have_count(1)

    def rounded(points: list[list[float]]) -> list[tuple[float, ...]]:
        return sorted(tuple(round(c, 6) for c in p) for p in points)

    assert rounded(drawn(".here")) == rounded([shown_at(dets[-1])])
    assert rounded(drawn(".det")) == rounded([shown_at(d) for d in dets[:-1]])
    # x 300 of 512 mirrored to 211 (display 423), not drawn as unrolled (display 601)
    assert shown_at(dets[0])[0] == 423.0

    # the pointer over array pixel (123, 45) of that frame: the readout and the draft
    box = page.locator("#stage").bounding_box()
    assert box is not None
    px, py = fits_to_png(123, 45, BINNED, BINNED, roll_deg=ROLL, size=1024)
    at = (box["x"] + (px + 0.5) * box["width"] / 1024, box["y"] + (py + 0.5) * box["height"] / 1024)
    page.mouse.move(*at)
    expect(page.locator("#readout")).to_have_text("x 123, y 45")
    page.mouse.click(*at)
    draft = page.locator("#draft-report")
    expect(draft).to_have_value(re.compile(rf"Image {BINNED}x{BINNED}, .*\n11:48 123, 45\n$"))

    # keys on focused controls are theirs: space opens Settings (and plays nothing), space
    # on a focused button clicks it; the shortcuts work elsewhere
    page.focus("#settings summary")
    page.keyboard.press(" ")
    expect(page.locator("#settings")).to_have_attribute("open", "")
    expect(page.locator("#play")).to_have_text("Play")
    page.keyboard.press(" ")
    expect(page.locator("#settings")).not_to_have_attribute("open", "")
    page.focus("#step-back")
    page.keyboard.press(" ")
    expect(image).to_have_attribute("data-frame-name", fake.recent[-2]["name"])
    expect(page.locator("#play")).to_have_text("Play")
    page.keyboard.press("End")
    expect(image).to_have_attribute("data-frame-name", newest["name"])

    # calibrated has no 1024 px product: zoomed, its 512 px preview, and the page says so
    note = page.locator("#zoom-note")
    page.select_option("#product", "calibrated")
    page.click("#zoom-2")
    expect(image).to_have_attribute("src", re.compile(r"\.calibrated_preview\.png$"))
    expect(note).to_be_visible()
    expect(note).to_have_text("calibrated: 512 px preview")
    page.screenshot(path=str(artifacts_dir() / "player-fake-rolled-binned.png"))
    page.select_option("#product", "processed")
    expect(image).to_have_attribute("src", re.compile(r"\.processed_png\.png$"))
    expect(note).to_be_hidden()
    page.click("#zoom-1")

    # an old candidate shows its own hours; back at the list the player is live again: the
    # newest frames, and the next one when it arrives
    page.goto(f"{FAKE}/#/candidates/c2-old")
    expect(image).to_have_attribute("data-frame-name", fake.old[0]["name"])
    page.click("#back")
    expect(image).to_have_attribute("data-frame-name", newest["name"])
    arrived = fake.add_frame()
    page.clock.fast_forward(11_000)
    expect(image).to_have_attribute("data-frame-name", arrived["name"])
    assert errors == [], errors


def test_a_refused_token_pauses_live_updates_until_it_is_changed(browser):
    expect = playwright_api().expect
    fake = FakeViewer(token=GOOD_TOKEN)
    revoked = "localStorage.setItem('comet_pipeline.viewer.token', 'revoked');"
    page, errors = _fake_page(browser, fake, init=revoked)
    expect(page.locator("#settings")).to_have_attribute("open", "")
    expect(page.locator("#status")).to_contain_text("Settings")
    page.wait_for_timeout(500)  # the first load's requests, all refused
    asked = len([r for r in fake.requests if r.startswith(("/api/", "/img/"))])
    assert asked <= 3, fake.requests  # the tokenless try, the token's, and no more
    page.clock.fast_forward(35_000)  # three polls
    expect(page.locator("#status")).to_contain_text("live updates paused")
    expect(page.locator("#live")).to_have_text("paused")
    page.wait_for_timeout(500)
    assert len([r for r in fake.requests if r.startswith(("/api/", "/img/"))]) == asked

    # a new token: the frames come (fetched with it: blob: URLs), and polling resumes
    page.fill("#token", GOOD_TOKEN)
    page.keyboard.press("Tab")  # "change"
    image = page.locator("#player-image")
    expect(image).to_have_attribute("data-frame-name", fake.recent[-1]["name"])
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    page.clock.fast_forward(11_000)
    expect(page.locator("#live")).to_have_text("live")

    # no blob: URL outlives its cache entry: more images than the cache keeps (loading at
    # once, so some are evicted while loading), and one that does not decode
    urls = [f"/img/bulk-{i}.png" for i in range(200)] + ["/img/garbage.png"]
    page.evaluate(
        "async ([url, urls]) => { const m = await import(url);"
        " await Promise.allSettled(urls.map((u) => m.loadImage(u))); }",
        [_module(page, "api.js"), urls],
    )
    stats = page.evaluate(
        """async (url) => {
          const m = await import(url);
          const deadline = performance.now() + 10000;
          let s = m.imageCacheStats();
          const live = () => window.__blobs.made - window.__blobs.revoked;
          while (live() !== s.blobs && performance.now() < deadline) {
            await new Promise((r) => requestAnimationFrame(r));
            s = m.imageCacheStats();
          }
          return { ...s, ...window.__blobs };
        }""",
        _module(page, "api.js"),
    )
    assert stats["made"] > 200 and stats["made"] - stats["revoked"] == stats["blobs"], stats
    assert stats["size"] <= 160, stats
    # the refusals are the only errors: the browser logs each 401 it was answered
    assert [e for e in errors if "401" not in e] == [], errors
