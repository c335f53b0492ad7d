"""The SQLite engine of the lifecycle store: one file, the table modules put together."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from comet_pipeline.domain import Detector, FileState, SlotState, StoreSummary
from comet_pipeline.store.sqlite.candidates import CandidateTables
from comet_pipeline.store.sqlite.frames import FrameTables
from comet_pipeline.store.sqlite.retention import RetentionQueries
from comet_pipeline.store.sqlite.slots import SlotTables

_COUNTED_TABLES = ("slots", "files", "frames", "transitions", "candidates")


class SQLiteStore(SlotTables, FrameTables, CandidateTables, RetentionQueries):
    """The lifecycle store in ``lifecycle.db``: slots, files and their guarded lifecycle,
    frames and their products, candidates. Plain Python: the Dagster layer wraps it in a
    resource, and it implements :class:`comet_pipeline.store.LifecycleStore`.

    ``read_only`` opens an existing file for reading only (a read-only home); every write
    then raises StoreError. A damaged file raises DamagedStore at construction.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        max_attempts: int = 5,
        backoff_base: timedelta = timedelta(minutes=2),
        backoff_cap: timedelta = timedelta(hours=1),
        jitter: float = 0.25,
        rng: random.Random | None = None,
        lease: timedelta = timedelta(minutes=10),
        read_only: bool = False,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.jitter = jitter
        self.rng = rng if rng is not None else random.Random()
        self.lease = lease
        self._open(path, read_only=read_only)

    def summary(self) -> StoreSummary:
        """Counts for ``comet-pipeline status``."""
        with self._read() as db:
            slots = {
                SlotState(r["state"]): r["n"]
                for r in db.query("SELECT state, count(*) AS n FROM slots GROUP BY state")
            }
            files: dict[Detector, dict[FileState, int]] = {}
            for r in db.query(
                "SELECT detector, state, count(*) AS n FROM files GROUP BY detector, state"
            ):
                files.setdefault(Detector(r["detector"]), {})[FileState(r["state"])] = r["n"]
            totals = {table: db[table].count for table in _COUNTED_TABLES}
        return StoreSummary(
            location=str(self.path),
            slots_by_state=slots,
            files_by_detector_state=files,
            totals=totals,
        )
