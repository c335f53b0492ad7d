"""Verdicts on candidates (sticky, audited) and the viewer's token hashes, on every engine."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from comet_pipeline.domain import CandidateRecord, CandidateStatus
from comet_pipeline.store import StoreError, UnknownCandidate, VerdictChanged
from comet_pipeline_tests.store._helpers import T0, many_files


@pytest.fixture
def store(make_store):
    return make_store()


def candidate(**changes) -> CandidateRecord:
    base = CandidateRecord(
        id="C3-20250301T0000-x0300-y0200",
        detector="c3",
        first_seen_at=T0,
        last_seen_at=T0 + timedelta(hours=2),
        n_frames=4,
        score=0.7,
        snr=6.0,
        speed_px_per_hour=5.0,
        direction_deg=120.0,
        status=CandidateStatus.NEW,
        report_text="report",
        cutout_path=None,
    )
    return replace(base, **changes)


def test_a_verdict_is_audited_and_survives_the_next_hunt(store):
    store.register_files(many_files(3), now=T0)
    store.upsert_candidate(candidate(), now=T0)
    later = T0 + timedelta(hours=3)
    updated = store.review_candidate(
        candidate().id, CandidateStatus.REJECTED, by="ada", now=later, note="  a star  "
    )
    assert updated.status is CandidateStatus.REJECTED and updated.updated_at == later
    # the next hourly hunt re-finds the track (same id) and writes it back as "new"
    store.upsert_candidate(candidate(n_frames=6, score=0.9), now=later + timedelta(hours=1))
    again = store.candidate(candidate().id)
    assert again.status is CandidateStatus.REJECTED
    assert (again.n_frames, again.score) == (6, 0.9)  # the track itself did update
    [review] = store.reviews_for(candidate().id)
    assert (review.from_status, review.to_status, review.by, review.at, review.note) == (
        CandidateStatus.NEW,
        CandidateStatus.REJECTED,
        "ada",
        later,
        "a star",
    )


def test_reviews_outlive_a_candidate_merged_away(store):
    store.upsert_candidate(candidate(), now=T0)
    store.review_candidate(candidate().id, CandidateStatus.CONFIRMED, by="ada", now=T0)
    assert store.delete_candidates([candidate().id]) == 1
    assert store.candidate(candidate().id) is None
    assert [r.to_status for r in store.reviews_for(candidate().id)] == [CandidateStatus.CONFIRMED]


def test_a_verdict_on_an_unknown_candidate_raises_and_writes_nothing(store):
    with pytest.raises(UnknownCandidate, match="no candidate with id 'nope'"):
        store.review_candidate("nope", CandidateStatus.REJECTED, by="ada", now=T0)
    assert store.reviews_for("nope") == []


def test_a_long_note_is_clipped_and_says_how_long_it_was(store):
    store.upsert_candidate(candidate(), now=T0)
    store.review_candidate(
        candidate().id, CandidateStatus.REPORTED, by="ada", now=T0, note="n" * 5000
    )
    [review] = store.reviews_for(candidate().id)
    assert len(review.note) < 2100 and review.note.endswith("(5,000 characters)")


def test_tokens_are_found_by_hash_until_revoked(store):
    store.create_token("ada", "a" * 64, now=T0)
    store.create_token("bob", "b" * 64, now=T0 + timedelta(seconds=1))
    assert store.token_name("a" * 64) == "ada"
    assert store.token_name("c" * 64) is None
    assert store.token_names() == ["ada", "bob"]
    with pytest.raises(StoreError, match="exists already"):
        store.create_token("ada", "d" * 64, now=T0)
    assert store.revoke_token("ada", now=T0) is True
    assert store.revoke_token("ada", now=T0) is False
    assert store.token_name("a" * 64) is None
    assert store.token_names() == ["bob"]
    with pytest.raises(StoreError, match="exists already"):  # a revoked name stays taken
        store.create_token("ada", "e" * 64, now=T0)


def test_a_verdict_can_be_conditional_on_the_status_it_replaces(store):
    store.upsert_candidate(candidate(), now=T0)
    cid = candidate().id
    store.review_candidate(cid, CandidateStatus.CONFIRMED, by="ada", now=T0)
    with pytest.raises(VerdictChanged, match="is confirmed now, not new"):
        store.review_candidate(
            cid, CandidateStatus.REJECTED, by="hunt", now=T0, expected=CandidateStatus.NEW
        )
    assert store.candidate(cid).status is CandidateStatus.CONFIRMED
    assert len(store.reviews_for(cid)) == 1
    store.review_candidate(
        cid, CandidateStatus.REPORTED, by="ada", now=T0, expected=CandidateStatus.CONFIRMED
    )
    assert store.candidate(cid).status is CandidateStatus.REPORTED
