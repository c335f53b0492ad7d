"""``POST /api/candidates/{id}/status``: a hunter's verdict, written to the store.

The one write the viewer makes to the lifecycle store, through a writable handle opened for
it alone (reads stay on the read-only one), with the token's name as the audit's "by".
"""

from __future__ import annotations

from fastapi import APIRouter

from comet_pipeline.store import UnknownCandidate
from comet_pipeline.viewer.api import candidate_view
from comet_pipeline.viewer.auth import Writer
from comet_pipeline.viewer.context import Context
from comet_pipeline.viewer.errors import (
    ERROR_RESPONSES,
    STORE_ERRORS,
    NotFound,
    Unavailable,
    one_line,
)
from comet_pipeline.viewer.schemas import CandidateDetail, ReviewIn

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)


@router.post(
    "/candidates/{candidate_id}/status",
    summary="Mark a candidate confirmed, rejected or reported (needs a token)",
)
def review(ctx: Context, candidate_id: str, verdict: ReviewIn, caller: Writer) -> CandidateDetail:
    """Audited like a lifecycle transition (from, to, who, when, note); the hourly hunt
    keeps the verdict when it finds the same track again."""
    if ctx.writer is None:
        raise Unavailable("this viewer was started without write access to the store")
    try:
        writer = ctx.writer.get()
        if writer is None:
            raise NotFound(f"no candidate with id {candidate_id!r} (no lifecycle store yet)")
        updated = writer.review_candidate(
            candidate_id, verdict.status, by=caller, now=ctx.clock(), note=verdict.note
        )
    except UnknownCandidate as err:
        raise NotFound(str(err)) from None
    except STORE_ERRORS as err:  # e.g. a read-only home: the reads work, this write cannot
        raise Unavailable(
            f"the verdict could not be written to {ctx.writer.location}: {one_line(str(err))}"
        ) from None
    return candidate_view(ctx, writer, updated)
