"""Viewer API latency over 30 days of frames, and the page's time to first frame (issue 12).

The store is a real SQLite file in a temporary COMET_HOME, filled through the store's own
API the way the pipeline fills it: files registered, claimed and walked to PROCESSED, each
frame recorded with every registry product; C2 every 12 min and C3 every 16 min (210
synoptic images a day), three candidates per detector per day with 6-12 detections each.
The newest day of each detector's frames gets real 512 px preview PNGs (the pipeline's
encoder, noise over an occulted disc); the other product files are recorded, not written.

The viewer is ``comet-pipeline serve --port 0`` in a subprocess (so the client does not
share its GIL), called over one keep-alive ``requests.Session``. Every response is checked
(status, item count, the very frames expected), so a broken endpoint cannot look fast.
The time to first frame is ``performance.mark('first-frame')`` of the page at ``/`` in
headless Chromium (Playwright), median over cold loads, each in a new browser context.
Figures are noisy on a shared 2-core machine.
"""

from __future__ import annotations

import bisect
import os
import queue
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import requests

from benchmarks._util import median_ms
from comet_pipeline.domain import (
    ArchiveFile,
    CandidateRecord,
    DetectionRecord,
    Detector,
    FileState,
    Frame,
    ProductFile,
)
from comet_pipeline.imaging.png import PREVIEW_SIZE, write_png
from comet_pipeline.imaging.products.registry import (
    BY_NAME,
    FITS,
    PREVIEW,
    PRODUCTS,
    product_paths,
)
from comet_pipeline.settings import HomeLayout
from comet_pipeline.store import SQLiteStore

if TYPE_CHECKING:
    from playwright.sync_api import Browser

DAYS = 30
CADENCE = {Detector.C2: timedelta(minutes=12), Detector.C3: timedelta(minutes=16)}
CANDIDATES_PER_DETECTOR_DAY = 3
DETECTIONS_PER_CANDIDATE = (6, 12)
PREVIEW_HOURS = 24  # the newest frames with a real preview PNG on disk (the page's range)

PAGE = 100
FRAME_STARTS = 100  # random ``since`` within the 30 days, each followed for PAGES_PER_START
PAGES_PER_START = 4
CANDIDATE_REQUESTS = 320
HEALTH_REQUESTS = 100  # on the page's path to its first frame
CANDIDATE_FILTERS = ("all", "detector", "detector+window", "window")  # taken in turn
WARMUP = 30
TARGET_P99_MS = 50.0
PAGE_LOADS = 7
FIRST_FRAME_TIMEOUT_MS = 30_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 60.0
SEED = 12


@dataclass
class Stocked:
    """What was put in the store, to check the answers against."""

    frames: dict[Detector, list[tuple[datetime, str]]]  # time order
    candidates: list[CandidateRecord]
    detections: int
    previews: list[Path] = field(default_factory=list)


# -- building the store --------------------------------------------------------------------


def _files(end: datetime, rng: random.Random) -> dict[Detector, list[ArchiveFile]]:
    """30 days of synoptic images ending at ``end``; names as LASCO's (2xxxxxxx, 3xxxxxxx)."""
    start = end - timedelta(days=DAYS)
    out: dict[Detector, list[ArchiveFile]] = {}
    for d, (detector, step) in enumerate(CADENCE.items()):
        n = int(timedelta(days=DAYS) / step)
        offset = timedelta(minutes=5 * d)
        out[detector] = [
            ArchiveFile(
                name=f"{2 + d}{i:07d}.fts",
                detector=detector,
                observed_at=start + offset + i * step + timedelta(seconds=rng.randint(-20, 20)),
                exptime=25.1 if detector is Detector.C2 else 17.9,
                naxis1=1024,
                naxis2=1024,
                filter="Orange" if detector is Detector.C2 else "Clear",
                polarizer="Clear",
                program="Normal",
                arrived_at=start + offset + i * step + timedelta(minutes=rng.randint(40, 110)),
            )
            for i in range(n)
        ]
    return out


def _recorded_bytes(product: str) -> int:
    """A typical size for a product file that is recorded but not written: a 1024 px float32
    FITS, or a grey PNG of noise at 1024, 512 (preview) or 256 px (thumbnail)."""
    spec = BY_NAME[product]
    if spec.content_type == FITS:
        return 4_213_440
    if ".thumb" in spec.suffix:
        return 46_000
    return 175_000 if ".preview" in spec.suffix else 680_000


def _frame(f: ArchiveFile, frames_dir: Path, rng: random.Random) -> Frame:
    """The frame the imaging pipeline would record: every product, its path and size."""
    paths = product_paths(frames_dir, f.detector, f.observed_at, f.name)
    return Frame(
        f.name,
        f.detector,
        f.observed_at,
        products={p: ProductFile(str(path), _recorded_bytes(p)) for p, path in paths.items()},
        stats={
            "median": round(rng.uniform(3.0, 4.0), 3),
            "noise_sigma": round(rng.uniform(0.2, 0.3), 4),
            "masked_fraction": 0.21,
            "saturated_fraction": 0.0,
            "missing_blocks": 0,
        },
        background_kind="rolling",
        background_frames=24,
    )


def _process(
    store: SQLiteStore, day: list[ArchiveFile], frames_dir: Path, rng: random.Random
) -> None:
    """One day of files through the lifecycle: registered, downloaded, processed (in bulk
    where the store offers it: registration and the two claims)."""
    at = max(f.arrived_at or f.observed_at for f in day) + timedelta(minutes=5)
    names = [f.name for f in day]
    store.register_files(day, now=at, run_id="bench")
    got = store.claim(target=FileState.DOWNLOADING, owner="bench-dl", now=at, names=names)
    assert len(got) == len(day), f"claimed {len(got)} of {len(day)} for download"
    for f in day:
        raw = f"raw/{f.detector.value}/{f.day_dir}/{f.name}"
        ok = store.transition(
            f.name,
            FileState.DOWNLOADED,
            now=at + timedelta(minutes=1),
            owner="bench-dl",
            expected=FileState.DOWNLOADING,
            sha256=f"{rng.getrandbits(256):064x}",
            raw_path=raw,
        )
        ok = ok and store.transition(f.name, FileState.READY, now=at + timedelta(minutes=1))
        assert ok, f"{f.name} did not reach READY"
    got = store.claim(
        target=FileState.PROCESSING, owner="bench-px", now=at + timedelta(minutes=2), names=names
    )
    assert len(got) == len(day), f"claimed {len(got)} of {len(day)} for processing"
    for f in day:
        done = store.complete_processing(
            _frame(f, frames_dir, rng), owner="bench-px", now=at + timedelta(minutes=3)
        )
        assert done, f"{f.name} did not reach PROCESSED"


def _candidates(
    store: SQLiteStore,
    files: dict[Detector, list[ArchiveFile]],
    layout: HomeLayout,
    rng: random.Random,
) -> tuple[list[CandidateRecord], int]:
    """A few candidates per detector per day, each a straight track over consecutive frames."""
    records: list[CandidateRecord] = []
    n_detections = 0
    for detector, day_files in files.items():
        per_day = int(timedelta(days=1) / CADENCE[detector])
        for day in range(DAYS):
            for k in range(CANDIDATES_PER_DETECTOR_DAY):
                n = rng.randint(*DETECTIONS_PER_CANDIDATE)
                first = day * per_day + rng.randrange(per_day - n)
                track = day_files[first : first + n]
                x0, y0 = rng.uniform(100, 900), rng.uniform(100, 900)
                dx, dy = rng.uniform(-6, 6), rng.uniform(-6, 6)
                seq = day * CANDIDATES_PER_DETECTOR_DAY + k + 1  # unique per detector
                cid = f"{detector.value}-{track[0].observed_at:%Y%m%d}-{seq:04d}"
                dets = [
                    DetectionRecord(
                        f.name,
                        f.observed_at,
                        round(x0 + i * dx, 2),
                        round(y0 + i * dy, 2),
                        flux=round(rng.uniform(50, 400), 1),
                        snr=round(rng.uniform(3, 12), 2),
                    )
                    for i, f in enumerate(track)
                ]
                record = CandidateRecord(
                    id=cid,
                    detector=detector.value,
                    first_seen_at=track[0].observed_at,
                    last_seen_at=track[-1].observed_at,
                    n_frames=n,
                    score=round(rng.uniform(0.1, 1.0), 4) if rng.random() > 0.05 else None,
                    snr=round(rng.uniform(4, 15), 2),
                    speed_px_per_hour=round(rng.uniform(2, 30), 2),
                    direction_deg=round(rng.uniform(0, 360), 1),
                    status=rng.choices(["new", "rejected", "confirmed"], [8, 3, 1])[0],
                    report_text="\n".join(
                        f"{detector.value.upper()} {d.file} {d.x:.1f} {d.y:.1f}" for d in dets
                    ),
                    cutout_path=str(layout.products_dir / "candidates" / f"{cid}.png"),
                    known="known: venus" if rng.random() < 0.03 else None,
                )
                at = track[-1].arrived_at or track[-1].observed_at
                store.upsert_candidate(record, now=at)
                n_detections += store.replace_detections(cid, dets)
                records.append(record)
    return records, n_detections


def _previews(files: dict[Detector, list[ArchiveFile]], frames_dir: Path, seed: int) -> list[Path]:
    """Real 512 px preview PNGs for the newest day of frames: noise over a smooth corona, the
    occulter and the corners masked to one grey (what the pipeline's encoder then sees)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:PREVIEW_SIZE, :PREVIEW_SIZE]
    r = np.hypot(xx - PREVIEW_SIZE / 2, yy - PREVIEW_SIZE / 2) / (PREVIEW_SIZE / 2)
    corona = 40 + 120 * np.exp(-3 * np.clip(r - 0.25, 0, None))
    masked = (r < 0.25) | (r > 1.0)
    written = []
    for detector, day_files in files.items():
        cutoff = day_files[-1].observed_at - timedelta(hours=PREVIEW_HOURS)
        for f in (f for f in day_files if f.observed_at > cutoff):
            pixels = corona + rng.normal(0, 14, corona.shape)
            pixels[masked] = 0
            path = product_paths(frames_dir, detector, f.observed_at, f.name)[PREVIEW]
            path.parent.mkdir(parents=True, exist_ok=True)
            written.append(write_png(np.clip(pixels, 0, 255).astype(np.uint8), path))
    return written


def _build(layout: HomeLayout, end: datetime) -> tuple[Stocked, dict[str, object]]:
    rng = random.Random(SEED)
    files = _files(end, rng)
    start = time.perf_counter()
    store = SQLiteStore(layout.lifecycle_db)
    try:
        for day in range(DAYS):
            for detector, day_files in files.items():
                per_day = int(timedelta(days=1) / CADENCE[detector])
                _process(
                    store, day_files[day * per_day : (day + 1) * per_day], layout.frames_dir, rng
                )
        frames_s = time.perf_counter() - start
        candidates, n_detections = _candidates(store, files, layout, rng)
        totals = store.summary().totals
    finally:
        store.close()
    cands_s = time.perf_counter() - start - frames_s
    previews = _previews(files, layout.frames_dir, SEED)
    previews_s = time.perf_counter() - start - frames_s - cands_s
    stocked = Stocked(
        frames={d: [(f.observed_at, f.name) for f in fs] for d, fs in files.items()},
        candidates=candidates,
        detections=n_detections,
        previews=previews,
    )
    held = {
        "days": DAYS,
        "cadence_min": {d.value: step.total_seconds() / 60 for d, step in CADENCE.items()},
        "frames": {d.value: len(fs) for d, fs in files.items()},
        "frames_per_day": sum(len(fs) for fs in files.values()) / DAYS,
        "product_rows": sum(len(fs) for fs in files.values()) * len(PRODUCTS),
        "transitions": totals["transitions"],
        "candidates": len(candidates),
        "detections": n_detections,
        "preview_pngs_on_disk": len(previews),
        "preview_png_kb_median": round(statistics.median(p.stat().st_size for p in previews) / 1e3),
        "db_mb": round(layout.lifecycle_db.stat().st_size / 1e6, 1),
        "build_s": {
            "frames_lifecycle": round(frames_s, 1),
            "candidates": round(cands_s, 1),
            "preview_pngs": round(previews_s, 1),
        },
    }
    return stocked, held


# -- the server ----------------------------------------------------------------------------


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) ``pid`` has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _closed_port_url() -> str:
    """A loopback URL nothing listens on (a port the kernel just gave out, closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def _serving(home: Path, log: Path) -> Iterator[tuple[str, int]]:
    """``comet-pipeline serve --port 0`` over ``home``: yields its base URL and pid; stops it
    (SIGTERM, then SIGKILL after a grace period) whatever happens."""
    # no Dagster webserver: /api/health's GraphQL round trip is refused at once, whatever
    # else runs on this machine (a `make dev` on port 3000 would be asked otherwise)
    env = {**os.environ, "COMET_HOME": str(home), "COMET_DAGSTER_URL": _closed_port_url()}
    cmd = [sys.executable, "-m", "comet_pipeline.cli.main", "serve", "--port", "0"]
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err)
    try:
        lines: queue.Queue[str] = queue.Queue()

        def drain() -> None:  # the URL line, then anything else, so the pipe never fills
            assert proc.stdout is not None
            for raw in proc.stdout:
                lines.put(raw.decode(errors="replace"))

        threading.Thread(target=drain, daemon=True).start()
        try:
            first = lines.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            raise RuntimeError(f"the viewer printed no URL: {log.read_text()[-2000:]}") from None
        found = re.search(r"(http://\S+?)/ ", first)
        if found is None:
            raise RuntimeError(f"no URL in the viewer's first line: {first!r}")
        yield found.group(1), proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


# -- the API -------------------------------------------------------------------------------


def _figures(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p90_ms": round(q[89], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(max(samples), 2),
    }


def _get(session: requests.Session, url: str, params: dict[str, str]) -> tuple[float, dict, int]:
    start = time.perf_counter()
    response = session.get(url, params=params, timeout=30)
    elapsed = (time.perf_counter() - start) * 1000.0
    if response.status_code != 200:
        raise AssertionError(f"GET {response.url}: {response.status_code} {response.text[:300]}")
    return elapsed, response.json(), len(response.content)


def _frame_walks(stocked: Stocked, rng: random.Random, n: int) -> Iterator[datetime]:
    """The ``since`` of ``n`` walks (a random time, with room for PAGES_PER_START pages)."""
    c3 = stocked.frames[Detector.C3]
    room = PAGE * PAGES_PER_START
    first, last = c3[0][0], c3[-room - 1][0]
    for _ in range(n):
        since = first + timedelta(seconds=rng.randrange(int((last - first).total_seconds())))
        yield since.replace(microsecond=0)


def _frames_bench(
    session: requests.Session, base: str, pid: int, stocked: Stocked, rng: random.Random
) -> dict:
    """Walks of PAGES_PER_START pages from random ``since``; each page checked against the
    exact 100 frames expected."""
    c3 = stocked.frames[Detector.C3]
    times = [t for t, _ in c3]
    samples: list[float] = []
    sizes: list[int] = []

    def walk(since: datetime, record: bool) -> None:
        at = bisect.bisect_left(times, since)
        params = {"detector": "c3", "limit": str(PAGE), "since": since.isoformat()}
        for page in range(PAGES_PER_START):
            ms, body, size = _get(session, f"{base}/api/frames", params)
            want = [name for _, name in c3[at + page * PAGE : at + (page + 1) * PAGE]]
            got = [item["name"] for item in body["items"]]
            if got != want or body["next_cursor"] is None:
                raise AssertionError(f"frames page {page} from {since}: {got[:3]}... != {want[:3]}")
            if len(body["items"][0]["products"]) != len(PRODUCTS):
                raise AssertionError(f"a frame lists {body['items'][0]['products']}")
            params = {"detector": "c3", "limit": str(PAGE), "cursor": body["next_cursor"]}
            if record:
                samples.append(ms)
                sizes.append(size)

    for since in _frame_walks(stocked, rng, WARMUP // PAGES_PER_START + 1):
        walk(since, record=False)
    cpu = _cpu_s(pid)
    for since in _frame_walks(stocked, rng, FRAME_STARTS):
        walk(since, record=True)
    return {
        "requests": len(samples),
        "query": f"detector=c3&limit={PAGE}, random since then next_cursor x{PAGES_PER_START - 1}",
        **_figures(samples),
        "items": PAGE,
        "response_kb": round(statistics.median(sizes) / 1e3, 1),
        "server_cpu_ms_per_request": round((_cpu_s(pid) - cpu) * 1000 / len(samples), 2),
    }


def _health_bench(session: requests.Session, base: str, stocked: Stocked) -> dict:
    """``/api/health``: file counts by state and the newest frame of each detector."""
    total = sum(len(frames) for frames in stocked.frames.values())
    samples = []
    for n in range(WARMUP + HEALTH_REQUESTS):
        ms, body, size = _get(session, f"{base}/api/health", {})
        counted = sum(body["files_by_state"].values())
        if not body["store"]["reachable"] or counted != total:
            raise AssertionError(f"health: {body['store']}, {counted} files of {total}")
        if n >= WARMUP:
            samples.append(ms)
    return {"requests": len(samples), **_figures(samples), "response_kb": round(size / 1e3, 1)}


def _candidate_queries(stocked: Stocked, rng: random.Random) -> Iterator[dict[str, str]]:
    first = min(c.first_seen_at for c in stocked.candidates)
    span = int((max(c.last_seen_at for c in stocked.candidates) - first).total_seconds())
    i = 0
    while True:
        kind = CANDIDATE_FILTERS[i % len(CANDIDATE_FILTERS)]
        i += 1
        params = {"kind": kind}
        if "detector" in kind:
            params["detector"] = rng.choice(["c2", "c3"])
        if "window" in kind:
            since = first + timedelta(seconds=rng.randrange(span))
            days = 3 if "detector" in kind else 1
            params["since"] = since.replace(microsecond=0).isoformat()
            params["until"] = (since + timedelta(days=days)).replace(microsecond=0).isoformat()
        yield params


def _expected_candidates(stocked: Stocked, params: dict[str, str]) -> int:
    since = datetime.fromisoformat(params["since"]) if "since" in params else None
    until = datetime.fromisoformat(params["until"]) if "until" in params else None
    return sum(
        1
        for c in stocked.candidates
        if params.get("detector", c.detector) == c.detector
        and (since is None or c.last_seen_at >= since)
        and (until is None or c.first_seen_at < until)
    )


def _candidates_bench(
    session: requests.Session, base: str, pid: int, stocked: Stocked, rng: random.Random
) -> dict:
    samples: dict[str, list[float]] = {}
    sizes: dict[str, list[int]] = {}
    counts: dict[str, list[int]] = {}
    queries = _candidate_queries(stocked, rng)
    cpu = 0.0
    for n in range(WARMUP + CANDIDATE_REQUESTS):
        if n == WARMUP:
            cpu = _cpu_s(pid)
        params = next(queries)
        kind = params.pop("kind")
        ms, body, size = _get(session, f"{base}/api/candidates", params)
        want = _expected_candidates(stocked, params)
        if len(body["items"]) != want:
            raise AssertionError(f"candidates {params}: {len(body['items'])} items, want {want}")
        if n >= WARMUP:
            samples.setdefault(kind, []).append(ms)
            sizes.setdefault(kind, []).append(size)
            counts.setdefault(kind, []).append(want)
    cpu = _cpu_s(pid) - cpu
    every = [ms for kind in samples.values() for ms in kind]
    return {
        "requests": len(every),
        **_figures(every),
        "server_cpu_ms_per_request": round(cpu * 1000 / len(every), 2),
        "by_filter": {
            kind: {
                "requests": len(ms),
                **_figures(ms),
                "items_median": statistics.median(counts[kind]),
                "response_kb": round(statistics.median(sizes[kind]) / 1e3, 1),
            }
            for kind in CANDIDATE_FILTERS
            if (ms := samples.get(kind))
        },
    }


def _store_only(layout: HomeLayout, stocked: Stocked) -> dict[str, float]:
    """The same reads straight from the store in this process (no HTTP, no JSON): how much
    of an API request is the SQL."""
    store = SQLiteStore(layout.lifecycle_db, read_only=True)
    try:
        since = stocked.frames[Detector.C3][len(stocked.frames[Detector.C3]) // 2][0]
        until = datetime(9999, 1, 1, tzinfo=UTC)
        return {
            "frames_page_ms": median_ms(
                lambda: store.frames_page(Detector.C3, since, until, limit=PAGE + 1), repeat=51
            ),
            "candidates_all_ms": median_ms(lambda: store.candidates(), repeat=51),
        }
    finally:
        store.close()


# -- the page ------------------------------------------------------------------------------


def _page_missing(session: requests.Session, base: str) -> str | None:
    """Why the page cannot be measured here (no Playwright, Chromium or page), or None."""
    try:
        import playwright.sync_api  # noqa: F401  only whether it is there
    except ImportError:
        return "the playwright package is not installed"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}"
    page = session.get(f"{base}/", timeout=30)
    if page.status_code != 200 or "html" not in page.headers.get("content-type", ""):
        return f"no page at / yet (GET / -> {page.status_code})"
    return None


#: The current frame's <img>, once the browser has it decoded: [name, width, src], or null.
_SHOWN_JS = """() => {
  const i = document.querySelector('#player-image');
  return i && i.complete && i.naturalWidth > 0
    ? [i.dataset.frameName || '', i.naturalWidth, i.currentSrc] : null;
}"""


#: What the page fetched before its first frame: [path, start, end] in ms, in start order.
_TIMELINE_JS = """() => {
  const mark = performance.getEntriesByName('first-frame')[0].startTime;
  const nav = performance.getEntriesByType('navigation')[0];
  return [nav.domContentLoadedEventEnd, performance.getEntriesByType('resource')
    .filter((r) => r.startTime < mark)
    .map((r) => [new URL(r.name).pathname, Math.round(r.startTime), Math.round(r.responseEnd)])];
}"""


def _one_load(browser: Browser, url: str) -> tuple[float, list[object], list[object]]:
    """One cold load in a new context: the ``first-frame`` mark (ms from navigation start),
    what ``#player-image`` then shows, and [DOMContentLoaded, the fetches before the mark]."""
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(url, wait_until="commit")
        tab.wait_for_function(
            # a function, not an expression string: the page's CSP forbids eval
            "() => performance.getEntriesByName('first-frame').length > 0",
            timeout=FIRST_FRAME_TIMEOUT_MS,
        )
        mark = tab.evaluate("() => performance.getEntriesByName('first-frame')[0].startTime")
        shown = tab.wait_for_function(_SHOWN_JS, timeout=FIRST_FRAME_TIMEOUT_MS).json_value()
        return float(mark), shown, tab.evaluate(_TIMELINE_JS)
    finally:
        context.close()


def _first_frame(session: requests.Session, base: str, stocked: Stocked) -> dict[str, object]:
    """Median ``first-frame`` mark over cold loads of ``/``; null with the reason when the
    page, Playwright or Chromium is not there, or with the error when the page fails (never
    marks, or marks with no decoded frame in ``#player-image``)."""
    missing = _page_missing(session, base)
    if missing is not None:
        return {"time_to_first_frame_ms": None, "skipped": missing}
    from playwright.sync_api import sync_playwright

    with_preview = {p.name.split(".")[0] for p in stocked.previews}
    samples: list[float] = []
    loaded: list[float] = []
    shown: set[str] = set()
    timeline: list[object] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            try:
                for _ in range(PAGE_LOADS):
                    mark, (name, width, src), (dom, timeline) = _one_load(browser, f"{base}/")
                    if name.split(".")[0] not in with_preview:
                        raise AssertionError(f"the page shows {name!r} ({src}), no preview")
                    samples.append(mark)
                    loaded.append(dom)
                    shown.add(f"{name} ({width} px, {src.rsplit('/', 1)[-1]})")
            finally:
                browser.close()
    except Exception as err:  # a broken page is a finding, not a crashed bench
        return {"time_to_first_frame_ms": None, "error": f"{type(err).__name__}: {err}"[:500]}
    return {
        "time_to_first_frame_ms": round(statistics.median(samples), 1),
        "loads": len(samples),
        "samples_ms": [round(s, 1) for s in samples],
        "dom_content_loaded_ms": round(statistics.median(loaded), 1),
        "frames_shown": sorted(shown),
        "last_load_fetches_before_first_frame": timeline,
    }


def run() -> dict:
    end = datetime.now(UTC).replace(second=0, microsecond=0)  # the page looks at "now"
    with tempfile.TemporaryDirectory(prefix="bench_viewer_") as tmp:
        layout = HomeLayout(Path(tmp).resolve() / "home")
        stocked, held = _build(layout, end)
        store_only = _store_only(layout, stocked)
        rng = random.Random(SEED + 1)
        with (
            _serving(layout.home, Path(tmp) / "serve.log") as (base, pid),
            requests.Session() as session,
        ):
            session.trust_env = False  # loopback only, never a proxy
            frames = _frames_bench(session, base, pid, stocked, rng)
            candidates = _candidates_bench(session, base, pid, stocked, rng)
            health = _health_bench(session, base, stocked)
            page = _first_frame(session, base, stocked)
    for figures in (frames, candidates):
        figures["target_p99_ms"] = TARGET_P99_MS
        figures["meets_target"] = figures["p99_ms"] <= TARGET_P99_MS
    return {
        "store": held,
        "frames_api": frames,
        "candidates_api": candidates,
        "health_api": health,
        "store_only": store_only,
        "page": page,
        "machine": f"shared, {os.cpu_count()} cores",
    }


if __name__ == "__main__":
    print(run())
