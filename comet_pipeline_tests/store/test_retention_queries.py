"""Retention's questions to the store, on every engine: what may go, marking, usage."""

from __future__ import annotations

from datetime import timedelta

from comet_pipeline.domain import (
    CandidateRecord,
    CandidateStatus,
    DetectionRecord,
    Detector,
    FileState,
    Frame,
    ProductFile,
)
from comet_pipeline_tests.store._helpers import T0, archive_file, path_to

NOW = T0 + timedelta(days=100)


def _filled(store):
    names = {"a.fts": 70, "b.fts": 70, "c.fts": 5}
    store.register_files(
        [archive_file(n, NOW - timedelta(days=d)) for n, d in names.items()], now=T0
    )
    for n in names:
        for state in path_to(FileState.PROCESSED):
            extra = {"raw_path": f"/raw/{n}"} if state is FileState.DOWNLOADED else {}
            assert store.transition(n, state, now=T0, **extra)
        store.record_frame(
            Frame(
                n,
                Detector.C2,
                NOW - timedelta(days=names[n]),
                products={
                    "calibrated": ProductFile(f"/f/{n}.cal.fits", 4000),
                    "preview": ProductFile(f"/f/{n}.preview.png", 300),
                },
            ),
            now=T0,
        )
    store.upsert_candidate(
        CandidateRecord(
            "C2-x", "c2", NOW, NOW, 1, 0.5, 5.0, 1.0, 0.0, CandidateStatus.NEW, None, None
        ),
        now=T0,
    )
    store.replace_detections("C2-x", [DetectionRecord("b.fts", NOW, 1.0, 2.0)])
    return store


def test_prunable_products_leave_out_new_frames_and_frames_a_candidate_needs(make_store):
    store = _filled(make_store())
    before = NOW - timedelta(days=60)
    found = store.prunable_products(["calibrated"], before)
    assert [(p.frame, p.product, p.path, p.size_bytes) for p in found] == [
        ("a.fts", "calibrated", "/f/a.fts.cal.fits", 4000)
    ]
    store.review_candidate("C2-x", CandidateStatus.REJECTED, by="ada", now=T0)
    assert [p.frame for p in store.prunable_products(["calibrated"], before)] == ["a.fts", "b.fts"]
    assert store.mark_products_pruned([("a.fts", "calibrated")], now=NOW) == 1
    assert store.mark_products_pruned([("a.fts", "calibrated")], now=NOW) == 0
    assert [p.frame for p in store.prunable_products(["calibrated"], before)] == ["b.fts"]
    frame = store.frame("a.fts")
    assert set(frame.products) == {"preview"} and frame.pruned == {"calibrated": NOW}
    usage = {(u.product): (u.files, u.size_bytes) for u in store.disk_usage()}
    assert usage == {"calibrated": (2, 8000), "preview": (3, 900)}


def test_prunable_raw_is_processed_old_and_unneeded(make_store):
    store = _filled(make_store())
    before = NOW - timedelta(days=14)
    assert [r.name for r in store.prunable_raw(before)] == ["a.fts"]
    assert len(store.raw_on_disk()) == 3
    assert store.mark_raw_pruned(["a.fts"], now=NOW) == 1
    assert store.prunable_raw(before) == []
    assert {r.name for r in store.raw_on_disk()} == {"b.fts", "c.fts"}


def test_a_backfill_of_old_days_keeps_what_it_just_made(make_store):
    """Days are counted from observation and from processing: a frame of last year
    processed yesterday keeps its raw and FITS (the next hours' backgrounds read them)."""
    store = make_store()
    observed, processed = NOW - timedelta(days=400), NOW - timedelta(days=1)
    store.register_files([archive_file("old.fts", observed)], now=processed)
    for state in path_to(FileState.PROCESSED):
        extra = {"raw_path": "/raw/old.fts"} if state is FileState.DOWNLOADED else {}
        assert store.transition("old.fts", state, now=processed, **extra)
    calibrated = {"calibrated": ProductFile("/f/old.cal.fits", 4000)}
    store.record_frame(Frame("old.fts", Detector.C2, observed, products=calibrated), now=processed)
    assert store.prunable_products(["calibrated"], NOW - timedelta(days=60)) == []
    assert store.prunable_raw(NOW - timedelta(days=14)) == []
    # once the days have passed since its processing too, it goes
    assert [p.frame for p in store.prunable_products(["calibrated"], NOW)] == ["old.fts"]
    assert [r.name for r in store.prunable_raw(NOW)] == ["old.fts"]
