"""``/api``: the read side of the store as JSON (health, slots, frames, candidates).

Routes are plain ``def``: the store is synchronous SQLite, so FastAPI runs each in its
thread pool and the event loop never waits on the disk.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from comet_pipeline.domain import CandidateRecord, CandidateStatus, Detector, FileState
from comet_pipeline.store import SCHEMA_VERSION, LifecycleStore
from comet_pipeline.viewer.context import Context, ViewerContext
from comet_pipeline.viewer.errors import ERROR_RESPONSES, STORE_ERRORS, NotFound, one_line
from comet_pipeline.viewer.jobs import dagster_health
from comet_pipeline.viewer.params import (
    EARLIEST,
    LATEST,
    UtcTime,
    decode_cursor,
    encode_cursor,
    window,
)
from comet_pipeline.viewer.products import file_under_home
from comet_pipeline.viewer.schemas import (
    CandidateDetail,
    CandidateList,
    FrameDetail,
    FramePage,
    Health,
    NewestFrame,
    SlotDay,
    SlotOut,
    StoreHealth,
)
from comet_pipeline.viewer.views import (
    candidate_detail,
    candidate_summary,
    frame_detail,
    frame_summary,
    rank,
)

router = APIRouter(prefix="/api", responses=ERROR_RESPONSES)


class FrameOrder(StrEnum):
    OLDEST = "oldest"
    NEWEST = "newest"


def _iso_day(value: object) -> date:
    """YYYY-MM-DD only (pydantic's lax rules would take a number as a Unix time)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError("not a day like 2025-06-10") from None


Since = Annotated[UtcTime | None, Query(description="ISO time, UTC if no offset; inclusive")]
Until = Annotated[UtcTime | None, Query(description="ISO time, UTC if no offset; exclusive")]
Day = Annotated[date, BeforeValidator(_iso_day), Query(description="a UTC day, YYYY-MM-DD")]


def _newest(store: LifecycleStore, detector: Detector, now: datetime) -> NewestFrame:
    found = store.frames_page(detector, EARLIEST, LATEST, limit=1, newest_first=True)
    if not found:
        return NewestFrame(detector=detector, name=None, observed_at=None, age_minutes=None)
    frame = found[0]
    age = round((now - frame.observed_at).total_seconds() / 60, 3)
    return NewestFrame(
        detector=detector, name=frame.name, observed_at=frame.observed_at, age_minutes=age
    )


@router.get("/health", summary="Is the store readable, and how fresh are the frames")
def health(ctx: Context) -> Health:
    """Always 200: an unreadable store is reported in the body (``store.reachable``), and so
    is a Dagster webserver that does not answer (``dagster.reachable``)."""
    now = ctx.clock()
    location = str(ctx.store.location)
    counts: dict[FileState, int] = dict.fromkeys(FileState, 0)
    newest = [
        NewestFrame(detector=d, name=None, observed_at=None, age_minutes=None)
        for d in ctx.settings.detectors
    ]
    try:
        store = ctx.store.get()
        if store is None:
            state = StoreHealth(
                reachable=False,
                location=location,
                schema_version=None,
                error=f"no lifecycle store at {location} yet: run `comet-pipeline demo` "
                "or `comet-pipeline init`",
            )
        else:
            counts = store.counts_by_state()
            newest = [_newest(store, d, now) for d in ctx.settings.detectors]
            # the engine opens read-only only a file of exactly its own schema version
            state = StoreHealth(
                reachable=True, location=location, schema_version=SCHEMA_VERSION, error=None
            )
    except STORE_ERRORS as err:
        state = StoreHealth(
            reachable=False, location=location, schema_version=None, error=one_line(str(err))
        )
    return Health(
        checked_at=now,
        store=state,
        files_by_state=counts,
        newest_frames=newest,
        dagster=dagster_health(ctx.settings.dagster_url),
    )


@router.get("/slots", summary="One UTC day's downlink slots")
def slots(ctx: Context, day: Day) -> SlotDay:
    store = ctx.store.get()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    found = store.slots_between(start, start + timedelta(days=1)) if store is not None else []
    return SlotDay(
        day=day,
        slots=[
            SlotOut(bot=s.bot, eot=s.eot, antenna=s.antenna, state=s.state, source=s.source)
            for s in found
        ],
    )


@router.get("/frames", summary="Processed frames in time order, one page at a time")
def frames(
    ctx: Context,
    detector: Detector,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=500, description="frames per page")] = 100,
    cursor: Annotated[
        str | None, Query(description="the previous page's next_cursor", max_length=512)
    ] = None,
    order: Annotated[
        FrameOrder,
        Query(description="'oldest' first (default) or 'newest' first; a cursor keeps it"),
    ] = FrameOrder.OLDEST,
) -> FramePage:
    """Keyset-paginated: pages stay complete and free of repeats while new frames arrive.
    ``order=newest`` opens a player on the latest frames in one request, and its cursor
    walks back in time."""
    start, end = window(since, until)
    newest = order is FrameOrder.NEWEST
    after = decode_cursor(cursor, newest_first=newest) if cursor is not None else None
    store = ctx.store.get()
    if store is None:
        return FramePage(items=[], next_cursor=None)
    found = store.frames_page(
        detector,
        start,
        end,
        after=after,
        limit=limit + 1,
        newest_first=newest,
    )
    page = found[:limit]
    more = len(found) > limit
    return FramePage(
        items=[frame_summary(f) for f in page],
        next_cursor=(
            encode_cursor(page[-1].observed_at, page[-1].name, newest_first=newest)
            if more
            else None
        ),
    )


def _store_or_404(ctx: ViewerContext, what: str) -> LifecycleStore:
    store = ctx.store.get()
    if store is None:
        raise NotFound(f"{what} (no lifecycle store at {ctx.store.location} yet)")
    return store


@router.get("/frames/{name}", summary="One frame: times, latency, statistics, products")
def frame(ctx: Context, name: str) -> FrameDetail:
    missing = f"no frame named {name!r}"
    store = _store_or_404(ctx, missing)
    found = store.frame(name)
    if found is None:
        raise NotFound(missing)
    return frame_detail(found, store.get_file(name), store.transitions_for(name))


@router.get("/candidates", summary="Comet candidates, best score first")
def candidates(
    ctx: Context,
    detector: Detector | None = None,
    status: CandidateStatus | None = None,
    since: Since = None,
    until: Until = None,
) -> CandidateList:
    """Candidates whose track overlaps [since, until)."""
    start, end = window(since, until)
    store = ctx.store.get()
    if store is None:
        return CandidateList(items=[])
    found = store.candidates(detector.value if detector else None, since=start, until=end)
    if status is not None:
        found = [c for c in found if c.status == status.value]
    return CandidateList(items=[candidate_summary(c) for c in rank(found)])


@router.get(
    "/candidates/{candidate_id}",
    summary="One candidate: detections, report, cutout, light curve",
)
def candidate(ctx: Context, candidate_id: str) -> CandidateDetail:
    missing = f"no candidate with id {candidate_id!r}"
    store = _store_or_404(ctx, missing)
    found = store.candidate(candidate_id)
    if found is None:
        raise NotFound(missing)
    return candidate_view(ctx, store, found)


def candidate_view(
    ctx: ViewerContext, store: LifecycleStore, found: CandidateRecord
) -> CandidateDetail:
    """The detail body, with the cutout's URL only when its file is there to serve."""
    cutout = file_under_home(ctx.home, found.cutout_path) if found.cutout_path else None
    return candidate_detail(
        found,
        store.detections_for(found.id),
        store.reviews_for(found.id),
        has_cutout=cutout is not None,
    )
