from datetime import UTC, datetime

import numpy as np
from scipy import ndimage

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
    bad = np.zeros((256, 256), dtype=bool)
    bad[64:96, 128:160] = True
    yy, xx = np.mgrid[0:256, 0:256]
    bad |= np.hypot(xx - 128, yy - 200) < 20
    # background-subtraction ringing: point-like knots 1-2 px outside the masks
    knots = [
        (126.0, 80.0),
        (161.5, 70.0),
        (140.0, 62.0),
        (145.0, 97.5),
        (128.0, 178.5),
        (149.5, 200.0),
    ]
    img = _noise(seed=2)
    for x, y in knots:
        _stamp(img, x, y, 8.0, 1.2)
    clean = detect_sources(img.copy(), threshold=4.0)
    found = [k for k in knots if np.any(np.hypot(clean.x - k[0], clean.y - k[1]) < 1.5)]
    assert len(found) == len(knots)  # without masks they are ordinary sources
    img[bad] = np.nan
    s = detect_sources(img, threshold=4.0)
    near = ndimage.binary_dilation(bad, iterations=3)
    ix, iy = np.rint(s.x).astype(int), np.rint(s.y).astype(int)
    assert not near[iy, ix].any()


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
        est = estimate_drift(sources, [f.observed_at for f in frames])
        assert est.source == "vote"  # no sky geometry on synthetic frames
        vx, vy = est.velocity
        err = np.hypot(vx - drift[0], vy - drift[1])
        assert err < 0.1 * np.hypot(*drift), (drift, (vx, vy))


def test_drift_without_sources_is_nan():
    t = datetime(2025, 1, 1, tzinfo=UTC)
    from comet_pipeline.hunting.sources import SourceList

    est = estimate_drift([SourceList.empty(), SourceList.empty()], [t, t])
    assert est.source == "none"
    vx, vy = est.velocity
    assert np.isnan(vx) and np.isnan(vy)
