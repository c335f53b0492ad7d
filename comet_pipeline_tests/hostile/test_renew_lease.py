"""``renew_lease``: the guarded write a running download uses to keep its file."""

from __future__ import annotations

from datetime import timedelta

from comet_pipeline.domain import FileState
from comet_pipeline_tests.shared import HOUR, NOW

from .conftest import index_entry


def test_renew_lease_extends_only_the_holders_lease_and_writes_no_audit(home):
    store = home.store
    home.register(index_entry(1), index_entry(2))
    [held, _other] = store.claim(target=FileState.DOWNLOADING, owner="run", now=NOW)
    audit = store.transition_count()

    later = NOW + timedelta(minutes=7)
    assert store.renew_lease(held.name, owner="run", now=later)
    assert store.get_file(held.name).lease_expires_at == later + timedelta(minutes=10)
    assert store.renew_lease(held.name, owner="run", now=later, lease=timedelta(hours=1))
    assert store.get_file(held.name).lease_expires_at == later + timedelta(hours=1)
    # never shortened (a caller whose clock lags another's)
    assert store.renew_lease(held.name, owner="run", now=NOW)
    assert store.get_file(held.name).lease_expires_at == later + timedelta(hours=1)

    assert not store.renew_lease(held.name, owner="intruder", now=later)
    assert not store.renew_lease("29999999.fts", owner="run", now=later)  # unknown file
    assert store.transition_count() == audit  # renewals are not state changes

    # once the file has left the leased state, nobody renews it
    store.fail(held.name, "boom", now=later, owner="run")
    assert store.get_file(held.name).state is FileState.DOWNLOAD_FAILED
    assert not store.renew_lease(held.name, owner="run", now=later)
    assert store.get_file(held.name).lease_expires_at is None


def test_a_renewed_lease_is_not_recovered(home):
    store = home.store
    home.register(index_entry(1))
    [held] = store.claim(target=FileState.DOWNLOADING, owner="run", now=HOUR)
    assert store.renew_lease(held.name, owner="run", now=HOUR + timedelta(minutes=8))
    assert store.recover_expired_leases(HOUR + timedelta(minutes=12)) == []
    assert store.recover_expired_leases(HOUR + timedelta(minutes=19)) == [held.name]
