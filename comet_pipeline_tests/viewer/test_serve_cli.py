"""``comet-pipeline serve``: a busy port is one line and exit 2; otherwise it prints its URL
and answers there (a real process, as a hunter starts it)."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time

import pytest
import requests

from comet_pipeline import cli
from comet_pipeline.settings import get_settings

START_DEADLINE_S = 20.0


@pytest.fixture
def home_env(settings, monkeypatch):
    monkeypatch.setenv("COMET_HOME", str(settings.home))
    get_settings.cache_clear()  # the CLI reads the environment once per process
    yield settings
    get_settings.cache_clear()


def test_serve_on_a_busy_port_is_one_line_and_exit_2(home_env, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cli.main(["serve", "--port", str(port)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == f"comet-pipeline: port {port} is in use; try --port 0 or another port\n"


def _first_line(proc: subprocess.Popen[str]) -> str:
    """The first line the process prints, waiting on the pipe (not on luck) up to a deadline."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_DEADLINE_S
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                return proc.stdout.readline()
    raise AssertionError("comet-pipeline serve printed nothing")


def test_serve_prints_its_loopback_url_and_answers_there(filled_store, home_env):
    env = os.environ | {"COMET_HOME": str(home_env.home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "comet_pipeline.cli.main", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = _first_line(proc)
        assert line.startswith("comet-pipeline viewer: http://127.0.0.1:"), line
        url = line.split()[2]
        assert (
            line
            == f"comet-pipeline viewer: {url} (API: {url}api/health, documented at {url}docs)\n"
        )
        health = requests.get(f"{url}api/health", timeout=10).json()
        assert health["store"]["reachable"] is True
        assert health["files_by_state"]["DISCOVERED"] == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
