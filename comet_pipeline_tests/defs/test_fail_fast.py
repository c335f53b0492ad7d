"""Permanent trouble ends a step at once and says why; the RetryPolicy is never used on it."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from dagster import DagsterEventType

from comet_pipeline.defs.jobs import INGEST_HOUR_JOB
from comet_pipeline.settings import Settings
from comet_pipeline.store import SQLiteStore

from .conftest import NOW, PARTITION, make_defs


def _run(settings, instance, partition=PARTITION):
    started = time.monotonic()
    job = make_defs(settings).resolve_job_def(INGEST_HOUR_JOB)
    result = job.execute_in_process(
        partition_key=partition, instance=instance, raise_on_error=False
    )
    return result, time.monotonic() - started


def _failures(result) -> list[str]:
    return [
        e.event_specific_data.error.message
        for e in result.all_events
        if e.event_type is DagsterEventType.STEP_FAILURE
    ]


def _retries(result) -> int:
    return sum(1 for e in result.all_events if e.event_type is DagsterEventType.STEP_UP_FOR_RETRY)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda db: db.write_bytes(b"not a database" * 100), id="not-a-database"),
        pytest.param(lambda db: db.write_bytes(b""), id="emptied-over-files"),
    ],
)
def test_a_damaged_or_emptied_store_fails_the_first_step_once_and_names_the_file(
    settings, instance, damage
):
    first, _ = _run(settings, instance)
    assert first.success
    db = settings.layout.lifecycle_db
    SQLiteStore(db).close()  # this process's cached connection; a new process has none
    for suffix in ("-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    damage(db)
    result, elapsed = _run(settings, instance)
    assert not result.success
    messages = _failures(result)
    assert messages and str(db) in messages[0], messages
    assert _retries(result) == 0  # permanent: not retried three times with backoff
    assert elapsed < 30
    assert ("store rebuild" in messages[0]) or ("not a database" in messages[0])


def test_a_missing_home_is_not_silently_created(tmp_path, instance):
    settings = Settings(home=tmp_path / "typo")
    job = make_defs(settings).resolve_job_def(INGEST_HOUR_JOB)
    settings.home.rmdir()  # make_defs created it, as `comet-pipeline init` would; undo
    result = job.execute_in_process(
        partition_key=PARTITION, instance=instance, raise_on_error=False
    )
    assert not result.success
    assert "does not exist" in _failures(result)[0] and _retries(result) == 0
    assert not settings.home.exists()


def test_a_partition_in_the_future_is_refused(settings, instance):
    future = (NOW + timedelta(hours=3)).strftime("%Y-%m-%d-%H:00")
    result, _ = _run(settings, instance, partition=future)
    assert not result.success
    assert "in the future" in _failures(result)[0] and _retries(result) == 0
