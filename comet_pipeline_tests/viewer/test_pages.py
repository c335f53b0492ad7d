"""The hunter's page (``/``) and its assets (``/static/<version>/...``): served with the right
types and caching, complete (the ids others rely on), its modules valid JavaScript, and
shipped in the package. The page's behaviour is ``test_page_browser.py``'s (slow)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from comet_pipeline.viewer.pages import STATIC_DIR, static_version

ROOT = Path(__file__).resolve().parents[2]

#: The ids a benchmark written elsewhere drives the page by (issue 12's DOM contract).
CONTRACT_IDS = (
    "player-image",
    "frame-time",
    "detector-c2",
    "detector-c3",
    "product",
    "play",
    "step-back",
    "step-forward",
    "speed",
    "slider",
    "candidate-list",
    "mark-confirmed",
    "mark-rejected",
    "mark-reported",
    "review-note",
    "token",
    "report-text",
    "copy-report",
)


def _asset_paths(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_the_page_is_html_always_revalidated_with_the_contract_ids(viewer):
    reply = viewer.get("/")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["cache-control"] == "no-cache"
    html = reply.text
    for name in CONTRACT_IDS:
        assert f'id="{name}"' in html, name
    options = re.findall(
        r'<option value="(\w+)"', html.split('id="product"')[1].split("</select>")[0]
    )
    assert options == ["processed", "difference", "calibrated"]
    assert "__STATIC_VERSION__" not in html
    names = {Path(p).name for p in _asset_paths(html)}
    assert names == {"viewer.css", "viewer.js", "api.js", "player.js"}  # modules preloaded


def test_a_candidate_link_serves_the_same_page(viewer):
    reply = viewer.get("/candidates/c3-20250610-0001")
    assert reply.status_code == 200 and 'id="candidate-list"' in reply.text


def test_assets_have_their_types_and_are_kept_under_the_current_version(viewer):
    paths = _asset_paths(viewer.get("/").text)
    version = paths[0].split("/")[2]
    assert version == static_version()
    # the modules' relative imports resolve under the same version
    modules = ["viewer.js", "api.js", "player.js"]
    wanted = {f"/static/{version}/{m}": "text/javascript; charset=utf-8" for m in modules}
    wanted[f"/static/{version}/viewer.css"] = "text/css; charset=utf-8"
    assert set(paths) <= set(wanted)
    for path, content_type in wanted.items():
        reply = viewer.get(path)
        assert reply.status_code == 200, path
        assert reply.headers["content-type"] == content_type
        assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"
    imports = re.findall(r'from "\./([\w.]+)"', (STATIC_DIR / "viewer.js").read_text())
    assert set(imports) <= set(modules)


def test_an_old_version_is_served_but_not_kept(viewer):
    reply = viewer.get("/static/000000000000/viewer.js")
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/static/v/nothing.js", "/static/v/..%2Fpages.py", "/static/v/%2Fetc%2Fpasswd"]
)
def test_only_files_of_the_static_folder_are_served(viewer, path):
    reply = viewer.get(path)
    assert reply.status_code == 404
    assert reply.json()["message"].startswith("no static file")


def test_the_modules_parse_as_javascript(tmp_path):
    node = shutil.which("node")
    scripts = sorted(STATIC_DIR.glob("*.js"))
    assert {p.name for p in scripts} == {"viewer.js", "api.js", "player.js"}
    if node is None:
        pytest.skip("no node on this machine: the modules' syntax is checked by the browser test")
    for script in scripts:
        module = tmp_path / f"{script.stem}.mjs"  # .mjs: checked as an ES module
        shutil.copy(script, module)
        done = subprocess.run(
            [node, "--check", str(module)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{script.name}: {done.stderr}"


def test_the_static_folder_ships_in_the_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["comet_pipeline.viewer"]
    viewer_dir = STATIC_DIR.parent
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            name = path.relative_to(viewer_dir).as_posix()
            assert any(fnmatch(name, g) for g in globs), f"{name} would be left out of a wheel"
