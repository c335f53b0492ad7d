from datetime import UTC, datetime

import numpy as np

from comet_pipeline.hunting.drift import estimate_drift
from comet_pipeline.hunting.sources import detect_sources
from comet_pipeline.hunting.synthetic import SynthComet, SynthConfig, _stamp, synth_frames


def _noise(n=256, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (n, n)).astype(np.float32)


def test_point_source_found_with_subpixel_position_and_snr():
    img = _noise()
    _stamp(img, 100.3, 150.7, 4.0, 1.2)
    s = detect_sources(img, threshold=4.0)
    d = np.hypot(s.x - 100.3, s.y - 150.7)
    i = int(np.argmin(d))
    assert d[i] < 0.5
    # matched-filter SNR of a peak-4-sigma Gaussian (sigma 1.2) is ~ 4 * sqrt(pi) * 1.2 = 8.5
    assert 6.0 < s.snr[i] < 11.0
    assert 1.3 < s.sharpness[i] < 3.0


def test_pure_noise_has_few_sources_above_5_sigma():
    s = detect_sources(_noise(512, seed=3), threshold=5.0)
    assert len(s) <= 2


def test_cosmic_rays_rejected_as_too_sharp():
    img = _noise(seed=1)
    hits = [(30, 40), (200, 60), (120, 220)]
    for x, y in hits:
        img[y, x] += 60.0
    s = detect_sources(img, threshold=4.0)
    for x, y in hits:
        assert not np.any(np.hypot(s.x - x, s.y - y) < 2.0)


def test_missing_block_and_occulter_edges_give_no_sources():
    img = _noise(seed=2)
    img += 3.0  # an unsubtracted offset makes every mask edge a cliff
    img[64:96, 128:160] = np.nan
    yy, xx = np.mgrid[0:256, 0:256]
    img[np.hypot(xx - 128, yy - 128) < 20] = np.nan
    s = detect_sources(img - 3.0, threshold=4.0)
    assert len(s) <= 1
    s_masked = detect_sources(img, threshold=4.0, mask=np.zeros_like(img, dtype=bool))
    # With the offset, sources anywhere mean the edge margin failed near NaN
    near_block = (s_masked.x > 120) & (s_masked.x < 168) & (s_masked.y > 56) & (s_masked.y < 104)
    assert not near_block.any()


def test_planet_and_bleed_rejected_but_comet_kept():
    cfg = SynthConfig(
        size=512,
        n_frames=1,
        n_stars=0,
        cosmic_rays=0,
        planet=True,
        comets=(SynthComet(100, 100, 0, 0, 5.0),),
    )
    frames, _ = synth_frames(cfg)
    s = detect_sources(frames[0].image, threshold=4.0)
    px, py = 0.8 * 512, 0.3 * 512
    assert not np.any((np.abs(s.x - px) < 12) & (np.abs(s.y - py) < 70))
    assert np.any(np.hypot(s.x - 100, s.y - 100) < 1.0)


def test_star_drift_estimated_within_10_percent():
    for drift in [(2.4, -0.5), (12.3, 2.1)]:
        cfg = SynthConfig(size=384, n_frames=5, n_stars=300, star_drift=drift, seed=7)
        frames, _ = synth_frames(cfg)
        sources = [detect_sources(f.image) for f in frames]
        vx, vy = estimate_drift(sources, [f.observed_at for f in frames])
        err = np.hypot(vx - drift[0], vy - drift[1])
        assert err < 0.1 * np.hypot(*drift), (drift, (vx, vy))


def test_drift_without_sources_is_nan():
    t = datetime(2025, 1, 1, tzinfo=UTC)
    from comet_pipeline.hunting.sources import SourceList

    vx, vy = estimate_drift([SourceList.empty(), SourceList.empty()], [t, t])
    assert np.isnan(vx) and np.isnan(vy)
