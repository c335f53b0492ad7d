"""Hunt frames from the simulated archive, processed in memory (test helper)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from comet_pipeline.domain.models import Detector
from comet_pipeline.evaluation.harness import MemoryFrames
from comet_pipeline.hunting.model import HuntFrame
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig


def sim_frames(
    config: SimConfig, detector: str, start: datetime, end: datetime, lead_in_hours: float = 2.0
) -> tuple[SimArchive, list[HuntFrame]]:
    """Background-subtracted frames of ``detector`` observed in [start, end).

    Frames from ``lead_in_hours`` before ``start`` feed the rolling background only.
    """
    sim = SimArchive(config)
    det = Detector(detector)
    first = start - timedelta(hours=lead_in_hours)
    obs = []
    day: date = first.date()
    while day <= end.date():
        obs += [o for o in sim.observations(day, det) if o.synoptic and not o.duplicate_of]
        day += timedelta(days=1)
    obs = sorted((o for o in obs if first <= o.observed_at < end), key=lambda o: o.observed_at)
    proc = MemoryFrames()
    frames = []
    for o in obs:
        frame = proc.frame(o.name, sim.render(o))
        if o.observed_at >= start:
            frames.append(frame)
    return sim, frames
