"""Products through Dagster: the day's playback animation, and comet candidates."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey, DagsterInstance
from PIL import Image

from comet_pipeline.cli.runner import ingest_range
from comet_pipeline.definitions import build_definitions
from comet_pipeline.defs.resources import ArchiveResource, ClockResource
from comet_pipeline.domain import CandidateStatus, Detector
from comet_pipeline.ingest.windows import hour_floor
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore

from .conftest import NOW, SEED

COMETS_PER_DAY = 1.0  # the simulator then guarantees one Kreutz comet per detector-day


def _bright_c3_comet():
    sim = SimArchive(SimConfig(seed=SEED, comets_per_day=COMETS_PER_DAY), clock=lambda: NOW)
    day = NOW - timedelta(days=1, hours=12)
    truths = sim.truth(day, day + timedelta(days=1), detector=Detector.C3)
    assert truths, "the simulator promised a comet"
    return max(truths, key=lambda t: max(f.peak_snr for f in t.frames))


def test_comet_candidates_find_the_simulated_comet_and_playback_plays_the_day(tmp_path):
    comet = _bright_c3_comet()
    frames = comet.frames
    end = hour_floor(frames[min(len(frames) - 1, 12)].observed_at) + timedelta(hours=1)
    start = end - timedelta(hours=6)
    settings = Settings(home=tmp_path / "home", detectors=(Detector.C3,))
    settings.home.mkdir()
    clock = ClockResource(frozen_at=NOW.isoformat())
    archive = ArchiveResource(
        archive_url="sim://lasco",
        schedule_url="sim://schedule",
        sim_seed=SEED,
        sim_comets_per_day=COMETS_PER_DAY,
        backoff_seconds=0.0,
        clock=clock,
    )
    with DagsterInstance.ephemeral() as instance:
        assert all(
            ingest_range(settings, start, end, instance=instance, clock=clock, archive=archive)
        )
        defs = build_definitions(settings, clock=clock, archive=archive)
        day = f"{start:%Y-%m-%d}"
        result = defs.resolve_job_def("__ASSET_JOB").execute_in_process(
            instance=instance, partition_key=day, asset_selection=[AssetKey("frame_playback")]
        )
        assert result.success

    store = SQLiteStore(settings.layout.lifecycle_db)
    truth = {f.name: (f.x, f.y) for f in frames if start <= f.observed_at < end}
    matched = []
    for row in store.candidates(detector="c3", since=start, until=end):
        dets = store.detections_for(row.id)
        errors = [
            ((d.x - truth[d.file][0]) ** 2 + (d.y - truth[d.file][1]) ** 2) ** 0.5
            for d in dets
            if d.file in truth
        ]
        if errors and sorted(errors)[len(errors) // 2] <= 3.0:
            matched.append(row)
    assert len(matched) == 1, "the comet should be exactly one candidate"
    assert matched[0].n_frames >= 5
    assert "C3" in (matched[0].report_text or "")

    playback = result.asset_materializations_for_node("frame_playback")[-1].metadata
    animation = Image.open(playback["c3/animation"].value)
    processed = store.frames_between(
        Detector.C3,
        hour_floor(start).replace(hour=0),
        hour_floor(start).replace(hour=0) + timedelta(days=1),
    )
    assert playback["c3/frames"].value == len(processed)
    assert getattr(animation, "n_frames", 1) == len(processed)

    # A hunter rejects the comet; the next hunt of the same hour re-finds the same track,
    # keeps the verdict, says so in the materialization, and leaves it out of the top list.
    comet_id = matched[0].id
    store.review_candidate(comet_id, CandidateStatus.REJECTED, by="ada", now=NOW)
    last_hour = f"{end - timedelta(hours=1):%Y-%m-%d-%H:%M}"
    with DagsterInstance.ephemeral() as instance:
        again = defs.resolve_job_def("__ASSET_JOB").execute_in_process(
            instance=instance,
            partition_key=last_hour,
            asset_selection=[AssetKey("comet_candidates")],
        )
    assert again.success
    hunted = again.asset_materializations_for_node("comet_candidates")[-1].metadata
    # the hourly runs saved each frame's source table; hunting the hour again writes none
    tables = list((settings.layout.products_dir / "sources" / "c3").rglob("*.sources.ecsv"))
    assert len(tables) == len(store.frames_between(Detector.C3, start, end)) > 10
    assert hunted["source_tables_written"].value == 0
    assert store.candidate(comet_id).status is CandidateStatus.REJECTED
    assert hunted["verdicts/rejected"].value >= 1
    table = hunted["candidates"].value
    assert any(
        comet_id in line and line.rstrip(" |").endswith("rejected") for line in table.splitlines()
    )
    assert not any(comet_id in key_text(v) for k, v in hunted.items() if k.startswith("top"))


def key_text(value) -> str:
    return str(getattr(value, "value", value))
