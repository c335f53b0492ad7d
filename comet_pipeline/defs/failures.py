"""Permanent errors end a step at once: Dagster's RetryPolicy is for transient trouble.

A damaged database, a store that does not match its home, a bad setting or an archive
answer we reject will be the same on the next try; retrying them only delays the one
line a person needs to read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from dagster import Failure

from comet_pipeline.archive.errors import ArchiveError
from comet_pipeline.domain.text import bounded
from comet_pipeline.ingest.home import HomeMismatch
from comet_pipeline.settings import SettingsError
from comet_pipeline.store import StoreError

PERMANENT = (HomeMismatch, StoreError, SettingsError)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn a permanent error into a Failure that is never retried; let others through."""
    try:
        yield
    except PERMANENT as err:
        raise Failure(description=bounded(str(err), 2000), allow_retries=False) from err
    except ArchiveError as err:
        if not err.permanent:
            raise
        raise Failure(description=bounded(str(err), 2000), allow_retries=False) from err


def refuse_future(start: datetime, now: datetime) -> None:
    """An hour that has not begun has no observations: fail it plainly, never retried
    (a backfill launched over future hours would otherwise look like a quiet archive)."""
    if start > now:
        raise Failure(
            description=(
                f"partition {start:%Y-%m-%d %H:%M} UT is in the future (now {now:%Y-%m-%d %H:%M}"
                " UT): nothing can have been observed yet"
            ),
            allow_retries=False,
        )
