"""The simulator serves two level-0.5 trees: near-real-time (recent days) and long-term."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from comet_pipeline.archive.layout import LONGTERM_ROOT, NRT_ROOT, ArchiveTree
from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator.adapter import SimAdapter
from comet_pipeline.simulator.routes import Router
from comet_pipeline.simulator.server import start_server

from .conftest import DAY


def _path(root: str, day, detector: Detector = Detector.C3, rest: str = "") -> str:
    return f"{root}/{day:%y%m%d}/{detector.value}/{rest}"


def test_recent_days_are_near_real_time_old_days_long_term_and_the_middle_both(archive, clock):
    today = clock().date()
    cfg = archive.config
    assert cfg.longterm_lag_days < cfg.nrt_days
    recent = today - timedelta(days=cfg.longterm_lag_days - 1)
    middle = today - timedelta(days=cfg.longterm_lag_days)
    last_nrt = today - timedelta(days=cfg.nrt_days - 1)
    old = today - timedelta(days=cfg.nrt_days)
    nrt, lt = ArchiveTree.NEAR_REAL_TIME, ArchiveTree.LONG_TERM
    assert archive.serves(nrt, recent) and not archive.serves(lt, recent)
    assert archive.serves(nrt, middle) and archive.serves(lt, middle)
    assert archive.serves(nrt, last_nrt) and archive.serves(lt, last_nrt)
    assert not archive.serves(nrt, old) and archive.serves(lt, old)
    # the window rolls with the clock: a day leaves the near-real-time tree
    clock.now += timedelta(days=1)
    assert not archive.serves(nrt, last_nrt) and archive.serves(lt, last_nrt)


def test_router_answers_each_tree_only_for_the_days_it_holds(archive, clock):
    router = Router(archive)
    old = clock().date() - timedelta(days=archive.config.nrt_days + 5)
    assert router.handle(_path(NRT_ROOT, old, rest="img_hdr.txt")).status == 404
    reply = router.handle(_path(LONGTERM_ROOT, old, rest="img_hdr.txt"))
    assert reply.status == 200
    assert reply.body.decode() == archive.img_hdr_text(old, Detector.C3)
    listing = router.handle(_path(LONGTERM_ROOT, old)).body.decode()
    assert f"Index of {_path(LONGTERM_ROOT, old).rstrip('/')}" in listing  # its own folder
    name = archive.arrived(old, Detector.C3)[0].name
    fits = router.handle(_path(LONGTERM_ROOT, old, rest=name))
    assert fits.status == 200 and fits.body[:6] == b"SIMPLE"
    recent = clock().date() - timedelta(days=1)
    assert router.handle(_path(LONGTERM_ROOT, recent, rest="img_hdr.txt")).status == 404
    assert router.handle(_path(NRT_ROOT, recent, rest="img_hdr.txt")).status == 200
    assert router.handle(f"{LONGTERM_ROOT}x/{old:%y%m%d}/c3/").status == 404


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sim://lasco/250101/c2/", f"{NRT_ROOT}/250101/c2/"),
        ("sim://lasco/longterm/250101/c2/img_hdr.txt", f"{LONGTERM_ROOT}/250101/c2/img_hdr.txt"),
        ("sim://lasco-rolled/longterm/250101/c3/", f"{LONGTERM_ROOT}/250101/c3/"),
        ("sim://lasco/longterm", f"{LONGTERM_ROOT}/"),
        ("sim://lasco/longtermx/250101/c2/", f"{NRT_ROOT}/longtermx/250101/c2/"),
        ("sim://other/longterm/250101/c2/", None),
    ],
)
def test_sim_urls_map_to_the_real_server_paths(url, path):
    assert SimAdapter.server_path(url) == path


def test_http_server_serves_the_long_term_tree_under_umbras_path(archive, clock):
    old = clock().date() - timedelta(days=archive.config.nrt_days + 1)
    with start_server(archive) as server:
        assert server.longterm_url.endswith(LONGTERM_ROOT)
        got = requests.get(f"{server.longterm_url}/{old:%y%m%d}/c2/img_hdr.txt", timeout=10)
        missing = requests.get(f"{server.url}/{old:%y%m%d}/c2/img_hdr.txt", timeout=10)
    assert got.status_code == 200 and got.text == archive.img_hdr_text(old, Detector.C2)
    assert missing.status_code == 404
    assert DAY  # the folder's fixed day stays in both trees (15 days before the clock)
    assert archive.serves(ArchiveTree.NEAR_REAL_TIME, DAY)
    assert archive.serves(ArchiveTree.LONG_TERM, DAY)
