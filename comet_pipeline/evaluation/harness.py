"""Measure the hunter on the simulated archive: recall, false candidates, ranks, speed.

The simulated archive renders level-0.5 FITS with injected comets (spread brightness, Kreutz
in C2 and C3, a faster C2 group) and knows where each comet is in every frame. Frames are
calibrated and background-subtracted in memory by the very functions
``imaging.pipeline.FrameProcessor`` runs (``imaging.frame.background_history`` and
``process_frame``, with its defaults), so the hunted images equal the ``bgsub.fits`` the
Dagster pipeline writes; they are hunted over sliding windows as the hourly asset does,
folded into stable candidates, and matched to the truth.

That is the default source, :attr:`Source.MEMORY`. With :attr:`Source.PRODUCTS` every frame
goes instead through the deployed path (:mod:`comet_pipeline.evaluation.products`): the real
``FrameProcessor`` writes its products into a temporary folder and the hunt reads each
frame back from its compressed ``.bgsub.fits.fz`` with the hourly hunt's loader, so the
figures include what the products' quantisation does to the detector.

A candidate matches a comet when they share at least ``MIN_SHARED`` frames and the median
position error over the shared frames is at most ``MAX_MEDIAN_ERR`` px. A comet is found
when some candidate matches it; a candidate matching no comet is false.

Only this package joins the simulator, the imaging and the hunter; the hunter imports none
of it.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG
from comet_pipeline.hunting.model import Candidate, HuntFrame
from comet_pipeline.hunting.sliding import SlidingHunter

if TYPE_CHECKING:
    from comet_pipeline.evaluation.products import ProductFrames
    from comet_pipeline.simulator.archive import CometTruth

MIN_SHARED = 3
MAX_MEDIAN_ERR = 3.0
DEFAULT_START = date(2025, 1, 1)
SNR_BINS = ("snr>=5 & >=6 frames", "snr>=5 & <6 frames", "3<=snr<5", "snr<3")


class Source(StrEnum):
    """Where the hunted frames come from."""

    MEMORY = "memory"  # arrays computed in memory (MemoryFrames), never quantised
    PRODUCTS = "products"  # FrameProcessor's .bgsub.fits.fz on disk, read back (ProductFrames)

    @property
    def description(self) -> str:
        if self is Source.PRODUCTS:
            return (
                "frames hunted from the .bgsub.fits.fz products FrameProcessor wrote "
                "(read back as the hourly hunt does)"
            )
        return "frames hunted from in-memory arrays (not the compressed products)"


@dataclass(frozen=True)
class CometResult:
    comet_id: str
    group: str
    detector: str
    peak_snr: float
    n_frames: int
    found: bool
    candidate_id: str | None
    median_err: float | None
    n_matched: int
    ranks: dict[str, int]  # day (YYYY-MM-DD) -> rank of its candidate among that day's

    @property
    def snr_bin(self) -> str:
        if self.peak_snr >= 5:
            return SNR_BINS[0] if self.n_frames >= 6 else SNR_BINS[1]
        return SNR_BINS[2] if self.peak_snr >= 3 else SNR_BINS[3]


@dataclass(frozen=True)
class DayResult:
    detector: str
    day: str
    n_candidates: int
    n_false: int  # false candidates first seen that day
    comets_present: int  # true comets with truth frames that day
    comets_found: int  # of those, found (their candidate has detections that day)
    top_is_true: bool | None  # None when no found comet is present that day


@dataclass
class EvaluationReport:
    seed: int
    days: int
    start: date
    detectors: tuple[str, ...]
    comets: list[CometResult]
    day_results: list[DayResult]
    false_candidates: list[Candidate]
    candidates: list[Candidate]
    duplicates: int  # extra candidates matching a comet that already has its best one
    n_frames: int
    ms_hunt_per_frame: float
    ms_process_per_frame: float
    ms_render_per_frame: float
    ms_total_per_frame: float
    window_hours: float
    step_hours: float
    comets_per_day: float
    profile: str = "nominal"
    known_candidates: list[Candidate] = field(default_factory=list)  # labelled planets
    planets_in_field: dict[str, set[str]] = field(default_factory=dict)  # det -> names seen
    window_ms: list[float] = field(default_factory=list)  # hunting ms per new frame, per window
    storm_window_ms: list[float] = field(default_factory=list)  # the same, storm windows
    storm_frames: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    source: Source = Source.MEMORY
    hours: float | None = None  # a run shorter than whole days: its length
    products_read: int = 0  # products mode: .bgsub.fits.fz files the hunt read back
    product_bytes_read: int = 0  # ... and their size on disk

    @property
    def ms_hunt_median(self) -> float:
        return float(np.median(self.window_ms)) if self.window_ms else 0.0

    @property
    def ms_hunt_storm(self) -> float:
        """Hunting ms per frame in the worst window that took in a storm frame (0: none)."""
        return float(max(self.storm_window_ms)) if self.storm_window_ms else 0.0

    def recall(self) -> dict[str, tuple[int, int]]:
        """SNR bin -> (found, total)."""
        out: dict[str, tuple[int, int]] = {b: (0, 0) for b in SNR_BINS}
        for c in self.comets:
            f, n = out[c.snr_bin]
            out[c.snr_bin] = (f + int(c.found), n + 1)
        return out

    @property
    def false_per_detector_day(self) -> float:
        return len(self.false_candidates) / max(1, self.days * len(self.detectors))

    @property
    def max_false_in_a_day(self) -> int:
        return max((d.n_false for d in self.day_results), default=0)

    @property
    def days_top_true(self) -> tuple[int, int]:
        """(detector-days whose top candidate is a true comet, detector-days with one found)."""
        judged = [d for d in self.day_results if d.top_is_true is not None]
        return sum(1 for d in judged if d.top_is_true), len(judged)

    def as_dict(self) -> dict[str, object]:
        rec = {k: {"found": f, "total": n} for k, (f, n) in self.recall().items()}
        top, judged = self.days_top_true
        out: dict[str, object] = {
            "source": self.source.value,
            "profile": self.profile,
            "seed": self.seed,
            "days": self.days,
            "start": self.start.isoformat(),
            "recall": rec,
            "false_candidates": len(self.false_candidates),
            "false_per_detector_day": round(self.false_per_detector_day, 3),
            "max_false_in_a_detector_day": self.max_false_in_a_day,
            "days_top_candidate_true": f"{top}/{judged}",
            "duplicate_candidates": self.duplicates,
            "ranks": sorted(r for c in self.comets for r in c.ranks.values()),
            "frames": self.n_frames,
            "ms_hunt_per_frame": round(self.ms_hunt_per_frame, 1),
            "ms_hunt_per_frame_median_window": round(self.ms_hunt_median, 1),
            "ms_hunt_per_frame_worst_storm_window": round(self.ms_hunt_storm, 1),
            "storm_frames": self.storm_frames,
            "known_objects_labelled": sorted({c.known or "" for c in self.known_candidates}),
            "planets_in_field": {d: sorted(v) for d, v in self.planets_in_field.items()},
            "ms_process_per_frame": round(self.ms_process_per_frame, 1),
            "ms_render_per_frame": round(self.ms_render_per_frame, 1),
            "ms_total_per_frame": round(self.ms_total_per_frame, 1),
        }
        if self.hours is not None:
            out["hours"] = self.hours
        if self.source is Source.PRODUCTS:
            out["products_read"] = self.products_read
            out["product_bytes_read"] = self.product_bytes_read
        return out


# ----------------------------------------------------------------------------- processing


class FrameSource(Protocol):
    """Raw level-0.5 FITS bytes -> the frame the hunter gets (MemoryFrames, ProductFrames)."""

    def frame(self, name: str, data: bytes) -> HuntFrame: ...


class MemoryFrames:
    """Raw level-0.5 FITS bytes -> background-subtracted HuntFrame, nothing on disk.

    The imaging is FrameProcessor's own: :func:`imaging.frame.background_history` picks the
    earlier samples and :func:`imaging.frame.process_frame` calibrates, masks, samples and
    subtracts the background with the same defaults, so ``image`` equals the ``bgsub.fits``
    the Dagster pipeline writes and hunts (float32, NaN where masked). Only the samples of
    recent frames are kept, in memory instead of ``.sample.npy`` files.
    """

    def __init__(
        self,
        *,
        history: int | None = None,
        min_history: int | None = None,
        background_window: timedelta | None = None,
        fallback: str | None = None,
    ) -> None:
        from comet_pipeline.imaging import frame as imf

        self.history = imf.HISTORY if history is None else history
        self.min_history = imf.MIN_HISTORY if min_history is None else min_history
        self.window = imf.BACKGROUND_WINDOW if background_window is None else background_window
        self.fallback = imf.FALLBACK if fallback is None else fallback
        self._samples: dict[str, deque[tuple[datetime, np.ndarray]]] = defaultdict(
            lambda: deque(maxlen=max(self.history, 1) + 4)
        )

    def frame(self, name: str, data: bytes) -> HuntFrame:
        from astropy.io import fits

        from comet_pipeline.archive.fits_header import parse_fits_header
        from comet_pipeline.imaging.frame import background_history, process_frame

        with fits.open(io.BytesIO(data), memmap=False) as hdul:
            raw = np.asarray(hdul[0].data)
            info = parse_fits_header(hdul[0].header)
        now = info.observed_at
        kept = self._samples[Detector(info.detector).value]
        chosen = background_history(
            now, kept, lambda e: e[0], history=self.history, window=self.window
        )
        science = process_frame(
            raw,
            info,
            [sample for _, sample in chosen],
            min_history=self.min_history,
            fallback=self.fallback,
        )
        kept.append((now, science.sample))
        image = science.subtracted.bgsub.astype(np.float32, copy=False)
        return HuntFrame(
            name,
            now,
            image,
            sun_x=info.sun_x,
            sun_y=info.sun_y,
            plate_scale=info.plate_scale,
            roll_deg=info.roll_deg,
        )


# ----------------------------------------------------------------------------- matching


def match_errors(cand: Candidate, frames: Iterable[tuple[str, float, float]]) -> list[float]:
    pos = {name: (x, y) for name, x, y in frames}
    return [
        float(np.hypot(d.x - pos[d.name][0], d.y - pos[d.name][1]))
        for d in cand.detections
        if d.name in pos
    ]


def _matches(cand: Candidate, frames: Sequence[tuple[str, float, float]]) -> tuple[bool, float]:
    errs = match_errors(cand, frames)
    if len(errs) < MIN_SHARED:
        return False, float("inf")
    med = float(np.median(errs))
    return med <= MAX_MEDIAN_ERR, med


def _day(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


# ----------------------------------------------------------------------------- the run


class _WindowTimer:
    """Times each hunt and charges it to the frames that window took in (ms per new frame);
    windows that took in a storm frame are also listed apart."""

    def __init__(
        self, hunter: SlidingHunter, window_ms: list[float], storm_ms: list[float]
    ) -> None:
        self.hunter = hunter
        self.window_ms = window_ms
        self.storm_ms = storm_ms
        self.added: list[str] = []

    def hunt_until(self, until: datetime) -> float:
        t0 = time.perf_counter()
        self.hunter.hunt_until(until)
        elapsed = time.perf_counter() - t0
        if self.added:
            per_frame = 1000.0 * elapsed / len(self.added)
            self.window_ms.append(per_frame)
            if any(name in self.hunter.stats.storm_frames for name in self.added):
                self.storm_ms.append(per_frame)
            self.added.clear()
        return elapsed


def evaluate(
    days: int,
    seed: int,
    *,
    profile: str = "nominal",
    start: date | None = None,
    detectors: Sequence[str] = ("c2", "c3"),
    config: HuntConfig = DEFAULT_CONFIG,
    comets_per_day: float = 4.0,
    c2_fast_comets_per_day: float = 1.0,
    window_hours: float = 6.0,
    step_hours: float = 1.0,
    lead_in_hours: float = 3.0,
    keep_frames: dict[str, HuntFrame] | None = None,
    source: Source | str = Source.MEMORY,
    hours: float | None = None,
) -> EvaluationReport:
    """Run ``days`` simulated days of sky ``profile`` (seed ``seed``) through imaging and
    hunting; score it.

    ``comets_per_day`` raises the simulator's comet rate (Kreutz, per detector) for
    statistics; brightness keeps the simulator's own distribution. Windows of
    ``window_hours`` are hunted every ``step_hours`` (1 h: the hourly ``comet_candidates``
    asset's 6 h window and step). ``keep_frames``, if given, receives every hunted frame
    (memory heavy: for looking at cutouts of a short run).

    ``source``: :attr:`Source.MEMORY` (default) hunts frames computed in memory;
    :attr:`Source.PRODUCTS` processes each frame with ``FrameProcessor`` into a temporary
    folder (removed afterwards) and hunts the ``.bgsub.fits.fz`` read back from it.
    ``hours``, if given, runs that many hours from the start instead of ``days`` (short
    runs; day figures then cover the part of the day run).
    """
    source = Source(source)
    with contextlib.ExitStack() as stack:
        root = None
        if source is Source.PRODUCTS:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="comet-eval-")))
        return _evaluate(
            days,
            seed,
            profile=profile,
            start=start,
            detectors=detectors,
            config=config,
            comets_per_day=comets_per_day,
            c2_fast_comets_per_day=c2_fast_comets_per_day,
            window_hours=window_hours,
            step_hours=step_hours,
            lead_in_hours=lead_in_hours,
            keep_frames=keep_frames,
            products_root=root,
            hours=hours,
        )


def _evaluate(
    days: int,
    seed: int,
    *,
    profile: str,
    start: date | None,
    detectors: Sequence[str],
    config: HuntConfig,
    comets_per_day: float,
    c2_fast_comets_per_day: float,
    window_hours: float,
    step_hours: float,
    lead_in_hours: float,
    keep_frames: dict[str, HuntFrame] | None,
    products_root: Path | None,
    hours: float | None,
) -> EvaluationReport:
    """:func:`evaluate`; ``products_root`` set: the products mode, writing there."""
    from comet_pipeline.simulator.archive import SimArchive
    from comet_pipeline.simulator.profiles import profile_config
    from comet_pipeline.simulator.sky import planets_at

    start = start or DEFAULT_START
    t_start = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    if hours is not None:
        days = max(1, math.ceil(hours / 24))
        t_end = t_start + timedelta(hours=hours)
    else:
        t_end = t_start + timedelta(days=days)
    sim = SimArchive(
        profile_config(
            profile,
            seed,
            comets_per_day=comets_per_day,
            c2_fast_comets_per_day=c2_fast_comets_per_day,
        )
    )
    all_candidates: list[Candidate] = []
    t_render = t_process = t_hunt = 0.0
    n_frames = 0
    window_ms: list[float] = []
    storm_ms: list[float] = []
    storm_frames = 0
    planets: dict[str, set[str]] = {}
    from_products: list[ProductFrames] = []
    for det_name in detectors:
        det = Detector(det_name)
        obs = []
        day = (t_start - timedelta(hours=lead_in_hours)).date()
        while day <= (t_end - timedelta(microseconds=1)).date():  # the day t_end falls in
            obs += [o for o in sim.observations(day, det) if o.synoptic and not o.duplicate_of]
            day += timedelta(days=1)
        obs = [o for o in obs if t_start - timedelta(hours=lead_in_hours) <= o.observed_at < t_end]
        obs.sort(key=lambda o: o.observed_at)
        proc: FrameSource = MemoryFrames()
        if products_root is not None:
            from comet_pipeline.evaluation.products import ProductFrames

            from_products.append(ProductFrames(products_root / det.value))
            proc = from_products[-1]
        hunter = SlidingHunter(det.value, config=config, window_hours=window_hours)
        timer = _WindowTimer(hunter, window_ms, storm_ms)
        next_hunt = t_start + timedelta(hours=step_hours)
        for o in obs:
            while o.observed_at >= next_hunt:
                t_hunt += timer.hunt_until(next_hunt)
                next_hunt += timedelta(hours=step_hours)
            t0 = time.perf_counter()
            data = sim.render(o)
            t1 = time.perf_counter()
            frame = proc.frame(o.name, data)
            t_render += t1 - t0
            t_process += time.perf_counter() - t1
            if o.observed_at < t_start:
                continue
            n_frames += 1
            hunter.add(frame)
            timer.added.append(frame.name)
            planets.setdefault(det.value, set()).update(
                p.name for p in planets_at(det, o.observed_at)
            )
            if keep_frames is not None:
                keep_frames[frame.name] = frame
        while next_hunt < t_end + timedelta(hours=step_hours):
            t_hunt += timer.hunt_until(min(next_hunt, t_end))
            next_hunt += timedelta(hours=step_hours)
        all_candidates += hunter.candidates
        storm_frames += len(hunter.stats.storm_frames)

    truth = sim.truth(t_start, t_end)
    truth = [c for c in truth if c.detector.value in {d.lower() for d in detectors}]
    new = [c for c in all_candidates if c.is_new]
    report = _score(truth, new, detectors, t_start, days)
    nf = max(n_frames, 1)
    return EvaluationReport(
        seed=seed,
        days=days,
        start=start,
        detectors=tuple(d.lower() for d in detectors),
        comets=report[0],
        day_results=report[1],
        false_candidates=report[2],
        candidates=new,
        duplicates=report[3],
        n_frames=n_frames,
        ms_hunt_per_frame=1000 * t_hunt / nf,
        ms_process_per_frame=1000 * t_process / nf,
        ms_render_per_frame=1000 * t_render / nf,
        ms_total_per_frame=1000 * (t_hunt + t_process + t_render) / nf,
        window_hours=window_hours,
        step_hours=step_hours,
        comets_per_day=comets_per_day,
        profile=profile,
        known_candidates=[c for c in all_candidates if not c.is_new],
        planets_in_field=planets,
        window_ms=window_ms,
        storm_window_ms=storm_ms,
        storm_frames=storm_frames,
        source=Source.MEMORY if products_root is None else Source.PRODUCTS,
        hours=hours,
        products_read=sum(p.counts.read for p in from_products),
        product_bytes_read=sum(p.counts.bytes_read for p in from_products),
    )


def _score(
    truth: Sequence[CometTruth],
    candidates: list[Candidate],
    detectors: Sequence[str],
    t_start: datetime,
    days: int,
) -> tuple[list[CometResult], list[DayResult], list[Candidate], int]:
    """Match, then per comet (found, rank per day) and per detector-day (false, top)."""
    true_ids, best = _match_truth(truth, candidates)
    false = [c for c in candidates if c.id not in true_ids]

    by_day: dict[tuple[str, str], list[Candidate]] = defaultdict(list)
    for c in candidates:
        for d in sorted({_day(x.observed_at) for x in c.detections}):
            by_day[(c.detector, d)].append(c)
    for lst in by_day.values():
        lst.sort(key=lambda c: -c.score)

    comets = [_comet_result(comet, best.get(comet.id), by_day) for comet in truth]
    day_results = _day_results(truth, comets, false, true_ids, by_day, detectors, t_start, days)
    best_ids = {hit[0].id for hit in best.values()}
    duplicates = len(true_ids - best_ids)
    return comets, day_results, false, duplicates


#: A comet's best-matching candidate: (candidate, median error px, frames matched).
_Hit = tuple[Candidate, float, int]


def _match_truth(
    truth: Sequence[CometTruth], candidates: list[Candidate]
) -> tuple[set[str], dict[str, _Hit]]:
    """Ids of candidates matching some comet, and each comet's best match (most frames)."""
    true_ids: set[str] = set()
    best: dict[str, _Hit] = {}
    for comet in truth:
        frames = [(f.name, f.x, f.y) for f in comet.frames]
        for cand in candidates:
            if cand.detector != comet.detector.value:
                continue
            ok, med = _matches(cand, frames)
            if ok:
                true_ids.add(cand.id)
                n = len(match_errors(cand, frames))
                if comet.id not in best or n > best[comet.id][2]:
                    best[comet.id] = (cand, med, n)
    return true_ids, best


def _comet_result(
    comet: CometTruth, hit: _Hit | None, by_day: dict[tuple[str, str], list[Candidate]]
) -> CometResult:
    ranks: dict[str, int] = {}
    if hit is not None:
        cand = hit[0]
        for d in sorted({_day(x.observed_at) for x in cand.detections}):
            lst = by_day[(cand.detector, d)]
            ranks[d] = 1 + lst.index(cand)
    return CometResult(
        comet_id=comet.id,
        group=comet.group,
        detector=comet.detector.value,
        peak_snr=max(f.peak_snr for f in comet.frames),
        n_frames=len(comet.frames),
        found=hit is not None,
        candidate_id=hit[0].id if hit else None,
        median_err=hit[1] if hit else None,
        n_matched=hit[2] if hit else 0,
        ranks=ranks,
    )


def _day_results(
    truth: Sequence[CometTruth],
    comets: list[CometResult],
    false: list[Candidate],
    true_ids: set[str],
    by_day: dict[tuple[str, str], list[Candidate]],
    detectors: Sequence[str],
    t_start: datetime,
    days: int,
) -> list[DayResult]:
    day_results = []
    for det in detectors:
        det = det.lower()
        for k in range(days):
            d = _day(t_start + timedelta(days=k))
            lst = by_day.get((det, d), [])
            present = [
                c
                for c in truth
                if c.detector.value == det and any(_day(f.observed_at) == d for f in c.frames)
            ]
            found_today = [c for c in comets if c.detector == det and d in c.ranks]
            n_false = sum(
                1 for c in false if c.detector == det and _day(c.detections[0].observed_at) == d
            )
            top = None
            if found_today:
                top = bool(lst) and lst[0].id in true_ids
            day_results.append(
                DayResult(det, d, len(lst), n_false, len(present), len(found_today), top)
            )
    return day_results


def format_report(report: EvaluationReport) -> str:
    """A readable table of the evaluation (what ``comet-pipeline evaluate`` prints)."""
    r = report
    span = f"{r.hours:g} h" if r.hours is not None else f"{r.days} day(s)"
    lines = [
        f"Comet-hunting evaluation: profile {r.profile}, seed {r.seed}, {span} "
        f"from {r.start}, "
        f"detectors {','.join(d.upper() for d in r.detectors)}",
        f"  source: {r.source.value}: {r.source.description}"
        + (
            f"; {r.products_read} products read, {r.product_bytes_read / 1e6:.1f} MB"
            if r.source is Source.PRODUCTS
            else ""
        ),
        f"  simulated Kreutz comets/day/detector: {r.comets_per_day:g} (+ fast C2 group); "
        f"windows {r.window_hours:g} h every {r.step_hours:g} h; match: >= {MIN_SHARED} shared "
        f"frames, median error <= {MAX_MEDIAN_ERR:g} px",
        "",
        f"  {'recall by peak SNR':<28}{'found':>7}{'total':>7}{'recall':>9}",
    ]
    for b, (f, n) in r.recall().items():
        pct = f"{100 * f / n:.0f}%" if n else "-"
        lines.append(f"  {b:<28}{f:>7}{n:>7}{pct:>9}")
    top, judged = r.days_top_true
    lines += [
        "",
        f"  false candidates: {len(r.false_candidates)} in {r.days * len(r.detectors)} "
        f"detector-days = {r.false_per_detector_day:.2f} per detector-day "
        f"(max {r.max_false_in_a_day} in one)",
        f"  detector-days whose top candidate is a true comet: {top}/{judged}",
        f"  duplicate candidates (a found comet split in two): {r.duplicates}",
        "",
        f"  {'comet':<24}{'det':>4}{'peakSNR':>8}{'frames':>7}{'found':>6}{'err px':>7}"
        f"{'matched':>8}  ranks by day",
    ]
    for c in sorted(r.comets, key=lambda c: (c.detector, -c.peak_snr)):
        ranks = " ".join(f"{d[5:]}:{k}" for d, k in sorted(c.ranks.items()))
        err = f"{c.median_err:.2f}" if c.median_err is not None else "-"
        lines.append(
            f"  {c.comet_id:<24}{c.detector.upper():>4}{c.peak_snr:>8.1f}{c.n_frames:>7}"
            f"{'yes' if c.found else 'NO':>6}{err:>7}{c.n_matched:>8}  {ranks}"
        )
    if r.false_candidates:
        lines += ["", "  strongest false candidates:"]
        for fc in sorted(r.false_candidates, key=lambda fc: -fc.score)[:5]:
            lines.append(
                f"    {fc.id}  score {fc.score:.1f}  frames {fc.n_frames}  speed {fc.speed:.1f} px/h"
                f"  inward {fc.inward:.2f}  rms {fc.rms:.2f}"
            )
    lines += [
        "",
        f"  frames hunted: {r.n_frames}; ms per frame: hunting {r.ms_hunt_per_frame:.1f}, "
        f"imaging{' (products written, read back)' if r.source is Source.PRODUCTS else ''} "
        f"{r.ms_process_per_frame:.1f}, simulator render {r.ms_render_per_frame:.1f}, "
        f"total {r.ms_total_per_frame:.1f} (2 shared cores: timings are noisy)",
    ]
    return "\n".join(lines)
