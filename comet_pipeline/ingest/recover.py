"""Recover files whose DOWNLOADING/PROCESSING lease expired (a killed or lost run)."""

from __future__ import annotations

from datetime import datetime

from comet_pipeline.ingest.results import StepResult
from comet_pipeline.store import LifecycleStore


def recover_leases(
    store: LifecycleStore, *, now: datetime, run_id: str | None = None
) -> StepResult:
    result = StepResult()
    for name in store.recover_expired_leases(now, run_id=run_id):
        result.count("recovered")
        result.add_error(f"{name}: lease expired, attempt counted")
    return result
