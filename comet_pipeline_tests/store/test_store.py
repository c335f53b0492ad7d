"""Idempotency, time handling, queries and the CAS contract of the lifecycle store, on every
engine (the ``store`` fixture is parametrized over them in ``conftest.py``)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from comet_pipeline.domain import (
    CandidateRecord,
    DetectionRecord,
    Detector,
    FileState,
    Frame,
    ProductFile,
    Slot,
    SlotState,
)
from comet_pipeline.store import (
    IllegalTransition,
    UnknownFile,
)
from comet_pipeline_tests.store._helpers import T0, archive_file, many_files


def test_register_is_idempotent_and_links_slots(store):
    bot = T0 - timedelta(hours=1)
    store.upsert_slots([Slot(bot, bot + timedelta(hours=2), "DSS-24")], T0)
    files = [
        archive_file("in_slot.fts", arrived_at=T0 + timedelta(minutes=30)),
        archive_file("in_grace.fts", arrived_at=T0 + timedelta(hours=1, minutes=20)),
        archive_file("outside.fts", arrived_at=T0 + timedelta(hours=3)),
        archive_file("later.fts"),
        archive_file("polar.fts"),
    ]
    inserted = store.register_files(files, now=T0, run_id="r1", skipped={"polar.fts": "polarized"})
    assert inserted == [f.name for f in files]
    count = store.transition_count()
    assert count == 5
    assert store.register_files(files, now=T0 + timedelta(hours=5)) == []
    assert store.transition_count() == count
    assert store.get_file("in_slot.fts").slot_bot == bot
    assert store.get_file("in_grace.fts").slot_bot == bot
    assert store.get_file("outside.fts").slot_bot is None
    polar = store.get_file("polar.fts")
    assert (polar.state, polar.skip_reason) == (FileState.SKIPPED, "polarized")
    assert store.transitions_for("polar.fts")[0].from_state is None
    # a known file gains its arrival time and slot later, without a transition
    late = archive_file("later.fts", arrived_at=T0 + timedelta(minutes=5))
    assert store.register_files([late], now=T0) == []
    rec = store.get_file("later.fts")
    assert (rec.arrived_at, rec.slot_bot, rec.state) == (late.arrived_at, bot, FileState.DISCOVERED)
    assert store.transition_count() == count
    assert store.known_names(["later.fts", "nope.fts"]) == {"later.fts"}


def test_upsert_slots_is_idempotent_and_keeps_state(store):
    slots = [
        Slot(T0 + timedelta(hours=h), T0 + timedelta(hours=h, minutes=90), "DSS-14")
        for h in range(3)
    ]
    assert store.upsert_slots(slots, T0) == 3
    before = store.slots_between(T0, T0 + timedelta(days=1))
    assert store.upsert_slots(slots, T0 + timedelta(hours=1)) == 0
    assert store.slots_between(T0, T0 + timedelta(days=1)) == before
    assert len(store.slot_transitions_for(slots[0].bot)) == 1
    assert store.set_slot_state(slots[0].bot, SlotState.ACTIVE, reason="bot passed", now=T0)
    moved = Slot(slots[0].bot, slots[0].eot + timedelta(minutes=10), "DSS-43")
    assert store.upsert_slots([moved], T0) == 0
    [first, *_] = store.slots_between(T0, T0 + timedelta(hours=3))
    assert (first.state, first.antenna, first.eot) == (SlotState.ACTIVE, "DSS-43", moved.eot)
    assert [s.bot for s in store.slots_between(T0, T0 + timedelta(hours=2))] == [
        slots[0].bot,
        slots[1].bot,
    ]
    assert store.slot_for_arrival(T0 + timedelta(minutes=30), timedelta(0)).bot == slots[0].bot
    # overlapping windows: the latest pass that started wins
    assert (
        store.slot_for_arrival(T0 + timedelta(hours=1, minutes=10), timedelta(0)).bot
        == slots[1].bot
    )
    assert store.slot_for_arrival(T0 + timedelta(hours=5), timedelta(minutes=30)) is None
    assert (
        store.slot_for_arrival(T0 + timedelta(hours=3, minutes=40), timedelta(minutes=30)).bot
        == slots[2].bot
    )


def test_timestamps_round_trip_as_utc(store):
    eastern = timezone(timedelta(hours=-5))
    observed = datetime(2025, 3, 1, 7, 30, 15, 123456, tzinfo=eastern)  # 12:30:15 UTC
    store.register_files(
        [archive_file("tz.fts", observed, arrived_at=observed + timedelta(hours=1))], now=observed
    )
    rec = store.get_file("tz.fts")
    assert rec.observed_at == observed and rec.observed_at.tzinfo == UTC
    assert rec.observed_at.hour == 12 and rec.observed_at.microsecond == 123456
    assert rec.arrived_at.utcoffset() == timedelta(0)
    assert store.transitions_for("tz.fts")[0].at == observed
    with pytest.raises(ValueError, match="naive"):
        # naive on purpose: the store must refuse it
        store.register_files([archive_file("naive.fts", datetime(2025, 3, 1))], now=T0)  # noqa: DTZ001
    assert store.get_file("naive.fts") is None  # the failed batch rolled back


def test_chronological_query_is_ordered_and_half_open(store):
    files = many_files(50) + [
        archive_file("c3.fts", T0 + timedelta(minutes=30), detector=Detector.C3)
    ]
    store.register_files(list(reversed(files)), now=T0)
    got = store.files_between(Detector.C2, T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert [f.observed_at for f in got] == sorted(f.observed_at for f in got)
    assert len(got) == 10 and all(f.detector == Detector.C2 for f in got)
    assert got[0].observed_at == T0 + timedelta(hours=1)  # [start, end)
    assert store.files_between("c2", T0, T0 + timedelta(days=1), states=[FileState.READY]) == []
    counts = store.counts_by_state(detector=Detector.C2, start=T0, end=T0 + timedelta(hours=2))
    assert counts[FileState.DISCOVERED] == 10 and counts[FileState.ABANDONED] == 0


def test_cas_lost_race_returns_false(store):
    store.register_files([archive_file("r.fts")], now=T0)
    # many threads race the same guarded move: exactly one wins, none raises
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def move() -> None:
        barrier.wait()
        results.append(
            store.transition("r.fts", FileState.DOWNLOADING, now=T0, expected=FileState.DISCOVERED)
        )

    threads = [threading.Thread(target=move) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    assert len(store.transitions_for("r.fts")) == 2
    # stale belief, legal move from where the file really is: not applied, no audit row
    store.fail("r.fts", "net", now=T0)
    assert store.get_file("r.fts").state == FileState.DOWNLOAD_FAILED
    assert (
        store.transition("r.fts", FileState.DOWNLOADING, now=T0, expected=FileState.DISCOVERED)
        is False
    )
    assert store.get_file("r.fts").state == FileState.DOWNLOAD_FAILED
    assert len(store.transitions_for("r.fts")) == 3


def test_illegal_move_and_unknown_file_messages(store):
    store.register_files([archive_file("i.fts")], now=T0)
    with pytest.raises(IllegalTransition) as err:
        store.transition("i.fts", FileState.PROCESSED, now=T0)
    message = str(err.value)
    assert "'i.fts'" in message and "DISCOVERED" in message and "PROCESSED" in message
    assert (err.value.current, err.value.attempted) == (FileState.DISCOVERED, FileState.PROCESSED)
    with pytest.raises(UnknownFile, match="ghost.fts"):
        store.transition("ghost.fts", FileState.DOWNLOADING, now=T0)
    with pytest.raises(TypeError):
        store.transition("i.fts", FileState.DOWNLOADING, now=T0, state="PROCESSED")


def test_frames_round_trip_and_order(store):
    files = many_files(3)
    store.register_files(files, now=T0)
    for i, f in enumerate(reversed(files)):
        frame = Frame(
            name=f.name,
            detector=Detector.C2,
            observed_at=f.observed_at,
            products={
                "calibrated": ProductFile(f"/cal/{f.name}.fits", 4_200_000),
                "processed_png": ProductFile(f"/png/{f.name}.png", 300_000),
            },
            background_kind="rolling",
            background_frames=i,
            stats={"median": 10.0 + i, "noise_sigma": 1.5, "missing_blocks": 2, "star_count": 31.0},
        )
        store.record_frame(frame, T0)
    got = store.frames_between(Detector.C2, T0, T0 + timedelta(days=1))
    assert [f.name for f in got] == [f.name for f in files]
    assert got[0].stats == {
        "median": 12.0,
        "noise_sigma": 1.5,
        "missing_blocks": 2,
        "star_count": 31.0,
    }
    assert got[0].path("processed_png") == f"/png/{files[0].name}.png"
    assert got[0].products["calibrated"].size_bytes == 4_200_000
    assert (got[0].background_kind, got[0].background_frames) == ("rolling", 2)
    # re-recording replaces the whole product set: a product the frame lost is gone
    updated = Frame(
        files[0].name,
        Detector.C2,
        files[0].observed_at,
        products={"calibrated": ProductFile("/cal/v2.fits", 1)},
    )
    store.record_frame(updated, T0)
    assert store.frame(files[0].name) == updated
    assert store.frame(files[0].name).path("processed_png") is None
    assert store.frame("nope") is None
    assert store.summary().totals["frames"] == 3


def test_candidates_and_detections(store):
    files = many_files(3)
    store.register_files(files, now=T0)
    cand = CandidateRecord(
        id="c2-20250301-0001",
        detector="c2",
        first_seen_at=files[0].observed_at,
        last_seen_at=files[2].observed_at,
        n_frames=3,
        score=0.9,
        snr=None,
        speed_px_per_hour=None,
        direction_deg=None,
        status="new",
        report_text=None,
        cutout_path=None,
    )
    store.upsert_candidate(cand, now=T0)
    store.upsert_candidate(replace(cand, score=0.95), now=T0)
    rows = [
        DetectionRecord(f.name, f.observed_at, 100.0 + i, 200.0, snr=7.0)
        for i, f in enumerate(files)
    ]
    assert store.replace_detections(cand.id, rows) == 3
    assert store.replace_detections(cand.id, rows[:2]) == 2
    [got] = store.candidates(detector="c2", since=T0, until=T0 + timedelta(hours=1))
    assert got.score == 0.95 and got.first_seen_at == files[0].observed_at
    assert got.updated_at == T0
    assert store.candidates(since=T0 + timedelta(hours=2)) == []
    dets = store.detections_for(cand.id)
    assert [d.file for d in dets] == [files[0].name, files[1].name]
    assert dets[1].x == 101.0 and dets[1].observed_at == files[1].observed_at


def test_summary_counts(store):
    assert store.summary().empty is True
    store.upsert_slots([Slot(T0, T0 + timedelta(hours=1), "DSS-14")], T0)
    store.register_files(many_files(4), now=T0, skipped={"20000000.fts": "dup"})
    s = store.summary()
    assert s.empty is False
    assert s.slots_by_state == {SlotState.PENDING: 1}
    assert s.files_by_detector_state == {
        Detector.C2: {FileState.DISCOVERED: 3, FileState.SKIPPED: 1}
    }
    assert s.totals["files"] == 4 and s.totals["transitions"] == 4


def test_claim_filters_and_order(store):
    c2 = many_files(10)
    c3 = [
        archive_file(f"3{i:07d}.fts", T0 + timedelta(minutes=5 + 12 * i), detector=Detector.C3)
        for i in range(3)
    ]
    store.register_files(c2 + c3, now=T0)
    got = store.claim(
        target=FileState.DOWNLOADING,
        owner="w",
        now=T0,
        detector=Detector.C2,
        start=T0 + timedelta(minutes=12),
        end=T0 + timedelta(minutes=60),
        limit=3,
    )
    assert [r.name for r in got] == [f.name for f in c2[1:4]]
    assert (
        store.claim(
            target=FileState.DOWNLOADING, owner="w", now=T0, names=[c3[2].name, c2[1].name]
        )[0].name
        == c3[2].name
    )
    assert store.claim(target=FileState.PROCESSING, owner="w", now=T0) == []
    with pytest.raises(ValueError, match="claim target must be one of"):
        store.claim(target=FileState.READY, owner="w", now=T0)
    rest = store.claim(target=FileState.DOWNLOADING, owner="w", now=T0)
    assert len(rest) == 13 - 4 and [r.observed_at for r in rest] == sorted(
        r.observed_at for r in rest
    )


def test_count_arrivals_in_a_window(store):
    files = [
        archive_file(f"a{i}.fts", arrived_at=T0 + timedelta(minutes=10 * i)) for i in range(6)
    ] + [archive_file("never.fts")]
    store.register_files(files, now=T0)
    assert store.count_arrivals(T0 + timedelta(minutes=10), T0 + timedelta(minutes=30)) == 3
    assert store.count_arrivals(T0, T0 + timedelta(hours=1), detector=Detector.C3) == 0


def test_complete_processing_is_refused_to_a_run_that_lost_its_lease(make_store):
    from datetime import UTC, datetime, timedelta

    from comet_pipeline.domain import ArchiveFile, Detector, FileState, Frame

    now = datetime(2025, 6, 10, 3, tzinfo=UTC)
    store = make_store(lease=timedelta(minutes=10))
    store.register_files([ArchiveFile("32000001.fts", Detector.C3, now, 18.0, 1024, 1024)], now=now)
    for target in (FileState.DOWNLOADING, FileState.DOWNLOADED, FileState.READY):
        assert store.transition("32000001.fts", target, now=now, run_id="a")
    assert store.claim(target=FileState.PROCESSING, owner="old", now=now)
    later = now + timedelta(minutes=30)
    assert store.recover_expired_leases(later) == ["32000001.fts"]
    assert store.claim(target=FileState.PROCESSING, owner="new", now=later + timedelta(hours=2))
    frame = Frame("32000001.fts", Detector.C3, now, {"calibrated": ProductFile("/stale.cal.fits")})
    assert not store.complete_processing(frame, owner="old", now=later)
    assert store.frame("32000001.fts") is None
    fresh = Frame("32000001.fts", Detector.C3, now, {"calibrated": ProductFile("/fresh.cal.fits")})
    assert store.complete_processing(fresh, owner="new", now=later)
    assert store.frame("32000001.fts").path("calibrated") == "/fresh.cal.fits"
    assert store.get_file("32000001.fts").state is FileState.PROCESSED
