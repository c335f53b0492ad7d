"""hunt(): frames of one detector in, ranked comet candidates out.

Sources per frame -> storm frames capped -> static sources and planet bleeds masked -> star
drift of the window (ephemeris, refined by the data) -> star rejection and linking ->
stitching of pieces -> scoring -> known objects labelled -> identities (duplicates folded)
-> reports. Pure numpy/scipy/astropy: the Dagster asset and the evaluation harness both call
this, with the same result; :class:`HuntStats` says what each step did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.drift import estimate_drift, hours_since
from comet_pipeline.hunting.identity import candidate_id, merge_candidates
from comet_pipeline.hunting.known import (
    bleed_masks,
    frame_planets,
    known_label,
    match_radius,
    planet_sightings,
)
from comet_pipeline.hunting.model import Candidate, Detection, HuntFrame
from comet_pipeline.hunting.report import report_text
from comet_pipeline.hunting.scoring import score, track_features
from comet_pipeline.hunting.sources import SourceList, detect_sources
from comet_pipeline.hunting.static import pixel_marks, static_masks
from comet_pipeline.hunting.stats import HuntStats
from comet_pipeline.hunting.storm import cap_sources
from comet_pipeline.hunting.tracking import Track, link_tracks, star_masks, stitch_tracks
from comet_pipeline.imaging.ephemeris import FrameGeometry, KnownObject
from comet_pipeline.imaging.families import NOMINAL_PLATE_SCALE, NOMINAL_SIZE

DEFAULT_CONFIG = HuntConfig()  # frozen, so safe to share as a default


@dataclass
class HuntCache:
    """What overlapping windows can share: sources, settled star masks, drift votes.

    A star mask is reused only when the frame's neighbourhood (the frames within the star
    window, and their source lists) is unchanged and the drift moved by < 0.1 px/h.
    """

    sources: dict[str, SourceList] = field(default_factory=dict)
    stars: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )  # (drift it was made with, mask)
    pairs: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # drift votes
    marks: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)  # static test

    def forget(self, name: str) -> None:
        self.sources.pop(name, None)
        for key in [k for k in self.stars if k[0] == name]:
            del self.stars[key]
        for key in [k for k in self.marks if k[0] == name]:
            del self.marks[key]
        # drift votes are keyed "name#count" (a storm cap changes the list)
        for key in [k for k in self.pairs if any(p.split("#")[0] == name for p in k)]:
            del self.pairs[key]


def frame_sources(frame: HuntFrame, config: HuntConfig) -> SourceList:
    """The source list of one frame under ``config`` (what a cache should hold)."""
    result = detect_sources(
        frame.image,
        psf_sigma=config.psf_sigma,
        threshold=config.threshold,
        max_sharpness=config.max_sharpness,
        min_roundness=config.min_roundness,
        min_contrast=config.min_contrast,
        edge_margin=config.edge_margin,
    )
    assert isinstance(result, SourceList)
    return result


def build_candidate(
    detector: str,
    detections: Sequence[Detection],
    *,
    sun: tuple[float, float],
    config: HuntConfig,
    image_size: int = 1024,
    cid: str | None = None,
    known: str | None = None,
    roll_deg: float = 0.0,
) -> Candidate:
    """Score ``detections`` and wrap them as a Candidate (id derived unless given)."""
    dets = tuple(sorted(detections, key=lambda d: d.observed_at))
    t = hours_since([d.observed_at for d in dets])
    x = np.array([d.x for d in dets])
    y = np.array([d.y for d in dets])
    snr = np.array([d.snr for d in dets])
    # the corridor at the middle detection, with the camera's nominal plate scale (one value
    # for the first build and every rebuild, which knows no header)
    geometry = FrameGeometry(
        dets[len(dets) // 2].observed_at,
        sun[0],
        sun[1],
        NOMINAL_PLATE_SCALE[Detector(detector.lower())] * NOMINAL_SIZE / image_size,
        roll_deg,
    )
    f = track_features(t, x, y, snr, sun, geometry=geometry, detector=detector)
    params = config.params(detector)
    cid = cid or candidate_id(detector, dets[0].observed_at, dets[0].x, dets[0].y)
    text = report_text(
        detector,
        dets,
        image_size=image_size,
        candidate_id=cid,
        speed=f.speed,
        direction=f.direction,
        roll_deg=roll_deg,
    )
    return Candidate(
        id=cid,
        detector=detector.lower(),
        detections=dets,
        score=score(f, params),
        snr=f.snr,
        speed=f.speed,
        direction=f.direction,
        vx=f.vx,
        vy=f.vy,
        inward=f.inward,
        rms=f.rms,
        report=text,
        image_size=image_size,
        sun_x=sun[0],
        sun_y=sun[1],
        known=known,
        roll_deg=roll_deg,
        extras={"snr_median": f.snr_median, "accel": f.accel, "corridor": f.corridor},
    )


def rebuild(base: Candidate, detections: list[Detection], config: HuntConfig) -> Candidate:
    """``base`` with new detections, keeping its id (identity updates)."""
    return build_candidate(
        base.detector,
        detections,
        sun=(base.sun_x, base.sun_y),
        config=config,
        image_size=base.image_size,
        cid=base.id,
        known=base.known,
        roll_deg=base.roll_deg,
    )


def _track_ok(tr: Track, drift: tuple[float, float], detector: str, config: HuntConfig) -> bool:
    p = config.params(detector)
    if len(tr) < config.min_frames or tr.fit.rms > config.max_rms:
        return False
    vx, vy = tr.fit.velocity()
    speed = float(np.hypot(vx, vy))
    if not p.min_speed <= speed <= p.max_speed:
        return False
    rel = np.hypot(vx - drift[0], vy - drift[1])
    return not (np.all(np.isfinite(drift)) and rel < p.min_rel_speed)


def hunt(
    frames: Sequence[HuntFrame],
    *,
    detector: str,
    config: HuntConfig = DEFAULT_CONFIG,
    cache: HuntCache | None = None,
    stats: HuntStats | None = None,
) -> list[Candidate]:
    """Ranked comet candidates (best first) in a window of frames of one detector.

    ``cache`` (optional) keeps source lists and settled star masks between overlapping
    windows, so each frame is searched once; ``stats`` (optional) receives what the steps
    did. Candidates below ``config.min_score`` are dropped; known objects are labelled.
    """
    detector = str(detector).lower()
    uniq = {f.name: f for f in frames}
    ordered = sorted(uniq.values(), key=lambda f: (f.observed_at, f.name))
    if len(ordered) < config.min_frames:
        return []
    stats = stats if stats is not None else HuntStats()
    capped = cap_sources([_cached_sources(fr, config, cache) for fr in ordered], config)
    for fr, st, n, s in zip(ordered, capped.storm, capped.found, capped.sources, strict=True):
        if st:
            stats.storm_frames[fr.name] = (n, len(s))
    sources = capped.sources
    times = [f.observed_at for f in ordered]
    hours = hours_since(times)
    params = config.params(detector)
    drift_est = estimate_drift(
        sources,
        times,
        geometry=ordered[len(ordered) // 2].geometry(),
        max_rate=params.max_drift_rate,
        tolerance=params.drift_tolerance,
        zero_exclusion=params.zero_exclusion,
        names=[f"{f.name}#{len(s)}" for f, s in zip(ordered, sources, strict=True)],
        pair_cache=cache.pairs if cache is not None else None,
    )
    stats.add_drift(drift_est)
    drift = drift_est.velocity
    # stars are tested on the whole lists (what stands still never matches the drift), so
    # their masks stay valid from one window to the next; then the fixed sources go
    stars = _star_masks(ordered, sources, hours, drift, config, cache)
    planets = frame_planets(ordered)
    shape = ordered[0].image.shape
    still = static_masks(
        sources,
        (int(shape[0]), int(shape[1])),
        radius=config.static_radius,
        min_fraction=config.static_fraction,
        min_frames=config.static_min_frames,
        marks=_cached_marks(ordered, sources, config, cache),
    )
    bleeds = bleed_masks(sources, planets)
    movers, movers_stars = [], []
    for fr, s, star, m, b in zip(ordered, sources, stars, still, bleeds, strict=True):
        stats.static_masked[fr.name] = int(m.sum())
        stats.bleed_masked[fr.name] = int((b & ~m).sum())
        keep = ~(m | b)
        movers.append(s.subset(keep))
        movers_stars.append(star[keep])
    tracks = link_tracks(
        movers, hours, drift, params, config, stars=movers_stars, no_seed=capped.storm
    )
    tracks = stitch_tracks(
        tracks,
        max_gap_hours=config.stitch_gap_hours,
        radius=params.link_radius,
        max_rms=config.max_rms,
    )
    sun = ordered[len(ordered) // 2].sun()
    size = int(ordered[0].image.shape[1])
    radius = match_radius(ordered[len(ordered) // 2])
    roll = ordered[len(ordered) // 2].roll_deg
    found = []
    for tr in tracks:
        if not _track_ok(tr, drift, detector, config):
            continue
        dets = [
            Detection(
                name=ordered[k].name,
                observed_at=ordered[k].observed_at,
                x=float(x),
                y=float(y),
                flux=float(fl),
                snr=float(sn),
            )
            for k, x, y, fl, sn in zip(tr.frames, tr.x, tr.y, tr.flux, tr.snr, strict=True)
        ]
        cand = build_candidate(
            detector, dets, sun=sun, config=config, image_size=size, roll_deg=roll
        )
        label = known_label(tr.frames, tr.x, tr.y, planets, radius)
        if label is not None:
            cand = replace(cand, known=label)
        found.append(cand)
    found += _planet_candidates(ordered, planets, detector, sun, size, radius, roll, config)
    found.sort(key=lambda c: -c.score)
    merged = merge_candidates([], found, lambda b, d: rebuild(b, d, config)).candidates
    out = [c for c in merged if c.score >= config.min_score or c.known]
    for c in out:
        if c.known:
            stats.known[c.id] = c.known
    out.sort(key=lambda c: -c.score)
    return out


def _planet_candidates(
    ordered: Sequence[HuntFrame],
    planets: Sequence[Sequence[KnownObject]],
    detector: str,
    sun: tuple[float, float],
    size: int,
    radius: float,
    roll: float,
    config: HuntConfig,
) -> list[Candidate]:
    """Planets seen where the ephemeris puts them in enough frames, as labelled tracks."""
    out = []
    sightings = planet_sightings(ordered, planets, radius=radius, min_snr=config.seed_snr)
    for name, seen in sightings.items():
        if len(seen) < config.min_frames:
            continue
        dets = [
            Detection(
                name=ordered[p.frame].name,
                observed_at=ordered[p.frame].observed_at,
                x=float(p.x),
                y=float(p.y),
                flux=0.0,
                snr=float(p.snr),
            )
            for p in seen
        ]
        out.append(
            build_candidate(
                detector,
                dets,
                sun=sun,
                config=config,
                image_size=size,
                known=f"known: {name}",
                roll_deg=roll,
            )
        )
    return out


def _cached_marks(
    ordered: Sequence[HuntFrame],
    sources: Sequence[SourceList],
    config: HuntConfig,
    cache: HuntCache | None,
) -> list[np.ndarray]:
    """Each frame's :func:`pixel_marks`, kept per (frame, source count) between windows."""
    out = []
    for fr, s in zip(ordered, sources, strict=True):
        key = (fr.name, len(s))
        m = cache.marks.get(key) if cache is not None else None
        if m is None:
            m = pixel_marks(s, fr.image.shape, config.static_radius)
            if cache is not None:
                cache.marks[key] = m
        out.append(m)
    return out


def _cached_sources(frame: HuntFrame, config: HuntConfig, cache: HuntCache | None) -> SourceList:
    s = cache.sources.get(frame.name) if cache is not None else None
    if s is None:
        s = frame_sources(frame, config)
        if cache is not None:
            cache.sources[frame.name] = s
    return s


def _star_masks(
    ordered: Sequence[HuntFrame],
    sources: Sequence[SourceList],
    hours: np.ndarray,
    drift: tuple[float, float],
    config: HuntConfig,
    cache: HuntCache | None,
) -> list[np.ndarray]:
    """:func:`star_masks`, reusing a frame's mask when its neighbourhood repeats and the
    drift moved by less than 0.1 px/h (0.1 px over the star window: nothing changes)."""
    w = config.star_window_hours
    # the lists, fingerprinted, so a changed list (a storm cap) is not reused
    prints = [
        (fr.name, len(s), round(float(s.x.sum()), 2))
        for fr, s in zip(ordered, sources, strict=True)
    ]
    keys = []
    for i, fr in enumerate(ordered):
        neigh = tuple(
            prints[j] for j in range(len(ordered)) if j != i and abs(hours[j] - hours[i]) <= w
        )
        keys.append((fr.name, prints[i], neigh))
    v = np.asarray(drift, dtype=float)
    known: list[np.ndarray | None] = []
    for k in keys:
        hit = cache.stars.get(k) if cache is not None else None
        ok = hit is not None and np.all(np.isfinite(v)) and np.hypot(*(hit[0] - v)) < 0.1
        known.append(hit[1] if ok and hit is not None else None)
    masks = star_masks(
        sources, hours, drift, radius=config.star_radius, window_hours=w, known=known
    )
    if cache is not None:
        for k, m, old in zip(keys, masks, known, strict=True):
            if old is None:
                cache.stars[k] = (v, m)
    return masks
