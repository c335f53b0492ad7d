"""The hunter's page (``/``) and its assets (``/static/<version>/...``): served with the right
types and caching, complete (the ids others rely on), its modules valid JavaScript, and
shipped in the package. The page's behaviour is ``test_page_browser.py``'s (slow)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from urllib.parse import quote

import pytest

from comet_pipeline.imaging.products.registry import BY_NAME
from comet_pipeline.viewer import pages
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
    # modules preloaded
    assert names == {"viewer.css", "viewer.js", "api.js", "player.js", "products.js"}


def test_a_candidate_link_serves_the_same_page(viewer):
    reply = viewer.get("/candidates/c3-20250610-0001")
    assert reply.status_code == 200 and 'id="candidate-list"' in reply.text


def test_assets_have_their_types_and_are_kept_under_the_current_version(viewer):
    paths = _asset_paths(viewer.get("/").text)
    version = paths[0].split("/")[2]
    assert version == static_version()
    # the modules' relative imports resolve under the same version
    modules = ["viewer.js", "api.js", "player.js", "products.js"]
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


def _not_served(viewer, path: str) -> None:
    reply = viewer.get(path)
    assert reply.status_code == 404, path
    assert reply.json()["message"].startswith("no static file")


@pytest.mark.parametrize("path", ["/static/v/nothing.js", "/static/v/pages.py"])
def test_a_missing_file_or_an_unknown_type_is_not_served(viewer, path):
    _not_served(viewer, path)


def test_only_files_of_the_static_folder_are_served(viewer, tmp_path):
    # an existing file of a type the folder serves, outside it: reached by climbing out
    # (the %2F survive the router: the handler sees "../"), and by an absolute path
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\n")
    climb = os.path.relpath(outside, STATIC_DIR)
    assert climb.startswith("..") and (STATIC_DIR / climb).resolve() == outside.resolve()
    _not_served(viewer, "/static/v/" + quote(climb, safe=""))
    _not_served(viewer, "/static/v/" + quote(str(outside), safe=""))
    # the repository's own screenshot, three folders up from the static one
    shot = "../../../docs/img/viewer-player.png"
    if (STATIC_DIR / shot).resolve().is_file():
        _not_served(viewer, "/static/v/" + quote(shot, safe=""))


def test_a_symlink_out_of_the_static_folder_is_not_followed(viewer, tmp_path, monkeypatch):
    copy = tmp_path / "static"
    shutil.copytree(STATIC_DIR, copy)
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\n")
    (copy / "leak.png").symlink_to(outside)
    monkeypatch.setattr(pages, "STATIC_DIR", copy)
    assert viewer.get("/static/v/viewer.css").status_code == 200  # the copy is what is served
    _not_served(viewer, "/static/v/leak.png")


def test_the_page_runs_under_its_content_security_policy():
    """No inline script or style (script-src/style-src 'self'): all of it in the files."""
    html = (STATIC_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline <script>"
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
    for script in STATIC_DIR.glob("*.js"):
        text = script.read_text()
        assert not re.search(r"setAttribute\(\s*[\"']style|innerHTML|\beval\(|new Function", text)


def test_the_player_asks_only_for_products_the_registry_has():
    """Its product lists (small for 1x, full when zoomed) name registry products only."""
    text = (STATIC_DIR / "player.js").read_text()
    block = text.split("export const PRODUCTS = {")[1].split("\n};")[0]
    listed = {n for lst in re.findall(r"\[([^\]]*)\]", block) for n in re.findall(r'"(\w+)"', lst)}
    assert listed and listed <= set(BY_NAME), listed - set(BY_NAME)


def test_the_modules_parse_as_javascript(tmp_path):
    node = shutil.which("node")
    scripts = sorted(STATIC_DIR.glob("*.js"))
    assert {p.name for p in scripts} == {"viewer.js", "api.js", "player.js", "products.js"}
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
