"""The ingestion services end to end on the simulator, and their idempotence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from comet_pipeline.domain import FileState, SlotState
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window, unknown_files_by_hour
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.slots import listed_arrivals, scheduled_slots, sync_slots
from comet_pipeline.store import SQLiteStore

from .conftest import DETECTORS, HOUR, NOW

END = HOUR + timedelta(hours=1)


def _records(store):
    return [r for d in DETECTORS for r in store.files_between(d, HOUR, END)]


def _sim_files(sim):
    return [
        o
        for d in DETECTORS
        for o in sim.observations(HOUR.date(), d)
        if HOUR <= o.observed_at < END and o.arrived_at <= NOW
    ]


def test_discover_registers_every_listed_file_once(store, client, sim):
    result = discover_window(store, client, DETECTORS, HOUR, END, now=NOW, run_id="r1")
    expected = _sim_files(sim)
    records = {r.name: r for r in _records(store)}
    assert set(records) == {o.name for o in expected}
    for obs in expected:
        rec = records[obs.name]
        assert rec.arrived_at is not None
        assert abs((rec.arrived_at - obs.arrived_at).total_seconds()) <= 60  # listing is HH:MM
        if not obs.synoptic or obs.duplicate_of:
            assert rec.state is FileState.SKIPPED and rec.skip_reason, obs
        else:
            assert rec.state is FileState.DISCOVERED, obs
    assert result.outcomes["discovered"] == sum(
        1 for o in expected if o.synoptic and not o.duplicate_of
    )
    assert result.latency.median_min is not None and result.latency.median_min > 0

    before = store.transition_count()
    again = discover_window(store, client, DETECTORS, HOUR, END, now=NOW, run_id="r2")
    assert again.outcomes["discovered"] == 0 and again.outcomes["skipped"] == 0
    assert store.transition_count() == before


def test_download_and_process_an_hour_then_nothing_the_second_time(store, client, settings, clock):
    discover_window(store, client, DETECTORS, HOUR, END, now=NOW, run_id="r1")
    synoptic = [r for r in _records(store) if r.state is FileState.DISCOVERED]
    assert synoptic

    got = download_window(
        store, client, settings.layout.raw_dir, HOUR, END, clock=clock, owner="run-a"
    )
    assert got.outcomes["ready"] == len(synoptic), got.errors
    for rec in store.files_between(DETECTORS[0], HOUR, END):
        if rec.state is FileState.READY:
            assert Path(rec.raw_path).is_file() and len(rec.sha256) == 64

    before = store.transition_count()
    again = download_window(
        store, client, settings.layout.raw_dir, HOUR, END, clock=clock, owner="run-b"
    )
    assert sum(again.outcomes.values()) == 0
    assert store.transition_count() == before

    processor = FrameProcessor(settings.layout.frames_dir)
    done = process_window(store, processor, HOUR, END, clock=clock, owner="run-c")
    assert done.outcomes["processed"] == len(synoptic), done.errors
    frames = [f for d in DETECTORS for f in store.frames_between(d, HOUR, END)]
    assert len(frames) == len(synoptic)
    assert [f.observed_at for f in frames if f.detector is DETECTORS[1]] == sorted(
        f.observed_at for f in frames if f.detector is DETECTORS[1]
    )
    for frame in frames:
        assert all(Path(frame.path(p)).is_file() for p in ("calibrated", "processed_png"))
        cal = frame.products["calibrated"]  # 1024², RICE-compressed raw DN (lossless)
        assert cal.size_bytes == Path(cal.path).stat().st_size > 100_000
        assert frame.stats["masked_fraction"] < 0.9

    before = store.transition_count()
    assert (
        sum(process_window(store, processor, HOUR, END, clock=clock, owner="d").outcomes.values())
        == 0
    )
    assert store.transition_count() == before


def test_sync_slots_reconciles_against_clock_and_arrivals(store, client, sim):
    day = HOUR.date()
    discover_window(
        store, client, DETECTORS, HOUR - timedelta(hours=3), END + timedelta(hours=20), now=NOW
    )
    result = sync_slots(store, scheduled_slots(client), day, NOW)
    slots = store.slots_between(HOUR.replace(hour=0), HOUR.replace(hour=0) + timedelta(days=1))
    assert slots and result.outcomes["new"] == len(slots)
    # The day is over at NOW: every pass is closed, DONE exactly when files arrived in it.
    for slot in slots:
        assert slot.state in (SlotState.DONE, SlotState.MISSED)
        arrivals = store.count_arrivals(slot.bot, slot.eot + timedelta(minutes=30))
        assert (slot.state is SlotState.DONE) == (arrivals > 0)
    assert sync_slots(store, scheduled_slots(client), day, NOW).outcomes["new"] == 0


def test_unknown_files_by_hour_only_reports_what_the_store_lacks(store, client, clock):
    start = HOUR.replace(hour=0)
    end = start + timedelta(days=1)
    unknown = unknown_files_by_hour(store, client, DETECTORS, start, end)
    assert HOUR in unknown
    discover_window(store, client, DETECTORS, HOUR, END, now=NOW)
    after = unknown_files_by_hour(store, client, DETECTORS, start, end)
    assert HOUR not in after
    assert set(after) == set(unknown) - {HOUR}


def test_slots_follow_the_schedule_and_listings_before_any_discovery(store, client, sim, clock):
    day = HOUR.date()
    clock.now = HOUR.replace(hour=23, minute=50)  # the schedule in force covers `day`
    listed = listed_arrivals(client, DETECTORS, [day - timedelta(days=1), day])
    sync_slots(store, scheduled_slots(client), day, clock.now, listed)
    slots = store.slots_between(HOUR.replace(hour=0), HOUR.replace(hour=0) + timedelta(days=1))
    passes = [p for p in sim.passes(day) if p.bot.date() == day]
    assert [(s.bot, s.antenna, s.source) for s in slots] == [
        (p.bot.replace(second=0, microsecond=0), p.antenna, "schedule") for p in passes
    ]
    assert not store.files_between(DETECTORS[0], HOUR.replace(hour=0), clock.now)
    for slot, p in zip(slots, passes, strict=True):
        delivered = any(
            p.bot <= o.arrived_at <= p.eot + timedelta(minutes=30)
            for d in DETECTORS
            for o in [*sim.observations(day, d), *sim.observations(day - timedelta(days=1), d)]
        )
        if clock.now > slot.eot + timedelta(minutes=30):
            assert slot.state is (SlotState.DONE if delivered else SlotState.MISSED)
        elif clock.now >= slot.bot:
            assert slot.state in (SlotState.ACTIVE, SlotState.DONE)


def test_a_file_left_downloaded_by_a_killed_run_becomes_ready(store, client, settings, clock):
    discover_window(store, client, DETECTORS, HOUR, END, now=NOW)
    first = store.claim(target=FileState.DOWNLOADING, owner="killed", now=NOW, limit=1)[0]
    path = settings.layout.raw_dir / "x.fts"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"verified bytes")
    assert store.transition(
        first.name, FileState.DOWNLOADED, now=NOW, owner="killed", raw_path=str(path)
    )
    download_window(store, client, settings.layout.raw_dir, HOUR, END, clock=clock, owner="next")
    assert store.get_file(first.name).state is FileState.READY


def test_a_known_file_gains_its_arrival_time_when_the_listing_shows_it(store, client, sim):
    obs = next(o for o in _sim_files(sim) if o.synoptic and not o.duplicate_of)
    from comet_pipeline.domain import ArchiveFile

    early = ArchiveFile(
        obs.name,
        obs.detector,
        obs.observed_at,
        obs.exptime,
        obs.naxis1,
        obs.naxis2,
        obs.filter,
        obs.polarizer,
        obs.program,
        arrived_at=None,
    )
    store.register_files([early], now=NOW)
    assert store.get_file(obs.name).arrived_at is None
    transitions = store.transition_count()
    discover_window(store, client, DETECTORS, HOUR, END, now=NOW)
    record = store.get_file(obs.name)
    assert record.arrived_at is not None and record.state is FileState.DISCOVERED
    assert len(store.transitions_for(obs.name)) == 1  # filled in, not moved
    assert store.transition_count() > transitions  # the other files did register


def test_cutout_strips_of_merged_away_candidates_are_removed(tmp_path):
    from comet_pipeline.domain import Detector
    from comet_pipeline.ingest.hunt import remove_cutouts

    kept, gone = tmp_path / "candidates" / "c3" / "C3-a.png", tmp_path / "candidates" / "c3"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"png")
    (gone / "C3-b.png").write_bytes(b"png")
    assert remove_cutouts(tmp_path, Detector.C3, {"C3-b", "C3-never-written"}) == 1
    assert kept.exists() and not (gone / "C3-b.png").exists()


def test_step_errors_are_bounded():
    from comet_pipeline.ingest.results import StepResult

    result = StepResult()
    result.add_error("bad line: " + "j" * 1_000_000)
    [error] = result.errors
    assert len(error) < 400 and "1,000,010 characters" in error


def test_an_unusable_schedule_page_writes_no_slots_and_says_why(store):
    from comet_pipeline.archive.parsers import parse_schedule
    from comet_pipeline.ingest.slots import ScheduleRead

    garbage = bytes(range(256)).decode("latin-1") * 400  # binary junk served with status 200
    assert len(parse_schedule(garbage)) == 0
    day = HOUR.date()
    result = sync_slots(store, ScheduleRead([], "no pass this parser understands"), day, NOW)
    assert result.failed_sources == ["DSN schedule: no pass this parser understands"]
    assert store.slots_between(HOUR.replace(hour=0), HOUR.replace(hour=0) + timedelta(days=1)) == []


def test_detectors_processed_side_by_side_make_the_same_products(tmp_path, client, clock):
    """The detectors' chains in two threads (the default) give byte for byte the products
    of one chain after the other, each detector in time order."""
    import hashlib

    def run(home: Path, parallel: bool) -> dict[str, dict[str, str]]:
        home.mkdir()
        store = SQLiteStore(home / "lifecycle.db")
        discover_window(store, client, DETECTORS, HOUR, END, now=NOW, run_id="r")
        download_window(store, client, home / "raw", HOUR, END, clock=clock, owner="d")
        processor = FrameProcessor(home / "frames")
        seen: list[int] = []
        done = process_window(
            store,
            processor,
            HOUR,
            END,
            clock=clock,
            owner="p",
            parallel=parallel,
            progress=lambda n, _total: seen.append(n),
        )
        assert done.outcomes["processed"] > 0 and not done.errors
        assert sorted(seen) == list(range(done.outcomes["processed"]))  # each file counted once
        frames = [f for d in DETECTORS for f in store.frames_between(d, HOUR, END)]
        assert {f.detector for f in frames} == set(DETECTORS)
        return {
            f.name: {
                k: hashlib.sha256(Path(p.path).read_bytes()).hexdigest()
                for k, p in f.products.items()
            }
            for f in frames
        }

    assert run(tmp_path / "threads", True) == run(tmp_path / "serial", False)


def test_detectors_hunted_side_by_side_find_what_one_after_the_other_finds(
    tmp_path, store, client, settings, clock
):
    """Hunting C2 and C3 in two threads (the default) stores and reports exactly what
    hunting them one after the other does."""
    import shutil

    from comet_pipeline.ingest.hunt import hunt_window

    start = HOUR - timedelta(hours=3)
    discover_window(store, client, DETECTORS, start, END, now=NOW, run_id="r")
    download_window(store, client, settings.layout.raw_dir, start, END, clock=clock, owner="d")
    processor = FrameProcessor(settings.layout.frames_dir)
    process_window(store, processor, start, END, clock=clock, owner="p")

    def hunt(parallel: bool):
        copy = tmp_path / f"parallel-{parallel}.db"
        shutil.copy(settings.layout.lifecycle_db, copy)
        mine = SQLiteStore(copy)
        result = hunt_window(
            mine,
            tmp_path / f"products-{parallel}",
            start,
            END,
            DETECTORS,
            now=NOW,
            parallel=parallel,
        )
        stored = sorted((c.id, c.n_frames, round(c.score, 6)) for c in mine.candidates())
        found = [(c.id, round(c.score, 6)) for c in result.candidates]
        return result.frames, result.stats, found, stored

    threads, serial = hunt(True), hunt(False)
    assert threads == serial
    frames, stats, _, _ = threads
    assert all(frames[d] > 0 for d in DETECTORS) and set(stats) == set(DETECTORS)
