"""The viewer's FastAPI application, built from the settings and a way to open the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from comet_pipeline.domain import utcnow
from comet_pipeline.domain.timeutil import Clock
from comet_pipeline.settings import Settings
from comet_pipeline.store import store_location
from comet_pipeline.viewer import api, jobs, pages, platform, products, reviews
from comet_pipeline.viewer.auth import ReadAccess
from comet_pipeline.viewer.context import StoreAccess, StoreOpener, ViewerContext
from comet_pipeline.viewer.errors import install_error_handlers
from comet_pipeline.viewer.headers import DefaultNoStore

__all__ = ["StoreOpener", "build_app"]

DESCRIPTION = (
    "The read side of the lifecycle store for comet hunters: downlink slots, processed frames "
    "(keyset-paginated), their product files, comet candidates with their tracks, and the "
    "platform's products on disk (the hours' colour composites and C2+C3 mosaics, a day's "
    "featured targets). Times "
    "are UTC; a time without an offset is taken as UTC. Every error body is a `Problem`."
)


def build_app(
    settings: Settings,
    open_store: StoreOpener,
    *,
    open_writer: StoreOpener | None = None,
    reads_need_token: bool = False,
    clock: Clock = utcnow,
) -> FastAPI:
    """The app over ``settings.home``; ``open_store`` opens the store the settings name (the
    SQLite file, or ``store_url``) read-only on first use (the caller picks the engine),
    ``open_writer`` writably for verdicts (None: this viewer refuses writes).
    ``reads_need_token`` when it listens beyond loopback. ``clock`` is "now" for ages and
    audit times."""
    location = store_location(settings)
    access = StoreAccess(location, open_store)
    writer = StoreAccess(location, open_writer) if open_writer else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        access.close()
        if writer is not None:
            writer.close()

    app = FastAPI(
        title="comet_pipeline viewer",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.viewer = ViewerContext(
        settings=settings,
        store=access,
        clock=clock,
        writer=writer,
        reads_need_token=reads_need_token,
    )
    # beyond loopback every read wants the token too (reads_need_token); the page and its
    # assets stay open, so a person can reach the field to paste it into
    app.include_router(api.router, dependencies=[ReadAccess])
    app.include_router(reviews.router, dependencies=[ReadAccess])
    app.include_router(jobs.router, dependencies=[ReadAccess])
    app.include_router(platform.api_router, dependencies=[ReadAccess])
    app.include_router(platform.files_router, dependencies=[ReadAccess])
    app.include_router(products.router, dependencies=[ReadAccess])
    app.include_router(pages.router)  # the page: open, it holds the token field
    install_error_handlers(app)
    app.add_middleware(DefaultNoStore)
    return app
