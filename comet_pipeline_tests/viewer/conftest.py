"""The viewer under test is the real thing: the app on a real uvicorn server on a free
loopback port (in a thread; one for the session), over a real SQLite store in the settings'
home, called with ``requests``. ``stocked_store`` adds real product files under the home
to ``filled_store``. ``browser`` is the one headless Chromium the browser tests share."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import requests
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from comet_pipeline.domain import (
    ArchiveFile,
    CandidateRecord,
    DetectionRecord,
    Detector,
    FileState,
    Frame,
    ProductFile,
)
from comet_pipeline.settings import Settings
from comet_pipeline.store import LifecycleStore, SQLiteStore
from comet_pipeline.viewer import build_app
from comet_pipeline.viewer.server import bind, url_of
from comet_pipeline_tests.browser import chromium
from comet_pipeline_tests.shared import FILLED_NAMES, FILLED_TIMES, HOUR, NOW
from comet_pipeline_tests.store._helpers import path_to

#: The stocked frame: real products on disk, and a full lifecycle in the audit trail.
STOCKED_NAME = "32000010.fts"
STOCKED_AT = HOUR + timedelta(hours=3)
ARRIVED_AT = STOCKED_AT + timedelta(minutes=50)
PROCESSED_AT = STOCKED_AT + timedelta(minutes=55)
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
FITS_BYTES = b"SIMPLE  =                    T" + b" " * 2850
CUTOUT_BYTES = b"\x89PNG\r\n\x1a\n cutout strip"
CANDIDATE_ID = "c3-20250610-0001"
STARTUP_DEADLINE_S = 10.0


@dataclass
class Viewer:
    """A running viewer: its base URL and a session to call it with."""

    url: str
    settings: Settings
    app: FastAPI | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url + path, timeout=10, **kwargs)


class AppSwitch:
    """The ASGI app the shared server runs: each request goes to the current test's app.

    One real uvicorn server for the whole session, because stopping one costs uvicorn's
    fixed ~0.2 s of shutdown ticks, which per test would be most of this folder's time.
    """

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no viewer app is mounted for this test")
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def viewer_server() -> Iterator[tuple[AppSwitch, str]]:
    """A real uvicorn server on a free loopback port, in a thread, started (polled against a
    deadline, not slept for) before any test calls it."""
    switch = AppSwitch()
    sock = bind("127.0.0.1", 0)
    # lifespan off: the test apps come and go under a running server (serve_app closes them)
    server = uvicorn.Server(uvicorn.Config(switch, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the viewer's uvicorn server did not start")
        time.sleep(0.005)
    yield switch, url_of(sock).rstrip("/")
    server.should_exit = True
    thread.join(STARTUP_DEADLINE_S)
    assert not thread.is_alive(), "the viewer's uvicorn server did not stop"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (a Playwright ``Browser``) for every browser test module: the only
    place a test opens ``chromium()``.

    Playwright's sync API runs its own asyncio loop, the thread's running loop for as long as
    it is open, and refuses to start while a loop runs ("Sync API inside the asyncio loop"):
    two open at once in this thread cannot be. Module scope closes it (and takes its loop
    away) when the module's last test is done, so the next browser module opens its own and
    no later test in the session finds a stray running loop (``asyncio.run`` would refuse).
    """
    with chromium() as launched:
        yield launched


@pytest.fixture
def serve_app(viewer_server) -> Iterator[Callable[[FastAPI], str]]:
    """``serve_app(app)``: ``app`` answers on the shared real server until the test ends;
    returns the server's base URL."""
    switch, url = viewer_server
    mounted: list[FastAPI] = []

    def mount(app: FastAPI) -> str:
        mounted.append(app)
        switch.app = app
        return url

    yield mount
    switch.app = None
    for app in mounted:
        app.state.viewer.store.close()
        if app.state.viewer.writer is not None:
            app.state.viewer.writer.close()


def make_viewer(
    settings: Settings, serve_app: Callable[[FastAPI], str], *, reads_need_token: bool = False
) -> Viewer:
    """The app as ``comet-pipeline serve`` builds it (reads read-only, verdicts writable)."""
    app = build_app(
        settings,
        partial(SQLiteStore, read_only=True),
        open_writer=SQLiteStore,
        reads_need_token=reads_need_token,
        clock=lambda: NOW,
    )
    return Viewer(serve_app(app), settings, app)


@pytest.fixture
def stocked_store(filled_store: LifecycleStore, settings: Settings) -> LifecycleStore:
    """``filled_store`` plus a fourth C3 frame whose products are real files under the home
    (one row points outside it), a full lifecycle to PROCESSED, and the candidate's track,
    report and cutout strip."""
    store = filled_store
    folder = settings.layout.frames_dir / "c3" / "20250610"
    folder.mkdir(parents=True)
    (folder / "32000010.png").write_bytes(PNG_BYTES)
    (folder / "32000010.cal.fits").write_bytes(FITS_BYTES)
    outside = settings.home.parent / "outside.png"
    outside.write_bytes(b"not the viewer's to serve")
    escape = folder / "32000010.preview.png"  # inside by name, outside once resolved
    escape.symlink_to(outside)
    store.register_files(
        [
            ArchiveFile(
                STOCKED_NAME, Detector.C3, STOCKED_AT, 18.0, 1024, 1024, arrived_at=ARRIVED_AT
            )
        ],
        now=ARRIVED_AT,
    )
    steps = path_to(FileState.PROCESSED)
    for i, target in enumerate(steps):
        at = PROCESSED_AT - timedelta(seconds=len(steps) - 1 - i)
        assert store.transition(STOCKED_NAME, target, now=at)
    store.record_frame(
        Frame(
            STOCKED_NAME,
            Detector.C3,
            STOCKED_AT,
            products={
                "processed_png": ProductFile(str(folder / "32000010.png"), len(PNG_BYTES)),
                "calibrated": ProductFile(str(folder / "32000010.cal.fits"), len(FITS_BYTES)),
                "preview": ProductFile(str(escape), 10),
                "thumbnail": ProductFile(str(folder / "32000010.thumb.png"), 99),  # not on disk
            },
            stats={"noise_sigma": 0.25, "median": 3.5},
            background_kind="rolling",
            background_frames=3,
        ),
        now=PROCESSED_AT,
    )
    cutout = settings.layout.products_dir / "candidates" / "c3" / f"{CANDIDATE_ID}.png"
    cutout.parent.mkdir(parents=True)
    cutout.write_bytes(CUTOUT_BYTES)
    store.upsert_candidate(
        CandidateRecord(
            id=CANDIDATE_ID,
            detector="c3",
            first_seen_at=min(FILLED_TIMES),
            last_seen_at=max(FILLED_TIMES),
            n_frames=3,
            score=0.8,
            snr=6.0,
            speed_px_per_hour=4.0,
            direction_deg=200.0,
            status="new",
            report_text="C3 32000000.fts 512.0 500.0",
            cutout_path=str(cutout),
        ),
        now=NOW,
    )
    times = sorted(zip(FILLED_TIMES, FILLED_NAMES, strict=True))
    store.replace_detections(
        CANDIDATE_ID,
        [
            DetectionRecord(name, at, 512.0 - 4 * i, 500.0 + 2 * i, flux=100.0 + i, snr=5.0 + i)
            for i, (at, name) in enumerate(times)
        ],
    )
    return store


@pytest.fixture
def viewer(settings, filled_store, serve_app) -> Iterator[Viewer]:
    """The viewer over ``filled_store`` (its products point outside the home)."""
    running = make_viewer(settings, serve_app)
    yield running
    running.session.close()


@pytest.fixture
def stocked(settings, stocked_store, serve_app) -> Iterator[Viewer]:
    """The viewer over ``stocked_store`` (real product files under the home)."""
    running = make_viewer(settings, serve_app)
    yield running
    running.session.close()
