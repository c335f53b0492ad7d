"""A judged candidate merged into another passes its verdict on, audited, strongest first."""

from __future__ import annotations

from datetime import timedelta

from comet_pipeline.domain import CandidateStatus
from comet_pipeline.hunting.model import Candidate, Detection
from comet_pipeline.hunting.persist import candidate_row, detection_rows
from comet_pipeline.ingest.hunt import HuntResult, _carry_verdicts, shares_sighting
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.store._helpers import T0, many_files

FILES = many_files(6)


def track(cid: str, first: int, x0: float) -> Candidate:
    dets = tuple(
        Detection(f.name, f.observed_at, x0 + 3 * i, 400.0 + 2 * i, 50.0, 6.0)
        for i, f in enumerate(FILES[first : first + 3], start=first)
    )
    return Candidate(cid, "c3", dets, 0.8, 6.0, 10.0, 30.0, 3.0, 2.0, 0.5, 0.3)


def stored(store: SQLiteStore, candidate: Candidate) -> None:
    store.upsert_candidate(candidate_row(candidate), now=T0)
    store.replace_detections(candidate.id, detection_rows(candidate))


def test_a_rejected_track_merged_into_a_new_one_makes_it_rejected(tmp_path):
    store = SQLiteStore(tmp_path / "lifecycle.db")
    store.register_files(FILES, now=T0)
    old, other, survivor = track("old", 0, 300.0), track("far", 0, 700.0), track("new", 2, 300.0)
    for c in (old, other, survivor):
        stored(store, c)
    store.review_candidate("old", CandidateStatus.REJECTED, by="ada", now=T0)
    store.review_candidate("far", CandidateStatus.REPORTED, by="ada", now=T0)  # elsewhere
    result = HuntResult(statuses={"new": CandidateStatus.NEW})
    later = T0 + timedelta(hours=1)
    _carry_verdicts(store, {"old", "far"}, [survivor], later, result)
    assert result.carried == {"new": "old"}  # "far" shares no sighting: not carried
    assert store.candidate("new").status is CandidateStatus.REJECTED
    [review] = store.reviews_for("new")
    assert (review.by, review.at, review.from_status) == ("hunt", later, CandidateStatus.NEW)
    assert "carried over from old" in (review.note or "")


def test_a_weaker_verdict_never_overrides_a_stronger_one(tmp_path):
    store = SQLiteStore(tmp_path / "lifecycle.db")
    store.register_files(FILES, now=T0)
    old, survivor = track("old", 0, 300.0), track("new", 2, 300.0)
    stored(store, old)
    stored(store, survivor)
    store.review_candidate("old", CandidateStatus.REJECTED, by="ada", now=T0)
    store.review_candidate("new", CandidateStatus.CONFIRMED, by="bob", now=T0)
    result = HuntResult(statuses={"new": CandidateStatus.CONFIRMED})
    _carry_verdicts(store, {"old"}, [survivor], T0, result)
    assert result.carried == {}
    assert store.candidate("new").status is CandidateStatus.CONFIRMED


def test_a_sighting_is_the_same_file_within_two_pixels():
    a = detection_rows(track("a", 0, 300.0))
    assert shares_sighting(a, detection_rows(track("b", 2, 301.5)))
    assert not shares_sighting(a, detection_rows(track("c", 2, 303.0)))
    assert not shares_sighting(a, detection_rows(track("d", 3, 300.0)))  # no common file


def test_a_verdict_given_while_the_hunt_ran_is_not_overridden(tmp_path):
    """The hunt saved the survivor as new hours ago (a backfill); a hunter confirmed it
    since. The carry reads the status now, and a rejected neighbour does not undo it."""
    store = SQLiteStore(tmp_path / "lifecycle.db")
    store.register_files(FILES, now=T0)
    old, survivor = track("old", 0, 300.0), track("new", 2, 300.0)
    stored(store, old)
    stored(store, survivor)
    store.review_candidate("old", CandidateStatus.REJECTED, by="ada", now=T0)
    stale = HuntResult(statuses={"new": CandidateStatus.NEW})  # as saved, before the verdict
    store.review_candidate("new", CandidateStatus.CONFIRMED, by="bob", now=T0)
    _carry_verdicts(store, {"old"}, [survivor], T0, stale)
    assert stale.carried == {}
    assert store.candidate("new").status is CandidateStatus.CONFIRMED
