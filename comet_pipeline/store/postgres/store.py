"""The PostgreSQL engine of the lifecycle store: one database, the table modules put together."""

from __future__ import annotations

import random
from datetime import timedelta

from comet_pipeline.domain import Detector, FileState, SlotState, StoreSummary
from comet_pipeline.store.postgres.candidates import CandidateTables
from comet_pipeline.store.postgres.frames import FrameTables
from comet_pipeline.store.postgres.retention import RetentionQueries
from comet_pipeline.store.postgres.slots import SlotTables

_COUNTED_TABLES = ("slots", "files", "frames", "transitions", "candidates")


class PostgresStore(SlotTables, FrameTables, CandidateTables, RetentionQueries):
    """The lifecycle store in a PostgreSQL database (``url``: ``postgresql://...``), for
    more than one host or more writers than one SQLite file serves well. It implements
    :class:`comet_pipeline.store.LifecycleStore` exactly as the SQLite engine does (the
    behavioural tests run on both).

    ``read_only`` opens sessions with ``default_transaction_read_only = on``: the server
    refuses every write, and the store raises StoreError before trying. An unreachable
    server, a refused login or a schema this code cannot use raise StoreError at
    construction. ``pool_size`` bounds this process's connections.
    """

    def __init__(
        self,
        url: str,
        *,
        max_attempts: int = 5,
        backoff_base: timedelta = timedelta(minutes=2),
        backoff_cap: timedelta = timedelta(hours=1),
        jitter: float = 0.25,
        rng: random.Random | None = None,
        lease: timedelta = timedelta(minutes=10),
        read_only: bool = False,
        pool_size: int = 4,
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
        self._open(url, read_only=read_only, pool_size=pool_size)

    def summary(self) -> StoreSummary:
        """Counts for ``comet-pipeline status``, from one snapshot."""
        with self._read() as conn:
            slots = {
                SlotState(r["state"]): int(r["n"])
                for r in conn.execute("SELECT state, count(*) AS n FROM slots GROUP BY state")
            }
            files: dict[Detector, dict[FileState, int]] = {}
            for r in conn.execute(
                "SELECT detector, state, count(*) AS n FROM files GROUP BY detector, state"
            ):
                files.setdefault(Detector(r["detector"]), {})[FileState(r["state"])] = int(r["n"])
            counts = conn.execute(
                "SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in _COUNTED_TABLES)
            ).fetchone()
        totals = {t: int(counts[t]) if counts else 0 for t in _COUNTED_TABLES}
        return StoreSummary(
            location=self.location,
            slots_by_state=slots,
            files_by_detector_state=files,
            totals=totals,
        )
