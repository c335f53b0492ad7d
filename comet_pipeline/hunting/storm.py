"""Particle storms: bounded work and no burst of candidates when a frame fills with hits.

After a flare a frame can carry thousands of cosmic-ray hits. Most are rejected one by one
(too sharp, not round), but what is left still outnumbers the stars and would make the
linking quadratic. A frame with far more sources than the window's median is a storm frame:
it keeps only the sources most like the window's point sources (matched-filter sharpness
nearest the median of the quiet frames, which is the PSF's), a multiple of the median count,
and it may extend a track but not seed one. Every frame is also bounded by a hard cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.sources import SourceList


@dataclass(frozen=True)
class CappedSources:
    sources: list[SourceList]
    storm: list[bool]  # per frame: a storm frame (no seeding)
    found: list[int]  # per frame: sources before the cap


def _most_psf_like(s: SourceList, keep: int, reference: float) -> SourceList:
    if len(s) <= keep:
        return s
    distance = np.abs(np.log(np.clip(s.sharpness, 1e-3, None) / reference))
    idx = np.sort(np.argpartition(distance, keep)[:keep])
    return s.subset(idx)


def cap_sources(sources: Sequence[SourceList], config: HuntConfig) -> CappedSources:
    """Storm frames and the hard cap (:mod:`storm`'s rule), frame order kept."""
    counts = np.array([len(s) for s in sources], dtype=float)
    median = float(np.median(counts)) if counts.size else 0.0
    limit = max(config.storm_factor * median, float(config.storm_min_sources))
    storm = [bool(n > limit) for n in counts]
    quiet = [s.sharpness for s, st in zip(sources, storm, strict=True) if not st and len(s)]
    arrays = quiet or [s.sharpness for s in sources]
    pool = np.concatenate(arrays) if arrays else np.zeros(0)
    reference = float(np.median(pool)) if pool.size else 2.0
    keep_storm = max(int(config.storm_keep * median), 1)
    out = []
    for s, st in zip(sources, storm, strict=True):
        keep = min(keep_storm if st else len(s), config.max_sources_per_frame)
        out.append(_most_psf_like(s, keep, reference))
    return CappedSources(out, storm, [len(s) for s in sources])


def rule_text(config: HuntConfig) -> str:
    """The storm rule in words, with ``config``'s numbers (for the asset metadata)."""
    return (
        f"a frame with more than max({config.storm_factor:g} x the window's median, "
        f"{config.storm_min_sources}) sources keeps the {config.storm_keep:g} x median most "
        "PSF-like ones (sharpness nearest the quiet frames' median) and seeds no track; "
        f"every frame is capped at {config.max_sources_per_frame} sources the same way"
    )
