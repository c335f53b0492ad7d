"""A failed download or processing attempt, handed to the store's retry bookkeeping once.

Both leased steps end a failed attempt the same way: the store records the error, counts
the attempt, schedules the retry (or abandons the file) and says which state it is in; a
lease that was lost meanwhile (another run reclaimed the file) changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from comet_pipeline.domain import FileRecord
from comet_pipeline.store import LifecycleStore


def record_failure(
    store: LifecycleStore,
    record: FileRecord,
    err: Exception,
    *,
    now: datetime,
    owner: str,
    permanent: bool,
) -> str:
    """The outcome name of a failed attempt: the new state in lower case, or ``lease_lost``."""
    state = store.fail(
        record.name,
        f"{type(err).__name__}: {err}",
        now=now,
        run_id=owner,
        owner=owner,
        permanent=permanent,
    )
    return state.value.lower() if state else "lease_lost"
