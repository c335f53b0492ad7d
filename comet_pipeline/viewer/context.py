"""What every route needs: the settings, the store (opened lazily) and the clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from comet_pipeline.domain.timeutil import Clock
from comet_pipeline.settings import Settings
from comet_pipeline.store import LifecycleStore, StoreLocation
from comet_pipeline.viewer.throttle import FailureThrottle

#: Opens the store (read-only, or writable for verdicts) given what its location names: the
#: SQLite file or the PostgreSQL URL. The front door that builds the app chooses the engine
#: (``cli`` passes ``store.open_store``), so the viewer itself annotates only the protocol.
StoreOpener = Callable[[Path | str], LifecycleStore]


class StoreAccess:
    """The home's store, opened on first use and kept.

    Lazily, so the server starts before the pipeline ever ran (and on a read-only home), and
    a store created later is picked up by the next request. Opening failures (a damaged file)
    are raised to the request, which answers 503; nothing is cached until an open succeeds.
    """

    def __init__(self, location: StoreLocation, open_store: StoreOpener) -> None:
        self.location = location
        self._open_store = open_store
        self._store: LifecycleStore | None = None
        self._lock = threading.Lock()

    def get(self) -> LifecycleStore | None:
        """The store, or None while its file does not exist (nothing ingested yet)."""
        with self._lock:
            if self._store is None and self.location.exists():
                self._store = self._open_store(self.location.target)
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


@dataclass
class ViewerContext:
    """``store`` reads (read-only); ``writer`` is the same file opened for the few writes
    (verdicts), or None when this viewer may not write. ``reads_need_token`` when it listens
    beyond loopback."""

    settings: Settings
    store: StoreAccess
    clock: Clock
    writer: StoreAccess | None = None
    reads_need_token: bool = False
    throttle: FailureThrottle = field(default_factory=FailureThrottle)
    home: Path = field(init=False)

    def __post_init__(self) -> None:
        self.home = self.settings.home.resolve()


def _context(request: Request) -> ViewerContext:
    context = request.app.state.viewer
    if not isinstance(context, ViewerContext):  # pragma: no cover - build_app always sets it
        raise TypeError("the app was not built by comet_pipeline.viewer.build_app")
    return context


#: The route parameter that hands a route its context.
Context = Annotated[ViewerContext, Depends(_context)]
