"""Hunt comets in a window of processed frames and keep the candidates in the store.

For each detector the window's background-subtracted frames are read back from disk, the
hunter links moving point sources into scored candidates, and those are folded into the
recent stored candidates so that overlapping windows update one candidate (stable id)
rather than adding another. Each candidate gets its Sungrazer report and a cutout strip.
Each hunted frame's source list (the hunter's cache: what it linked from) is saved once as
an ECSV table (``ingest.source_tables``).
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from comet_pipeline.domain import HUNT_REVIEWER, CandidateStatus, DetectionRecord, Detector
from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG
from comet_pipeline.hunting.loading import load_hunt_frame
from comet_pipeline.hunting.model import Candidate, HuntFrame
from comet_pipeline.hunting.persist import candidate_from_rows, candidate_row, detection_rows
from comet_pipeline.hunting.report import cutout_strip, strip_png
from comet_pipeline.hunting.sliding import SlidingHunter
from comet_pipeline.hunting.stats import HuntStats
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.ingest.source_tables import save_source_tables
from comet_pipeline.store import LifecycleStore, VerdictChanged

#: Frames hunted together: a C3 Kreutz comet needs a few hours to show its motion.
HUNT_WINDOW = timedelta(hours=6)
#: Stored candidates last seen this long before the window still take part in merging.
MERGE_HORIZON = timedelta(hours=4)
#: Which verdict wins when a merge joins candidates that were judged differently.
VERDICT_RANK = {
    CandidateStatus.NEW: 0,
    CandidateStatus.REJECTED: 1,
    CandidateStatus.CONFIRMED: 2,
    CandidateStatus.REPORTED: 3,
}
#: A detection of the same file within this many pixels is the same sighting.
SAME_SIGHTING_PX = 2.0


@dataclass
class HuntResult:
    frames: dict[Detector, int] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)  # created or updated, best first
    cutouts: dict[str, Path] = field(default_factory=dict)
    merged_away: list[str] = field(default_factory=list)
    statuses: dict[str, CandidateStatus] = field(default_factory=dict)  # as stored, by id
    carried: dict[str, str] = field(default_factory=dict)  # verdict carried: id -> from id
    elapsed_s: float = 0.0
    stats: dict[Detector, HuntStats] = field(default_factory=dict)  # what the hunter did
    #: per-frame source tables written (frames that had none saved yet)
    source_tables: dict[Detector, int] = field(default_factory=dict)

    def absorb(self, other: HuntResult) -> None:
        """Fold another detector's hunt into this one."""
        self.frames.update(other.frames)
        self.source_tables.update(other.source_tables)
        self.candidates += other.candidates
        self.cutouts.update(other.cutouts)
        self.merged_away += other.merged_away
        self.statuses.update(other.statuses)
        self.carried.update(other.carried)
        self.stats.update(other.stats)

    @property
    def source_tables_written(self) -> int:
        return sum(self.source_tables.values())

    @property
    def new_candidates(self) -> list[Candidate]:
        """The candidates a hunter should look at: known objects (planets) and the ones a
        hunter already rejected left out."""
        return [
            c
            for c in self.candidates
            if c.is_new and self.statuses.get(c.id) is not CandidateStatus.REJECTED
        ]


def cutout_path(products_dir: Path, candidate: Candidate) -> Path:
    return _cutout_path(products_dir, candidate.detector, candidate.id)


def _cutout_path(products_dir: Path, detector: str, candidate_id: str) -> Path:
    return products_dir / "candidates" / detector / f"{candidate_id}.png"


def remove_cutouts(products_dir: Path, detector: Detector, ids: set[str]) -> int:
    """Delete the cutout strips of candidates merged into another; returns how many."""
    removed = 0
    for cid in ids:
        path = _cutout_path(products_dir, detector.value, cid)
        if path.exists():
            path.unlink()
            removed += 1
    return removed


def hunt_window(
    store: LifecycleStore,
    products_dir: Path,
    start: datetime,
    end: datetime,
    detectors: tuple[Detector, ...],
    *,
    now: datetime,
    window: timedelta = HUNT_WINDOW,
    parallel: bool = True,
    config: HuntConfig = DEFAULT_CONFIG,
) -> HuntResult:
    """Hunt, for every hour ending in (start, end], the frames of the ``window`` before it.

    One hour gives one hunt; a backfilled range slides the window hour by hour, sharing
    source lists between overlapping windows, and loads each frame from disk once.
    ``parallel``: the detectors are hunted side by side in threads (their candidates never
    meet: ids, tracks and merges are per detector). ``config``: the hunter's knobs (a
    recipe's: ``hunting.config.config_for``).
    """
    started = time.perf_counter()
    parts = [HuntResult() for _ in detectors]

    def hunt(detector: Detector, part: HuntResult) -> None:
        _hunt_detector(store, products_dir, start, end, detector, now, window, part, config)

    if parallel and len(detectors) > 1:
        with ThreadPoolExecutor(len(detectors), thread_name_prefix="hunt") as pool:
            list(pool.map(hunt, detectors, parts))
    else:
        for detector, part in zip(detectors, parts, strict=True):
            hunt(detector, part)
    result = HuntResult()
    for part in parts:
        result.absorb(part)
    result.candidates.sort(key=lambda c: c.score, reverse=True)
    result.elapsed_s = time.perf_counter() - started
    return result


def _hunt_detector(
    store: LifecycleStore,
    products_dir: Path,
    start: datetime,
    end: datetime,
    detector: Detector,
    now: datetime,
    window: timedelta,
    result: HuntResult,
    config: HuntConfig = DEFAULT_CONFIG,
) -> None:
    """Slide the window hour by hour with the same hunter the evaluation measures."""
    pending = deque(
        f for f in store.frames_between(detector, start - window, end) if f.path(PROCESSED)
    )
    result.frames[detector] = len(pending)
    result.source_tables[detector] = 0
    if not pending:
        return
    hunter: SlidingHunter | None = None
    touched: dict[str, Candidate] = {}
    tabled: set[str] = set()  # frames whose source table is saved (now or before)
    hour_end = start + timedelta(hours=1)
    while hour_end <= end:
        while pending and pending[0].observed_at < hour_end:
            frame = load_hunt_frame(pending.popleft())
            if hunter is None:
                hunter = SlidingHunter(
                    detector.value,
                    config=config,
                    window_hours=window / timedelta(hours=1),
                    merge_horizon_hours=MERGE_HORIZON / timedelta(hours=1),
                    existing=_stored_candidates(store, detector, start - window, end, frame),
                )
            hunter.add(frame)
        if hunter is not None and len(hunter.window_frames(hour_end)) >= config.min_frames:
            frames = hunter.window_frames(hour_end)
            for candidate in hunter.hunt_until(hour_end):
                touched[candidate.id] = candidate
                _save(store, products_dir, candidate, frames, now, result)
            result.source_tables[detector] += save_source_tables(
                products_dir, detector, frames, hunter.sources, config, seen=tabled
            )
        hour_end += timedelta(hours=1)
    if hunter is not None:
        result.stats[detector] = hunter.stats
        survivors = [c for cid, c in touched.items() if cid not in hunter.absorbed]
        _carry_verdicts(store, hunter.absorbed, survivors, now, result)
        store.delete_candidates(hunter.absorbed)
        remove_cutouts(products_dir, detector, hunter.absorbed)  # no strip outlives its row
        result.merged_away += sorted(hunter.absorbed)
        result.candidates += [c for cid, c in touched.items() if cid not in hunter.absorbed]


def _stored_candidates(
    store: LifecycleStore,
    detector: Detector,
    since: datetime,
    until: datetime,
    frame: HuntFrame,
) -> list[Candidate]:
    """Candidates already in the store that this hunt may update (their ids are kept)."""
    return [
        candidate_from_rows(
            row, store.detections_for(row.id), sun=frame.sun(), roll_deg=frame.roll_deg
        )
        for row in store.candidates(
            detector=detector.value, since=since - MERGE_HORIZON, until=until
        )
    ]


def _save(
    store: LifecycleStore,
    products_dir: Path,
    candidate: Candidate,
    frames: list[HuntFrame],
    now: datetime,
    result: HuntResult,
) -> None:
    path = cutout_path(products_dir, candidate)
    path.parent.mkdir(parents=True, exist_ok=True)
    strip_png(cutout_strip(frames, candidate), path)
    store.upsert_candidate(candidate_row(candidate, cutout_path=str(path)), now=now)
    store.replace_detections(candidate.id, detection_rows(candidate))
    result.cutouts[candidate.id] = path
    stored = store.candidate(candidate.id)
    if stored is not None:  # a verdict given earlier stands (the upsert keeps it)
        result.statuses[candidate.id] = stored.status


def shares_sighting(
    a: list[DetectionRecord], b: list[DetectionRecord], tolerance_px: float = SAME_SIGHTING_PX
) -> bool:
    """True when both tracks hold a detection of the same file at the same place."""
    where = {d.file: (d.x, d.y) for d in a}
    for d in b:
        other = where.get(d.file)
        if other and abs(other[0] - d.x) <= tolerance_px and abs(other[1] - d.y) <= tolerance_px:
            return True
    return False


def _carry_verdicts(
    store: LifecycleStore,
    absorbed: set[str],
    survivors: list[Candidate],
    now: datetime,
    result: HuntResult,
) -> None:
    """A judged candidate merged into another passes its verdict on (audited, by "hunt"),
    so a rejected track stays rejected under its new id; the strongest verdict wins."""
    judged = [
        (record, store.detections_for(record.id))
        for record in (store.candidate(cid) for cid in sorted(absorbed))
        if record is not None and record.status is not CandidateStatus.NEW
    ]
    for survivor in survivors if judged else []:
        stored = store.candidate(survivor.id)
        if stored is None:
            continue
        current = stored.status  # now, not when it was saved: a hunter may have judged it
        track = detection_rows(survivor)
        best = max(
            (r for r, dets in judged if shares_sighting(dets, track)),
            key=lambda r: VERDICT_RANK[r.status],
            default=None,
        )
        if best is None or VERDICT_RANK[best.status] <= VERDICT_RANK[current]:
            continue
        try:
            store.review_candidate(
                survivor.id,
                best.status,
                by=HUNT_REVIEWER,
                now=now,
                note=f"carried over from {best.id}, which the hunt merged into this candidate",
                expected=current,
            )
        except VerdictChanged:  # a hunter gave one just now: theirs stands
            continue
        result.statuses[survivor.id] = best.status
        result.carried[survivor.id] = best.id


def new_candidates_since(
    store: LifecycleStore, detectors: tuple[Detector, ...], since: datetime, until: datetime
) -> dict[str, int]:
    """New candidates per detector seen in [since, until): known objects (planets) are
    shown to a hunter, but never count as noise."""
    return {
        d.value: sum(1 for c in store.candidates(d, since=since, until=until) if not c.known)
        for d in detectors
    }
