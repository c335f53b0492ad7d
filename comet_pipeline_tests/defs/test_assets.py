"""Each asset materialized for one partition on the simulator; the store checked after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import AssetKey

from comet_pipeline.defs.jobs import INGEST_HOUR_JOB, SLOTS_JOB
from comet_pipeline.domain import Detector, FileState, SlotState
from comet_pipeline.store import SQLiteStore

from .conftest import PARTITION, make_defs

HOUR = datetime(2025, 6, 10, 3, tzinfo=UTC)


def _materialization(result, key: str):
    events = result.asset_materializations_for_node(key)
    assert events, f"no materialization of {key}"
    return events[-1]


def test_definitions_load_and_name_the_contract(settings):
    defs = make_defs(settings)
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"downlink_slots", "discovered_files", "downloaded_files", "processed_frames"} <= keys
    assert {"downlink_sensor", "retry_sensor", "slot_sensor"} <= {s.name for s in repo.sensor_defs}
    assert {"daily_slots_schedule", "hourly_sweep_schedule"} <= {s.name for s in repo.schedule_defs}
    hourly_keys = ["discovered_files", "downloaded_files", "processed_frames", "comet_candidates"]
    policies = {repo.asset_graph.get(AssetKey(k)).backfill_policy for k in hourly_keys}
    assert len(policies) == 1  # one policy, so a backfill of the job runs a month per run
    assert next(iter(policies)).max_partitions_per_run == 31 * 24
    slots_policy = repo.asset_graph.get(AssetKey("downlink_slots")).backfill_policy
    assert slots_policy is not None and slots_policy.max_partitions_per_run == 31
    # step processes forked from a server that imported the project once
    executor = repo.get_job(INGEST_HOUR_JOB).executor_def
    assert executor.name == "multiprocess_forkserver"
    hourly = repo.asset_graph.get(AssetKey("discovered_files")).partitions_def
    assert hourly.get_partition_keys(current_time=datetime(2025, 1, 1, 3, 30, tzinfo=UTC))[:2] == [
        "2025-01-01-00:00",
        "2025-01-01-01:00",
    ]


def test_slots_asset_for_one_day(settings, instance):
    defs = make_defs(settings)
    result = defs.resolve_job_def(SLOTS_JOB).execute_in_process(
        partition_key="2025-06-10", instance=instance
    )
    assert result.success
    store = SQLiteStore(settings.layout.lifecycle_db)
    slots = store.slots_between(HOUR.replace(hour=0), HOUR.replace(hour=0) + timedelta(days=1))
    assert slots and all(s.state in (SlotState.DONE, SlotState.MISSED) for s in slots)
    meta = _materialization(result, "downlink_slots").metadata
    assert meta["slots"].value == len(slots)
    checks = result.get_asset_check_evaluations()
    assert sorted(c.check_name for c in checks) == ["schedule_read", "slot_coverage"]
    assert next(c for c in checks if c.check_name == "schedule_read").passed
    assert "| begin (UT) |" in meta["passes"].value


def test_slots_for_a_range_of_days_in_one_run(settings, instance):
    """A backfill's run covers up to a month of days: each day gets its slots."""
    defs = make_defs(settings)
    result = defs.resolve_job_def(SLOTS_JOB).execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2025-06-08",
            "dagster/asset_partition_range_end": "2025-06-10",
        },
    )
    assert result.success
    store = SQLiteStore(settings.layout.lifecycle_db)
    first = HOUR.replace(day=8, hour=0)
    days = {s.bot.date() for s in store.slots_between(first, first + timedelta(days=3))}
    assert days == {(first + timedelta(days=k)).date() for k in range(3)}
    meta = _materialization(result, "downlink_slots").metadata
    assert meta["days_in_run"].value == 3
    assert meta["slots"].value == len(store.slots_between(first, first + timedelta(days=3)))


def test_hour_materialized_twice_downloads_nothing_the_second_time(settings, instance):
    defs = make_defs(settings)
    job = defs.resolve_job_def(INGEST_HOUR_JOB)
    first = job.execute_in_process(partition_key=PARTITION, instance=instance)
    assert first.success
    store = SQLiteStore(settings.layout.lifecycle_db)
    records = [r for d in Detector for r in store.files_between(d, HOUR, HOUR + timedelta(hours=1))]
    assert records
    assert {r.state for r in records} <= {FileState.PROCESSED, FileState.SKIPPED}
    assert any(r.state is FileState.PROCESSED for r in records)

    frames_meta = _materialization(first, "processed_frames").metadata
    assert frames_meta["frames"].value == sum(r.state is FileState.PROCESSED for r in records)
    assert "data:image/png;base64," in frames_meta["newest_frame"].value
    assert "| file |" in _materialization(first, "discovered_files").metadata["files"].value
    assert all(c.passed for c in first.get_asset_check_evaluations())

    transitions = store.transition_count()
    second = job.execute_in_process(partition_key=PARTITION, instance=instance)
    assert second.success
    assert store.transition_count() == transitions
    meta = _materialization(second, "downloaded_files").metadata
    assert "outcome/ready" not in meta


def test_dagster_definitions_validate_passes(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["COMET_HOME"] = str(tmp_path)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-m",
            "comet_pipeline.definitions",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful" in done.stderr + done.stdout


def test_a_run_over_a_range_of_hours_reports_each_hour_by_itself(settings, instance):
    """A backfill runs 12 hours per run: each hour still gets its own counts (one
    observation per partition), and the materialization says how many hours it covers."""
    from dagster import DagsterEventType

    from comet_pipeline.cli.runner import ingest_range
    from comet_pipeline.defs.resources import ArchiveResource, ClockResource

    from .conftest import NOW, SEED

    settings.home.mkdir(parents=True, exist_ok=True)
    clock = ClockResource(frozen_at=NOW.isoformat())
    archive = ArchiveResource(
        archive_url="sim://lasco", schedule_url="sim://schedule", sim_seed=SEED,
        backoff_seconds=0.0, clock=clock,
    )  # fmt: skip
    start = HOUR
    assert all(
        ingest_range(
            settings, start, start + timedelta(hours=3), instance=instance, clock=clock,
            archive=archive,
        )
    )  # fmt: skip
    store = SQLiteStore(settings.layout.lifecycle_db)
    records = instance.get_records_for_run(
        instance.get_runs(limit=1)[0].run_id, of_type=DagsterEventType.ASSET_OBSERVATION
    ).records
    seen = {}
    for record in records:
        obs = record.event_log_entry.dagster_event.event_specific_data.asset_observation
        if obs.asset_key.to_user_string() == "discovered_files":
            seen[obs.partition] = obs.metadata["files_in_hour"].value
    assert sorted(seen) == [
        (start + timedelta(hours=h)).strftime("%Y-%m-%d-%H:00") for h in range(3)
    ]
    for key, n in seen.items():
        hour = datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
        files = [
            r for d in Detector for r in store.files_between(d, hour, hour + timedelta(hours=1))
        ]
        assert n == len(files) > 0


def test_retention_runs_as_a_daily_job_and_reports_disk_usage(settings, instance):
    """On a home with one ingested hour, nothing is old enough to go; the asset says so and
    tabulates what is on disk."""
    defs = make_defs(settings)
    hour = defs.resolve_job_def("ingest_hour").execute_in_process(
        instance=instance, partition_key=PARTITION
    )
    assert hour.success
    job = defs.resolve_job_def("apply_retention")
    result = job.execute_in_process(instance=instance)
    assert result.success
    metadata = result.asset_materializations_for_node("product_retention")[-1].metadata
    assert metadata["removed_files"].value == 0
    assert metadata["disk_mb"].value > 0
    table = metadata["disk_usage"].value
    assert "| C3 | calibrated |" in table and "| C3 | raw |" in table
    schedule = defs.resolve_schedule_def("daily_retention_schedule")
    assert schedule.job_name == "apply_retention" and schedule.cron_schedule == "30 3 * * *"
