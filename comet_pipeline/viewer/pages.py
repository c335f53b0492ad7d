"""``/`` and ``/static``: the hunter's web page (plain HTML, CSS and an ES module, no build).

The page is always revalidated (``no-cache``). Its assets live under a versioned path,
``/static/<version>/viewer.js``, where the version is a digest of the static folder's file
names, sizes and modification times: an asset asked for under the current version is
cached for good (a change gives a new version, hence new URLs, and the modules' relative
imports inherit it); under any other version it is served, but not kept.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from comet_pipeline.viewer.errors import NotFound

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(__file__).parent / "static"
VERSION_MARK = "__STATIC_VERSION__"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def static_version(folder: Path = STATIC_DIR) -> str:
    """A short digest of what is in ``folder`` now (cheap: a stat per file, no reading)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:12]


def _page() -> HTMLResponse:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return HTMLResponse(
        html.replace(VERSION_MARK, static_version()), headers={"Cache-Control": REVALIDATE}
    )


@router.get("/")
def index() -> HTMLResponse:
    """The player, the candidate list and the candidate view (``#/candidates/<id>``)."""
    return _page()


@router.get("/candidates/{candidate_id}")
def candidate_page(candidate_id: str) -> Response:  # noqa: ARG001  the page reads the path
    """A shareable link to one candidate: the same page, which opens that candidate."""
    return _page()


@router.get("/static/{version}/{path:path}")
def static_file(version: str, path: str) -> FileResponse:
    """One asset of the page; only files inside the static folder, of a known type."""
    target = (STATIC_DIR / path).resolve()
    content_type = CONTENT_TYPES.get(target.suffix)
    if (
        not target.is_relative_to(STATIC_DIR.resolve())
        or not target.is_file()
        or content_type is None
    ):
        raise NotFound(f"no static file {path!r}")
    cache = IMMUTABLE if version == static_version() else REVALIDATE
    return FileResponse(target, media_type=content_type, headers={"Cache-Control": cache})
