"""Write a day's chronological playback animation per detector."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from comet_pipeline.domain import Detector, Frame
from comet_pipeline.imaging.playback import write_playback
from comet_pipeline.imaging.products import PREVIEW
from comet_pipeline.store import LifecycleStore


@dataclass
class PlaybackResult:
    animations: dict[Detector, Path] = field(default_factory=dict)
    frames: dict[Detector, list[Frame]] = field(default_factory=dict)
    elapsed_s: float = 0.0


def playback_path(products_dir: Path, detector: Detector, day: date) -> Path:
    return products_dir / "playback" / detector.value / f"{day:%Y%m%d}_{detector.value}.webp"


def build_playback(
    store: LifecycleStore, products_dir: Path, day: date, detectors: tuple[Detector, ...]
) -> PlaybackResult:
    """One animated WebP per detector of the day's background-subtracted frames, in time order."""
    started = time.perf_counter()
    result = PlaybackResult()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    for detector in detectors:
        frames = [
            f
            for f in store.frames_between(detector, start, start + timedelta(days=1))
            if f.path(PREVIEW)
        ]
        result.frames[detector] = frames
        if frames:
            result.animations[detector] = write_playback(
                [(f.observed_at, Path(p)) for f in frames if (p := f.path(PREVIEW))],
                playback_path(products_dir, detector, day),
                detector=detector.value,
            )
    result.elapsed_s = time.perf_counter() - started
    return result
