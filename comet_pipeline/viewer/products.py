"""``/products``: a frame's product files and a candidate's cutout strip, from disk.

The file served is the path the store recorded, never one built from the URL, and only when
it resolves (symlinks followed) inside COMET_HOME: a row pointing elsewhere is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from comet_pipeline.imaging.products.registry import BY_NAME, PNG
from comet_pipeline.viewer.context import Context
from comet_pipeline.viewer.errors import ERROR_RESPONSES, Forbidden, NotFound

router = APIRouter(prefix="/products")

#: A frame's products are only ever rewritten byte-identically: cache them for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
#: A cutout strip is redrawn when its track grows: keep it, but ask each time (ETag).
REVALIDATE = "no-cache"

_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the file, with the registry's content type",
        "content": {"image/png": {}, "application/fits": {}},
    },
    403: ERROR_RESPONSES[404] | {"description": "the recorded file lies outside COMET_HOME"},
    404: ERROR_RESPONSES[404],
    422: ERROR_RESPONSES[422],
    503: ERROR_RESPONSES[503],
}


def resolve_stored(home: Path, stored: str) -> Path:
    """The recorded path, resolved; Forbidden when it lands outside ``home`` (resolved)."""
    path = (home / stored).resolve()  # an absolute ``stored`` replaces ``home``
    if not path.is_relative_to(home):
        raise Forbidden(f"{stored} lies outside COMET_HOME ({home}); it is not served")
    return path


def file_under_home(home: Path, stored: str) -> Path | None:
    """The recorded file when it exists inside ``home``; None otherwise."""
    try:
        path = resolve_stored(home, stored)
    except Forbidden:
        return None
    return path if path.is_file() else None


def _etag_matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match")
    if not given:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in given.split(",")}
    return etag in tags or "*" in tags


def serve_file(request: Request, path: Path, content_type: str, cache_control: str) -> Response:
    """The file with an ETag (size and mtime), or 304 when the client already holds it."""
    try:
        stat = path.stat()
    except OSError:
        raise NotFound(f"{path.name} is recorded but missing on disk") from None
    etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    headers = {"ETag": etag, "Cache-Control": cache_control}
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=content_type, headers=headers, stat_result=stat)


@router.get(
    "/candidates/{candidate_id}/cutout",
    summary="A candidate's cutout strip (PNG)",
    response_class=FileResponse,
    responses=_FILE_RESPONSES,
)
def cutout(ctx: Context, request: Request, candidate_id: str) -> Response:
    store = ctx.store.get()
    found = store.candidate(candidate_id) if store is not None else None
    if found is None:
        raise NotFound(f"no candidate with id {candidate_id!r}")
    if not found.cutout_path:
        raise NotFound(f"candidate {candidate_id!r} has no cutout yet")
    path = resolve_stored(ctx.home, found.cutout_path)
    return serve_file(request, path, PNG, REVALIDATE)


@router.get(
    "/{name}/{product}",
    summary="One product file of a frame",
    response_class=FileResponse,
    responses=_FILE_RESPONSES,
)
def frame_product(ctx: Context, request: Request, name: str, product: str) -> Response:
    spec = BY_NAME.get(product)
    if spec is None:
        raise NotFound(f"no product {product!r}; known: {', '.join(BY_NAME)}")
    store = ctx.store.get()
    frame = store.frame(name) if store is not None else None
    if frame is None:
        raise NotFound(f"no frame named {name!r}")
    stored = frame.path(product)
    if stored is None:
        raise NotFound(f"frame {name!r} has no {product} product")
    return serve_file(request, resolve_stored(ctx.home, stored), spec.content_type, IMMUTABLE)
