"""Leases, failure bookkeeping and the retry schedule, driven by an injected clock."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from comet_pipeline.domain import FileState
from comet_pipeline.store import IllegalTransition
from comet_pipeline_tests.store._helpers import T0, archive_file, put_in_state


def test_claim_sets_lease_and_release_clears_it(make_store):
    store = make_store(lease=timedelta(minutes=10))
    store.register_files([archive_file("a.fts")], now=T0)
    [rec] = store.claim(target=FileState.DOWNLOADING, owner="run-a", now=T0)
    assert rec.state == FileState.DOWNLOADING
    assert rec.lease_owner == "run-a"
    assert rec.lease_expires_at == T0 + timedelta(minutes=10)
    assert store.transition(
        "a.fts",
        FileState.DOWNLOADED,
        now=T0,
        expected=FileState.DOWNLOADING,
        owner="run-a",
        sha256="ab" * 32,
        raw_path="/raw/a.fts",
    )
    rec = store.get_file("a.fts")
    assert (rec.lease_owner, rec.lease_expires_at) == (None, None)
    assert (rec.sha256, rec.raw_path) == ("ab" * 32, "/raw/a.fts")


def test_expired_lease_is_recovered_as_a_failed_attempt(make_store):
    store = make_store(lease=timedelta(minutes=10))
    store.register_files([archive_file("d.fts"), archive_file("p.fts", T0 + timedelta(1))], now=T0)
    store.claim(target=FileState.DOWNLOADING, owner="dead", now=T0, names=["d.fts"])
    put_in_state_from_discovered = [FileState.DOWNLOADING, FileState.DOWNLOADED, FileState.READY]
    for step in put_in_state_from_discovered:
        store.transition("p.fts", step, now=T0)
    store.claim(target=FileState.PROCESSING, owner="dead", now=T0)

    assert store.stuck_files(T0 + timedelta(minutes=9)) == []
    assert store.recover_expired_leases(T0 + timedelta(minutes=9)) == []
    later = T0 + timedelta(minutes=11)
    assert [r.name for r in store.stuck_files(later)] == ["d.fts", "p.fts"]
    assert store.recover_expired_leases(later, run_id="sweeper") == ["d.fts", "p.fts"]
    d, p = store.get_file("d.fts"), store.get_file("p.fts")
    assert (d.state, p.state) == (FileState.DOWNLOAD_FAILED, FileState.PROCESSING_FAILED)
    for rec in (d, p):
        assert rec.attempts == 1
        assert rec.lease_owner is None and rec.lease_expires_at is None
        assert "lease of dead expired" in rec.last_error
        assert (
            later + timedelta(minutes=1.5) <= rec.next_attempt_at <= later + timedelta(minutes=2.5)
        )
    assert store.transitions_for("d.fts")[-1].run_id == "sweeper"
    assert store.recover_expired_leases(later + timedelta(hours=1)) == []  # nothing leased now

    # not due yet -> not claimable, not in retry_due; due -> both
    assert store.retry_due(later) == []
    assert store.claim(target=FileState.DOWNLOADING, owner="x", now=later) == []
    due = max(d.next_attempt_at, p.next_attempt_at)
    assert store.retry_due(min(d.next_attempt_at, p.next_attempt_at) - timedelta(seconds=1)) == []
    assert {r.name for r in store.retry_due(due)} == {"d.fts", "p.fts"}
    [again] = store.claim(target=FileState.DOWNLOADING, owner="x", now=due)
    assert again.name == "d.fts" and again.attempts == 1


def test_backoff_grows_exponentially_within_jitter_is_capped_then_abandons(make_store):
    base, cap, jitter = timedelta(minutes=2), timedelta(hours=1), 0.25
    store = make_store(max_attempts=9, backoff_base=base, backoff_cap=cap, jitter=jitter)
    store.register_files([archive_file("x.fts")], now=T0)
    now = T0
    delays: list[timedelta] = []
    for attempt in range(1, 9):
        [rec] = store.claim(target=FileState.DOWNLOADING, owner="w", now=now)
        assert store.fail("x.fts", f"boom {attempt}", now=now) == FileState.DOWNLOAD_FAILED
        rec = store.get_file("x.fts")
        assert rec.attempts == attempt and rec.last_error == f"boom {attempt}"
        delay = rec.next_attempt_at - now
        nominal = min(cap, base * 2 ** (attempt - 1))
        assert nominal * (1 - jitter) <= delay <= nominal * (1 + jitter)
        delays.append(delay)
        now = rec.next_attempt_at
    # exponential while below the cap: each at least 2*(1-j)/(1+j) = 1.2x the previous
    assert all(b / a >= 1.2 for a, b in zip(delays[:5], delays[1:5], strict=False))
    assert all(d <= cap * (1 + jitter) for d in delays)
    assert delays[-1] >= cap * (1 - jitter)  # 2 min * 2**7 = 256 min, capped at 60
    # the ninth failure exhausts the budget
    store.claim(target=FileState.DOWNLOADING, owner="w", now=now)
    assert store.fail("x.fts", "final straw", now=now) == FileState.ABANDONED
    rec = store.get_file("x.fts")
    assert (rec.state, rec.attempts, rec.last_error) == (FileState.ABANDONED, 9, "final straw")
    assert rec.next_attempt_at is None and rec.lease_owner is None
    assert store.retry_due(now + timedelta(days=30)) == []
    assert store.claim(target=FileState.DOWNLOADING, owner="w", now=now + timedelta(days=30)) == []
    assert "final straw" in (store.transitions_for("x.fts")[-1].reason or "")


def test_seeded_rng_gives_a_reproducible_schedule(make_store):
    def schedule() -> list:
        store = make_store(rng=random.Random(7), max_attempts=10)
        store.register_files([archive_file("s.fts")], now=T0)
        out, now = [], T0
        for _ in range(4):
            store.claim(target=FileState.DOWNLOADING, owner="w", now=now)
            store.fail("s.fts", "e", now=now)
            now = store.get_file("s.fts").next_attempt_at
            out.append(now)
        return out

    assert schedule() == schedule()


def test_permanent_failure_abandons_at_once_and_processing_has_its_own_budget(make_store):
    store = make_store(max_attempts=2)
    put_in_state(store, "p.fts", FileState.DOWNLOADING)
    assert store.fail("p.fts", "transient", now=T0) == FileState.DOWNLOAD_FAILED
    store.claim(target=FileState.DOWNLOADING, owner="w", now=T0 + timedelta(hours=2))
    store.transition("p.fts", FileState.DOWNLOADED, now=T0)
    assert store.get_file("p.fts").attempts == 0  # a fresh budget for processing
    store.transition("p.fts", FileState.READY, now=T0)
    store.claim(target=FileState.PROCESSING, owner="w", now=T0)
    assert store.fail("p.fts", "corrupt FITS", now=T0, permanent=True) == FileState.ABANDONED
    rec = store.get_file("p.fts")
    assert (rec.state, rec.last_error) == (FileState.ABANDONED, "corrupt FITS")
    with pytest.raises(IllegalTransition):
        store.fail("p.fts", "again", now=T0)


def test_fail_by_a_stale_worker_is_not_applied(make_store):
    store = make_store(lease=timedelta(minutes=1))
    store.register_files([archive_file("s.fts")], now=T0)
    store.claim(target=FileState.DOWNLOADING, owner="slow", now=T0)
    store.recover_expired_leases(T0 + timedelta(minutes=2))
    later = T0 + timedelta(hours=1)
    store.claim(target=FileState.DOWNLOADING, owner="fresh", now=later)
    assert store.fail("s.fts", "late", now=later, owner="slow") is None
    assert store.transition("s.fts", FileState.DOWNLOADED, now=later, owner="slow") is False
    rec = store.get_file("s.fts")
    assert (rec.state, rec.lease_owner, rec.attempts) == (FileState.DOWNLOADING, "fresh", 1)
    assert store.transition("s.fts", FileState.DOWNLOADED, now=later, owner="fresh") is True


def test_a_huge_error_text_is_stored_bounded_with_its_size(make_store):
    store = make_store()
    put_in_state(store, "big.fts", FileState.DOWNLOADING)
    junk = "x" * 19_000_000
    store.fail("big.fts", junk, now=T0)
    record = store.get_file("big.fts")
    assert len(record.last_error) < 400 and "19,000,000 characters" in record.last_error
    assert len(store.transitions_for("big.fts")[-1].reason) < 500
