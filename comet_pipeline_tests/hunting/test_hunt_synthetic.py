"""The hunter on synthetic frames with exact truth (fast: 512 px, short windows)."""

from datetime import timedelta

import numpy as np

from comet_pipeline.hunting.config import HuntConfig
from comet_pipeline.hunting.hunter import HuntCache, hunt, rebuild
from comet_pipeline.hunting.identity import merge_candidates, same_object
from comet_pipeline.hunting.synthetic import SynthComet, SynthConfig, synth_frames

C3_DRIFT = (2.5, 0.4)  # px/h: ~0.5 px per 12 min
C2_DRIFT = (12.5, 1.0)  # px/h: ~2.5 px per 12 min


def _match(cand, truth_track):
    pos = {name: (x, y) for name, x, y in truth_track}
    errs = [
        np.hypot(d.x - pos[d.name][0], d.y - pos[d.name][1])
        for d in cand.detections
        if d.name in pos
    ]
    return errs


def test_single_bright_comet_found_within_2px():
    comet = SynthComet(330, 120, -5.0, 9.0, 4.0)  # inward from the south, ~2 px/frame
    frames, truth = synth_frames(
        SynthConfig(size=512, n_frames=10, star_drift=C3_DRIFT, comets=(comet,), seed=11)
    )
    cands = hunt(frames, detector="c3")
    assert cands, "no candidate"
    best = cands[0]
    errs = _match(best, truth.comets[0])
    assert len(errs) >= 8
    assert max(errs) < 2.0
    assert best.inward > 0.5


def test_stars_cosmic_rays_cme_planet_give_no_candidate():
    for det, drift in (("c3", C3_DRIFT), ("c2", C2_DRIFT)):
        frames, _ = synth_frames(
            SynthConfig(
                size=512,
                n_frames=12,
                n_stars=600,
                star_drift=drift,
                cosmic_rays=60,
                cme=True,
                planet=True,
                seed=5,
            )
        )
        assert hunt(frames, detector=det) == [], det


def test_comet_crossing_missing_frames_stays_one_track():
    comet = SynthComet(120, 100, 50.0, 40.0, 4.0)  # C2-like, ~13 px/frame
    frames, truth = synth_frames(
        SynthConfig(
            size=512,
            n_frames=14,
            star_drift=C2_DRIFT,
            comets=(comet,),
            skip_frames=(6, 7),  # two frames never delivered: a 36-min hole
            seed=3,
        )
    )
    cands = hunt(frames, detector="c2")
    assert len(cands) == 1
    names = [d.name for d in cands[0].detections]
    assert any(n < "03000006" for n in names) and any(n > "03000007" for n in names)
    assert len(names) >= 11
    assert max(_match(cands[0], truth.comets[0])) < 2.0


def test_overlapping_windows_do_not_duplicate_a_candidate():
    comet = SynthComet(330, 100, -5.0, 9.0, 4.0)
    frames, _ = synth_frames(
        SynthConfig(size=512, n_frames=16, star_drift=C3_DRIFT, comets=(comet,), seed=9)
    )
    config = HuntConfig()
    cache = HuntCache()
    first = hunt(frames[:10], detector="c3", config=config, cache=cache)
    second = hunt(frames[5:16], detector="c3", config=config, cache=cache)
    assert len(first) == 1 and len(second) == 1
    assert same_object(first[0], second[0])
    pool, touched, absorbed = merge_candidates(first, second, lambda b, d: rebuild(b, d, config))
    assert len(pool) == 1
    assert pool[0].id == first[0].id  # the id made by the first window is kept
    assert pool[0].n_frames >= 15
    assert touched[0].id == first[0].id
    assert absorbed == []
    # a later, disjoint window on the same path continues the same candidate
    third = hunt(frames[11:16], detector="c3", config=config, cache=cache)
    pool2, _, _ = merge_candidates(first, third, lambda b, d: rebuild(b, d, config))
    assert len(pool2) == 1 and pool2[0].id == first[0].id


def test_separate_comets_are_separate_candidates():
    # both head for the Sun at the same speed and brightness; the first follows the day's
    # Kreutz corridor (1 Jan 2025: up from the south-east in C3, binned 2x here), the second
    # comes from the west
    comets = (SynthComet(128, 104, 4.6, 9.0, 4.0), SynthComet(400, 300, -9.4, -3.5, 4.0))
    frames, _ = synth_frames(
        SynthConfig(size=512, n_frames=10, star_drift=C3_DRIFT, comets=comets, seed=4)
    )
    cands = hunt(frames, detector="c3")
    assert len(cands) == 2
    assert cands[0].id != cands[1].id
    assert not same_object(cands[0], cands[1])
    # the one along the corridor ranks first
    assert cands[0].detections[0].x < 256
    assert cands[0].extras["corridor"] > 0.8 > 0.1 > cands[1].extras["corridor"]


def test_report_has_sungrazer_fields():
    comet = SynthComet(330, 120, -5.0, 9.0, 4.0)
    frames, _ = synth_frames(
        SynthConfig(size=512, n_frames=8, star_drift=C3_DRIFT, comets=(comet,), seed=2)
    )
    cand = hunt(frames, detector="c3")[0]
    text = cand.report
    assert "Camera: C3" in text
    assert "Image size: 512x512" in text
    assert "Pixel (0,0): lower-left" in text
    assert f"Date: {frames[0].observed_at:%Y-%m-%d}" in text
    for d in cand.detections:
        assert f"{d.observed_at:%H:%M}  {d.x:7.1f}, {d.y:7.1f}" in text
    assert len(cand.detections) >= 3
    later = frames[0].observed_at + timedelta(days=1)
    assert later.strftime("%Y-%m-%d") not in text


def test_a_window_bridging_two_candidates_folds_them_into_the_older_id():
    comet = SynthComet(330, 100, -5.0, 9.0, 4.0)
    frames, _ = synth_frames(
        SynthConfig(size=512, n_frames=16, star_drift=C3_DRIFT, comets=(comet,), seed=9)
    )
    config = HuntConfig()
    early = hunt(frames[0:6], detector="c3", config=config)
    late = hunt(frames[10:16], detector="c3", config=config)
    bridge = hunt(frames[4:12], detector="c3", config=config)
    assert len(early) == len(late) == len(bridge) == 1
    result = merge_candidates(early + late, bridge, lambda b, d: rebuild(b, d, config))
    assert [c.id for c in result.candidates] == [early[0].id]
    assert result.absorbed == [late[0].id]
    assert result.candidates[0].n_frames >= 15


def test_a_comet_interrupted_for_five_hours_stays_one_candidate():
    """A data gap longer than the hunting window: the later windows find a new track, which
    must continue the earlier candidate (same id), not become a second comet."""
    from datetime import timedelta

    from comet_pipeline.hunting.sliding import SlidingHunter

    comet = SynthComet(330, 100, -5.0, 9.0, 4.0)  # C3-like, ~10 px/h
    frames, _ = synth_frames(
        SynthConfig(
            size=512,
            n_frames=60,
            star_drift=C3_DRIFT,
            comets=(comet,),
            skip_frames=tuple(range(18, 44)),  # ~5.2 h without a frame
            seed=5,
        )
    )
    hunter = SlidingHunter("c3")
    until = frames[0].observed_at + timedelta(hours=1)
    for fr in frames:
        while fr.observed_at >= until:
            hunter.hunt_until(until)
            until += timedelta(hours=1)
        hunter.add(fr)
    hunter.hunt_until(until)
    [cand] = hunter.candidates
    times = [d.observed_at for d in cand.detections]
    gaps = [(b - a).total_seconds() / 3600 for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) > 5.0  # both sides of the gap in one candidate
    assert cand.n_frames >= 28
