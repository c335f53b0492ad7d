"""A headless Chromium for tests that drive the hunter's page: Debian's build, driven by
Playwright's Python API (its bundled driver works offline).

Never ``playwright install`` (it downloads browsers; this network has none to give): when
``/usr/bin/chromium`` is missing it is installed with apt (each apt-get call bounded in
time). If that cannot be done, a CI run (``CI`` set, as ``.ci/run`` does) fails with apt's
own words; a developer's run is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Playwright drives Chromium itself (CDP): no chromium-driver, and no recommended extras.
APT_PACKAGES = ("chromium",)
APT_INSTALL = ("install", "-y", "--no-install-recommends", *APT_PACKAGES)
#: Per apt-get call: the package lists, then the install (Chromium and its libraries).
APT_UPDATE_TIMEOUT_S = 300
APT_INSTALL_TIMEOUT_S = 600
#: Without the background-networking flags Chromium dials out for updates, sync and field
#: trials, and this closed network refuses those connections.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Where tests write what a person should look at (screenshots); default <repo>/test-artifacts.
ARTIFACTS_ENV = "COMET_TEST_ARTIFACTS"
ROOT = Path(__file__).resolve().parents[1]


def unavailable(reason: str) -> NoReturn:
    """Fail in CI (a browser test that silently skips proves nothing); skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _text(out: str | bytes | None) -> str:
    """What a process wrote (a timed-out ``run`` leaves it as bytes, or None)."""
    if isinstance(out, bytes):
        return out.decode(errors="replace")
    return out or ""


def _apt(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``apt-get *args``, killed after ``timeout`` s (then unavailable, with what it said)."""
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        return subprocess.run(
            ["apt-get", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        unavailable(
            f"`apt-get {' '.join(args)}` did not finish in {timeout:.0f} s:\n"
            f"{_text(err.stdout)[-3000:]}\n{_text(err.stderr)[-3000:]}"
        )


def ensure_chromium() -> Path:
    """``/usr/bin/chromium``, installed with apt first if it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        unavailable(
            f"no {CHROMIUM}, and no apt-get as root to install it "
            f"(`apt-get {' '.join(APT_INSTALL)}`)"
        )
    done = _apt(*APT_INSTALL, timeout=APT_INSTALL_TIMEOUT_S)
    if done.returncode != 0:  # most often: no package lists yet on a fresh machine
        update = _apt("update", timeout=APT_UPDATE_TIMEOUT_S)
        done = _apt(*APT_INSTALL, timeout=APT_INSTALL_TIMEOUT_S)
        if done.returncode != 0:
            unavailable(
                f"could not install {' '.join(APT_PACKAGES)} with apt-get:\n"
                f"--- apt-get update (exit {update.returncode}) ---\n{update.stderr[-2000:]}\n"
                f"--- apt-get install (exit {done.returncode}) ---\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
    if not CHROMIUM.exists():
        unavailable(f"apt-get installed {' '.join(APT_PACKAGES)} but there is no {CHROMIUM}")
    return CHROMIUM


def playwright_api() -> ModuleType:
    """``playwright.sync_api`` (the ``dev`` extra), imported only by the tests that use it."""
    try:
        import playwright.sync_api as api
    except ImportError as err:
        unavailable(f"playwright is not installed (`pip install -e '.[dev]'`): {err}")
    return api


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (a Playwright ``Browser``), closed afterwards.

    Tests take it from the ``browser`` fixture (``viewer/conftest.py``), never open their
    own: an open one is Playwright's asyncio loop, running in this thread until it closes,
    and a second ``sync_playwright()`` meanwhile is refused."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:
        raise RuntimeError(
            f"an asyncio loop is already running in this thread ({running!r}): most likely "
            "another Playwright sync session left open; use the shared `browser` fixture "
            "instead of opening chromium() again"
        )
    path = ensure_chromium()
    api = playwright_api()
    with api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(path), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def artifacts_dir() -> Path:
    """The folder for screenshots: ``$COMET_TEST_ARTIFACTS`` or ``<repo>/test-artifacts``."""
    folder = Path(os.environ.get(ARTIFACTS_ENV) or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
