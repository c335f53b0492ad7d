"""Comet hunting: sources, star drift, tracks, scores, identities and reports.

numpy/scipy, and astropy's ephemeris through ``imaging.ephemeris``; the evaluation against
the simulator lives in :mod:`comet_pipeline.evaluation`. Public entry points::

    hunt(frames, *, detector, config=HuntConfig(), cache=None, stats=None) -> list[Candidate]
    hunt_and_merge(frames, *, detector, existing=(), config=..., cache=None) -> MergeResult
"""

from comet_pipeline.hunting.config import DetectorParams, HuntConfig
from comet_pipeline.hunting.hunter import HuntCache, build_candidate, hunt
from comet_pipeline.hunting.identity import MergeResult, candidate_id, merge_candidates
from comet_pipeline.hunting.model import Candidate, Detection, HuntFrame
from comet_pipeline.hunting.report import cutout_strip, report_text, strip_png
from comet_pipeline.hunting.sliding import SlidingHunter, hunt_and_merge

__all__ = [
    "Candidate",
    "Detection",
    "DetectorParams",
    "HuntCache",
    "HuntConfig",
    "HuntFrame",
    "MergeResult",
    "SlidingHunter",
    "build_candidate",
    "candidate_id",
    "cutout_strip",
    "hunt",
    "hunt_and_merge",
    "merge_candidates",
    "report_text",
    "strip_png",
]
