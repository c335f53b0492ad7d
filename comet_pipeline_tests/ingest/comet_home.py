"""A home with three simulated hours of C3 holding a bright comet, processed and hunted.

Built with the real services (discover, download, FrameProcessor, the hourly hunt) on the
simulator, as the analysis tests need a real candidate on real products (~4 s, so the test
modules build it once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from comet_pipeline.domain import CandidateRecord, Detector
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.hunt import hunt_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.windows import hour_floor
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.shared import CLOSED_DAGSTER_URL, NOW, SEED

#: Hours processed and hunted: enough for a track of a dozen frames, few enough to be quick.
HOURS = 3


@dataclass(frozen=True)
class CometHome:
    settings: Settings
    start: datetime
    end: datetime
    truth: dict[str, tuple[float, float, float]]  # file -> (x, y, peak SNR) of the comet
    candidate: CandidateRecord  # the stored candidate on the comet's track


def build_comet_home(root: Path) -> CometHome:
    clock = ManualClock(NOW)
    sim = SimArchive(SimConfig(seed=SEED, comets_per_day=1.0), clock=clock)
    day = NOW - timedelta(days=1, hours=12)
    comets = sim.truth(day, day + timedelta(days=1), detector=Detector.C3)
    comet = max(comets, key=lambda t: max(f.peak_snr for f in t.frames))
    end = hour_floor(comet.frames[min(len(comet.frames) - 1, 12)].observed_at) + timedelta(hours=1)
    start = end - timedelta(hours=HOURS)
    truth = {
        f.name: (f.x, f.y, f.peak_snr)
        for t in sim.truth(start, end, detector=Detector.C3)
        if t.id == comet.id
        for f in t.frames
    }
    settings = Settings(
        home=root / "home", detectors=(Detector.C3,), dagster_url=CLOSED_DAGSTER_URL
    )
    settings.home.mkdir(parents=True)
    client = simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)
    store = SQLiteStore(settings.layout.lifecycle_db)
    try:
        discover_window(store, client, (Detector.C3,), start, end, now=NOW, run_id="r")
        download_window(store, client, settings.layout.raw_dir, start, end, clock=clock, owner="d")
        processor = FrameProcessor(settings.layout.frames_dir)
        process_window(store, processor, start, end, clock=clock, owner="p")
        hunt_window(
            store,
            settings.layout.products_dir,
            end - timedelta(hours=1),
            end,
            (Detector.C3,),
            now=NOW,
        )
        on_track = []
        for row in store.candidates(detector="c3"):
            errors = sorted(
                ((d.x - truth[d.file][0]) ** 2 + (d.y - truth[d.file][1]) ** 2) ** 0.5
                for d in store.detections_for(row.id)
                if d.file in truth
            )
            if errors and errors[len(errors) // 2] <= 2.0:
                on_track.append(row)
    finally:
        store.close()
    assert on_track, "the hunt should find the simulated comet"
    # the longest piece if the track was ever split (the simulator's sky is not this test's)
    return CometHome(settings, start, end, truth, max(on_track, key=lambda c: c.n_frames))
