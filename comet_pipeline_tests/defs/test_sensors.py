"""Sensors evaluated with build_sensor_context over a simulated clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from dagster import DagsterInstance, DagsterRunStatus, build_sensor_context
from dagster._core.storage.dagster_run import DagsterRun

from comet_pipeline.defs.jobs import INGEST_HOUR_JOB
from comet_pipeline.defs.resources import (
    ArchiveResource,
    ClockResource,
    StoreResource,
    pipeline_resource,
)
from comet_pipeline.domain import Detector, FileState, Slot, SlotState
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.windows import hour_floor
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore

from .conftest import NOW, SEED, make_defs


def _resources(settings, now: datetime) -> dict:
    clock = ClockResource(frozen_at=now.isoformat())
    return {
        "clock": clock,
        "store": StoreResource(db_path=str(settings.layout.lifecycle_db)),
        "archive": ArchiveResource(
            archive_url="sim://lasco",
            schedule_url="sim://schedule",
            sim_seed=SEED,
            backoff_seconds=0.0,
            clock=clock,
        ),
        "pipeline": pipeline_resource(settings),
    }


def _tick(sensor, settings, now, cursor=None, runs_in_progress=()):
    """One evaluation; ``runs_in_progress``: hour partitions that already have a running ingest run."""
    repo = make_defs(settings).get_repository_def()
    with (
        DagsterInstance.ephemeral() as instance,
        build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources=_resources(settings, now),
            repository_def=repo,
        ) as ctx,
    ):
        for key in runs_in_progress:
            instance.add_run(
                DagsterRun(
                    job_name=INGEST_HOUR_JOB,
                    status=DagsterRunStatus.STARTED,
                    tags={"dagster/partition": key},
                )
            )
        return sensor.evaluate_tick(ctx)


def _sensor(settings, name):
    return make_defs(settings).get_repository_def().get_sensor_def(name)


def _a_pass(sim: SimArchive):
    day = NOW.date()
    return next(
        p
        for p in sim.passes(day)
        if p.bot > datetime.combine(day, datetime.min.time(), NOW.tzinfo) + timedelta(hours=2)
    )


def test_downlink_sensor_requests_exactly_the_hours_a_pass_delivered(settings):
    sensor = _sensor(settings, "downlink_sensor")
    frozen = {"now": NOW}
    sim = SimArchive(SimConfig(seed=SEED), clock=lambda: frozen["now"])
    client = simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)
    pas = _a_pass(sim)
    t0, t1 = pas.bot - timedelta(minutes=1), pas.eot + timedelta(minutes=5)

    # Everything that arrived by t0 is already known: the sensor finds nothing.
    settings.home.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.layout.lifecycle_db)
    start = (t0 - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    frozen["now"] = t0
    discover_window(store, client, tuple(Detector), start, t0 + timedelta(hours=1), now=t0)
    quiet = _tick(sensor, settings, t0)
    assert not quiet.run_requests
    assert json.loads(quiet.cursor)["last_poll"]

    # The pass delivers: runs for exactly the hours whose files arrived in (t0, t1].
    days = {start.date(), t0.date()}
    expected = {
        hour_floor(o.observed_at)
        for d in Detector
        for day in days
        for o in sim.observations(day, d)
        if t0 < o.arrived_at <= t1 and o.observed_at >= start
    }
    assert expected, "the chosen pass delivered nothing; pick another"
    busy = _tick(sensor, settings, t1, cursor=quiet.cursor)
    requested = {r.partition_key for r in busy.run_requests}
    assert requested == {h.strftime("%Y-%m-%d-%H:%M") for h in expected}
    # An hour that already has a queued or running ingest run is not asked for again.
    one = sorted(requested)[0]
    held = _tick(sensor, settings, t1, cursor=quiet.cursor, runs_in_progress=[one])
    assert {r.partition_key for r in held.run_requests} == requested - {one}
    # A later tick with the same unknown files asks for the same run keys (deduplicated).
    again = _tick(sensor, settings, t1 + timedelta(minutes=20), cursor=busy.cursor)
    assert {r.run_key for r in again.run_requests} == {r.run_key for r in busy.run_requests}


def test_downlink_sensor_polls_rarely_when_no_pass_is_under_way(settings):
    sensor = _sensor(settings, "downlink_sensor")
    settings.home.mkdir(parents=True, exist_ok=True)
    SQLiteStore(settings.layout.lifecycle_db)  # empty store: no slot is ACTIVE
    first = _tick(sensor, settings, NOW)
    second = _tick(sensor, settings, NOW + timedelta(minutes=5), cursor=first.cursor)
    assert not second.run_requests
    assert "next poll" in (second.skip_message or "")


def test_retry_sensor_asks_for_retry_due_hours_but_never_abandoned(settings):
    sensor = _sensor(settings, "retry_sensor")
    settings.home.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.layout.lifecycle_db, max_attempts=2)
    sim = SimArchive(SimConfig(seed=SEED), clock=lambda: NOW)
    client = simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)
    hour = datetime(2025, 6, 10, 3, tzinfo=NOW.tzinfo)
    discover_window(store, client, tuple(Detector), hour, hour + timedelta(hours=2), now=NOW)
    claimed = store.claim(
        target=FileState.DOWNLOADING, owner="t", now=NOW, start=hour, end=hour + timedelta(hours=2)
    )
    first, rest = claimed[0], claimed[1:]
    assert rest
    store.fail(first.name, "boom", now=NOW, permanent=True)  # ABANDONED
    for rec in rest:
        store.fail(rec.name, "timeout", now=NOW)
    later = NOW + timedelta(hours=2)
    result = _tick(sensor, settings, later)
    expected = {hour_floor(r.observed_at).strftime("%Y-%m-%d-%H:%M") for r in rest}
    assert {r.partition_key for r in result.run_requests} == expected
    assert store.get_file(first.name).state is FileState.ABANDONED
    # An hour whose run is already queued gets no second one.
    queued = sorted(expected)[0]
    waiting = _tick(sensor, settings, later, runs_in_progress=[queued])
    assert {r.partition_key for r in waiting.run_requests} == expected - {queued}
    # Before the backoff is due: nothing.
    early = _tick(sensor, settings, NOW)
    assert not early.run_requests and early.skip_message == "no retry-due files"


def test_slot_sensor_moves_slots_with_the_clock(settings):
    sensor = _sensor(settings, "slot_sensor")
    settings.home.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.layout.lifecycle_db)
    bot = NOW + timedelta(hours=1)
    store.upsert_slots([Slot(bot=bot, eot=bot + timedelta(hours=2), antenna="D24")], now=NOW)
    _tick(sensor, settings, NOW)
    assert store.get_slot(bot).state is SlotState.PENDING
    _tick(sensor, settings, bot + timedelta(minutes=10))
    assert store.get_slot(bot).state is SlotState.ACTIVE
    _tick(sensor, settings, bot + timedelta(hours=3))
    assert store.get_slot(bot).state is SlotState.MISSED
