"""One comet, one candidate: stable ids across overlapping hunting windows.

The hourly hunt re-finds the same comet in every window that covers it. The id is made once,
from the first sighting (detector, time, rounded position), and kept: a new candidate that
shares frames with an existing one at the same positions, or lies on its extrapolated path
shortly after it, is the same comet and takes the existing id with the union of detections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

import numpy as np

from comet_pipeline.hunting.model import Candidate, Detection
from comet_pipeline.hunting.tracking import path_continues


def candidate_id(detector: str, first_seen: datetime, x: float, y: float) -> str:
    """Deterministic id: e.g. ``C3-20250101T0012-x0300-y0200`` (position rounded to 4 px)."""
    rx = int(round(x / 4.0)) * 4
    ry = int(round(y / 4.0)) * 4
    return f"{detector.upper()}-{first_seen:%Y%m%dT%H%M}-x{rx:04d}-y{ry:04d}"


def _hours(ts: Sequence[datetime], t0: datetime) -> np.ndarray:
    return np.array([(t - t0).total_seconds() / 3600.0 for t in ts])


def same_object(
    a: Candidate,
    b: Candidate,
    *,
    radius: float = 3.0,
    max_gap_hours: float = 8.0,
) -> bool:
    """True when ``a`` and ``b`` are the same comet (same detector, consistent positions).

    Shared frames: the positions must agree within ``radius`` in at least two of them (or in
    all shared frames if only one). Disjoint: one must continue the other across a gap of at
    most ``max_gap_hours`` (:func:`~comet_pipeline.hunting.tracking.path_continues`).
    """
    if a.detector.lower() != b.detector.lower():
        return False
    pa = {d.name: d for d in a.detections}
    shared = [(pa[d.name], d) for d in b.detections if d.name in pa]
    if shared:
        close = sum(1 for u, v in shared if np.hypot(u.x - v.x, u.y - v.y) <= radius)
        return close >= min(2, len(shared)) and close >= 0.5 * len(shared)
    first, second = (a, b) if a.first_seen <= b.first_seen else (b, a)
    gap = (second.first_seen - first.last_seen).total_seconds() / 3600.0
    if gap > max_gap_hours:
        return False
    if gap < 0:  # interleaved in time without shared frames: not the same track
        return False
    t0 = first.first_seen
    fa, fb = first.detections, second.detections
    return path_continues(
        _hours([d.observed_at for d in fa], t0),
        np.array([d.x for d in fa]),
        np.array([d.y for d in fa]),
        _hours([d.observed_at for d in fb], t0),
        np.array([d.x for d in fb]),
        np.array([d.y for d in fb]),
        radius=radius,
    )


def union_detections(old: Sequence[Detection], new: Sequence[Detection]) -> list[Detection]:
    """Union by frame name; the newer window's measurement wins for a shared frame."""
    merged = {d.name: d for d in old}
    merged.update({d.name: d for d in new})
    return sorted(merged.values(), key=lambda d: d.observed_at)


Rebuild = Callable[[Candidate, list[Detection]], Candidate]


class MergeResult(NamedTuple):
    candidates: list[Candidate]  # everything, after folding
    touched: list[Candidate]  # created or updated by this merge: write these back
    absorbed: list[str]  # ids folded into another candidate: delete these from a store


def _labelled(updated: Candidate, other: Candidate) -> Candidate:
    """A merge keeps a known-object label that either side carried."""
    if updated.known is None and other.known is not None:
        return replace(updated, known=other.known)
    return updated


def merge_candidates(
    existing: Sequence[Candidate],
    found: Sequence[Candidate],
    rebuild: Rebuild,
    **match: float,
) -> MergeResult:
    """Fold ``found`` into ``existing``.

    Returns (all candidates, the ones created or updated by ``found``). A found candidate
    matching an existing one keeps the existing id; ``rebuild(base, detections)`` recomputes
    score and report for the union of detections. Found candidates that match each other
    (duplicates within one hunt) are folded the same way, and when an update makes two
    existing candidates one track, the one first seen earlier keeps its id. (The absorbed id
    disappears: a store should delete it; it is listed in ``absorbed``.)
    """
    pool: list[Candidate] = list(existing)
    existing_ids = {c.id for c in existing}
    touched: dict[str, Candidate] = {}
    absorbed: list[str] = []
    for cand in found:
        hit = next((i for i, old in enumerate(pool) if same_object(old, cand, **match)), None)
        if hit is None:
            pool.append(cand)
            touched[cand.id] = cand
            continue
        old = pool[hit]
        updated = _labelled(rebuild(old, union_detections(old.detections, cand.detections)), cand)
        pool[hit] = updated
        touched[updated.id] = updated
        # the grown track may now bridge two candidates made earlier: fold them together
        while True:
            other = next(
                (
                    i
                    for i, c in enumerate(pool)
                    if c.id != updated.id and same_object(c, updated, **match)
                ),
                None,
            )
            if other is None:
                break
            a, b = sorted((pool[other], updated), key=lambda c: (c.first_seen, c.id))
            updated = _labelled(rebuild(a, union_detections(b.detections, a.detections)), b)
            pool = [c for c in pool if c.id not in (a.id, b.id)] + [updated]
            touched.pop(b.id, None)
            if b.id in existing_ids:
                absorbed.append(b.id)
            touched[updated.id] = updated
    return MergeResult(pool, list(touched.values()), absorbed)
