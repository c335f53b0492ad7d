"""Fixtures every test folder shares: settings on a temporary home, the one manual clock,
the seed, and a lifecycle store filled with a small, known history.

Folders add their own (the simulator's clock sits on another day; the store tests run on
every engine) and override these by name where they must.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from comet_pipeline.domain import ArchiveFile, CandidateRecord, Detector, Frame, ProductFile, Slot
from comet_pipeline.settings import Settings
from comet_pipeline.store import LifecycleStore, SQLiteStore
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.shared import CLOSED_DAGSTER_URL, FILLED_NAMES, FILLED_TIMES, HOUR, NOW

# The tests' history (fixtures, simulated days, Dagster partitions) lies in 2025, before
# the default partitions start (the month before last). Set before any test module imports
# the definitions (which read the settings once), and inherited by the Dagster processes
# the end-to-end tests start.
os.environ["COMET_PARTITIONS_START"] = "2025-01-01"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Dagster at a closed loopback port: a colleague's `make dev` on :3000 must not change
    # what the viewer tests see (the jobs tests start their own webserver)
    return Settings(home=tmp_path / "home", dagster_url=CLOSED_DAGSTER_URL)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def sqlite_store(settings: Settings) -> LifecycleStore:
    """An empty lifecycle store in the settings' home."""
    return SQLiteStore(settings.layout.lifecycle_db)


@pytest.fixture
def filled_store(sqlite_store: LifecycleStore) -> LifecycleStore:
    """One downlink slot, three processed C3 frames (stored out of order) and a candidate."""
    store = sqlite_store
    store.upsert_slots([Slot(HOUR, HOUR + timedelta(hours=4), "DSS-14")], HOUR)
    store.register_files(
        [
            ArchiveFile(n, Detector.C3, t, 18.0, 1024, 1024, arrived_at=t + timedelta(hours=1))
            for n, t in zip(FILLED_NAMES, FILLED_TIMES, strict=True)
        ],
        now=HOUR,
    )
    for n, t in zip(FILLED_NAMES, FILLED_TIMES, strict=True):
        store.record_frame(
            Frame(
                n,
                Detector.C3,
                t,
                products={
                    "calibrated": ProductFile(f"/f/{n}.cal.fits", 4_200_000),
                    "processed_png": ProductFile(f"/f/{n}.png", 310_000),
                },
                stats={"noise_sigma": 0.3},
                roll_deg=180.0 if n == FILLED_NAMES[0] else 0.0,  # one frame turned
                naxis1=1024,
                naxis2=1024,
            ),
            now=t,
        )
    store.upsert_candidate(
        CandidateRecord(
            id="c3-20250610-0001",
            detector="c3",
            first_seen_at=min(FILLED_TIMES),
            last_seen_at=max(FILLED_TIMES),
            n_frames=3,
            score=0.8,
            snr=6.0,
            speed_px_per_hour=4.0,
            direction_deg=200.0,
            status="new",
            report_text=None,
            cutout_path=None,
        ),
        now=NOW,
    )
    return store
