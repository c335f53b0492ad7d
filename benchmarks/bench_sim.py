"""Simulated archive: time to render one frame (FITS bytes), and to publish a day's index."""

from __future__ import annotations

from datetime import date

from benchmarks._util import median_ms
from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator import SimArchive, SimConfig
from comet_pipeline.simulator.render import fits_bytes

DAY = date(2024, 3, 5)


def _frame_ms(config: SimConfig, archive: SimArchive, det: Detector) -> tuple[float, float]:
    frames = iter([o for o in archive.observations(DAY, det) if o.synoptic] * 3)
    # a new observation every call: no render cache, the real per-frame cost
    fresh = median_ms(lambda: fits_bytes(config, next(frames)), repeat=15)
    one = next(frames)
    cached = median_ms(lambda: archive.render(one), repeat=15)
    return fresh, cached


def run() -> dict:
    config = SimConfig(seed=1)
    archive = SimArchive(config)
    figures: dict[str, float] = {}
    for det in Detector:
        fresh, cached = _frame_ms(config, archive, det)
        figures[f"{det.value}_frame_ms"] = fresh
        figures[f"{det.value}_cached_frame_ms"] = cached
    figures["c2_day_img_hdr_ms"] = median_ms(
        lambda: SimArchive(config).img_hdr_text(DAY, Detector.C2), repeat=5
    )
    return figures
