"""Comet hunting: sources, star drift, tracks, scores, identities and reports (numpy/scipy only).

Public entry points::

    hunt(frames, *, detector, config=HuntConfig(), cache=None) -> list[Candidate]
    hunt_and_merge(frames, *, detector, existing=(), config=..., cache=None) -> MergeResult
    evaluate(days, seed, *, start=None, detectors=("c2", "c3"), ...) -> EvaluationReport
    format_report(report) -> str
"""

from comet_pipeline.hunting.config import DetectorParams, HuntConfig
from comet_pipeline.hunting.evaluate import EvaluationReport, evaluate, format_report
from comet_pipeline.hunting.hunter import HuntCache, build_candidate, hunt
from comet_pipeline.hunting.identity import MergeResult, candidate_id, merge_candidates
from comet_pipeline.hunting.model import Candidate, Detection, HuntFrame
from comet_pipeline.hunting.report import cutout_strip, report_text, strip_png
from comet_pipeline.hunting.sliding import SlidingHunter, hunt_and_merge

__all__ = [
    "Candidate",
    "Detection",
    "DetectorParams",
    "EvaluationReport",
    "HuntCache",
    "HuntConfig",
    "HuntFrame",
    "MergeResult",
    "SlidingHunter",
    "build_candidate",
    "candidate_id",
    "cutout_strip",
    "evaluate",
    "format_report",
    "hunt",
    "hunt_and_merge",
    "merge_candidates",
    "report_text",
    "strip_png",
]
