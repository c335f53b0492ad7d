import numpy as np
from scipy import ndimage

from comet_pipeline.domain.models import Detector
from comet_pipeline.imaging import background as bg
from comet_pipeline.imaging.calibrate import calibrate
from comet_pipeline.imaging.geometry import geometry
from comet_pipeline.imaging.masks import field_mask
from comet_pipeline_tests.imaging import synth

N = 1024


def _frames(detector, n, *, source_peak=0.0, seed=0):
    """n calibrated frames of a static corona + noise, with a point source moving 6 px/frame."""
    info = synth.info_for(detector)
    corona = synth.corona(info, (N, N))
    mask = field_mask((N, N), detector, info.sun_x, info.sun_y, info.plate_scale, 0.0)
    rng = np.random.default_rng(seed)
    frames, truth_noise, positions = [], [], []
    for i in range(n):
        x, y = 700.0 - 6 * i, 300.0 + 4 * i
        signal = corona + synth.point((N, N), x, y, source_peak, sigma=1.2)
        raw = synth.render_raw(info, signal, rng=rng)
        cal = calibrate(raw, offset=info.offset, exptime=info.exptime)
        cal[mask] = np.nan
        frames.append(cal)
        positions.append((x, y))
        noise_dn = np.sqrt(4.0**2 + corona * info.exptime / 2.0)
        truth_noise.append(noise_dn / info.exptime)
    return info, corona, frames, truth_noise[-1], positions, mask


def test_rolling_background_leaves_noise_and_keeps_moving_source():
    peak = 40.0  # DN/s; the local noise is ~0.5-6 DN/s
    info, corona, frames, noise, pos, mask = _frames(Detector.C3, 11, source_peak=peak)
    geo = geometry((N, N), info.sun_x, info.sun_y)
    samples = [bg.make_sample(f, geo) for f in frames[:10]]
    background = bg.rolling_background(samples, geo)
    residual = frames[10] - background
    normed = residual / noise  # in units of the true per-pixel noise
    x, y = pos[10]
    far = np.ones((N, N), bool)
    far[int(y) - 10 : int(y) + 11, int(x) - 10 : int(x) + 11] = False
    vals = normed[far & ~mask]
    vals = vals[np.isfinite(vals)]
    assert abs(np.median(vals)) < 0.1
    assert 0.9 < 1.4826 * np.median(np.abs(vals - np.median(vals))) < 1.15
    # the residual per radius ring stays at the noise level from occulter to edge
    rings = np.linspace(80, 500, 8)
    for r0, r1 in zip(rings[:-1], rings[1:], strict=True):
        ring = vals_ring = normed[(geo.radius >= r0) & (geo.radius < r1) & far & ~mask]
        vals_ring = ring[np.isfinite(ring)]
        assert abs(np.median(vals_ring)) < 0.25, (r0, np.median(vals_ring))
    kept = residual[int(round(y)), int(round(x))]
    assert kept >= 0.8 * peak, kept
    # the large-scale (16-px block median) removal keeps the point source and the noise
    flat = residual - bg.local_background(residual, geo)
    assert flat[int(round(y)), int(round(x))] >= 0.8 * peak
    v = (flat / noise)[far & ~mask]
    v = v[np.isfinite(v)]
    assert abs(np.median(v)) < 0.1
    assert 0.9 < 1.4826 * np.median(np.abs(v - np.median(v))) < 1.15


def test_local_background_removes_large_scale_residual():
    info = synth.info_for(Detector.C3)
    geo = geometry((N, N), info.sun_x, info.sun_y)
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:N, 0:N].astype(np.float32)
    blob = 3.0 * np.exp(-((xx - 300) ** 2 + (yy - 700) ** 2) / (2 * 60.0**2))  # a 60-px CME
    data = (blob + rng.normal(size=(N, N))).astype(np.float32)
    data += synth.point((N, N), 310.0, 690.0, 8.0, 1.2)  # a comet inside it
    out = data - bg.local_background(data, geo)
    assert abs(float(np.mean(out[640:760, 240:360]))) < 0.1  # the blob is gone
    without_blob = data[690, 310] - blob[690, 310]  # comet peak + this pixel's noise
    assert out[690, 310] >= without_blob - 0.2 * 8.0  # the comet keeps >= 80% of its peak


def test_radial_fallback_flat_for_symmetric_corona():
    info = synth.info_for(Detector.C2)
    yy, xx = np.mgrid[0:N, 0:N].astype(np.float32)
    r = np.hypot(xx - info.sun_x, yy - info.sun_y)
    signal = (300.0 * (r / 190.0) ** -3).astype(np.float32)
    raw = synth.render_raw(info, signal, rng=np.random.default_rng(5))
    cal = calibrate(raw, offset=info.offset, exptime=info.exptime)
    mask = field_mask((N, N), "c2", info.sun_x, info.sun_y, info.plate_scale)
    cal[mask] = np.nan
    geo = geometry((N, N), info.sun_x, info.sun_y)
    model = bg.radial_background(cal, geo)
    noise = np.sqrt(16 + signal * info.exptime / 2) / info.exptime
    normed = ((cal - model) / noise)[~mask]
    assert abs(np.median(normed)) < 0.1
    assert 0.9 < 1.4826 * np.median(np.abs(normed - np.median(normed))) < 1.2


def test_nrgf_flattens_mean_and_sigma():
    info = synth.info_for(Detector.C3)
    geo = geometry((N, N), info.sun_x, info.sun_y)
    rng = np.random.default_rng(7)
    sigma = 50.0 / (1 + geo.radius / 40.0)  # noise falling steeply with radius
    data = (10.0 / (1 + geo.radius) + rng.normal(size=(N, N)) * sigma).astype(np.float32)
    mask = field_mask((N, N), "c3", info.sun_x, info.sun_y, info.plate_scale)
    data[mask] = np.nan
    out = bg.nrgf(data, geo)
    assert np.array_equal(np.isnan(out), np.isnan(data))
    for r0, r1 in ((80, 120), (250, 300), (480, 520)):
        v = out[(geo.radius >= r0) & (geo.radius < r1) & ~mask]
        assert abs(np.mean(v)) < 0.05
        assert 0.93 < np.std(v) < 1.07


def test_downsample_nan_aware_median_and_upsample_matches_zoom():
    a = np.arange(64, dtype=np.float32).reshape(8, 8)
    a[0:4, 0:4] = np.nan
    a[4, 4] = np.nan
    a[0:3, 4:8] = np.nan  # 4 of 16 valid: still enough (>= 25%)
    a[7, 0] = 1e6  # a "star": ignored by the median
    s = bg.downsample(a, 4)
    assert np.isnan(s[0, 0])
    assert s[1, 1] == np.float32(np.nanmedian(a[4:8, 4:8]))
    assert s[0, 1] == np.float32(np.nanmedian(a[0:4, 4:8]))
    assert s[1, 0] == np.float32(np.median(a[4:8, 0:4])) and s[1, 0] < 100
    small = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    up = bg.upsample(small, (128, 128))
    ref = ndimage.zoom(small, 8, order=1, mode="nearest", grid_mode=True, prefilter=False)
    np.testing.assert_allclose(up, ref, atol=1e-5)


def test_combine_samples_matches_nanpercentile():
    rng = np.random.default_rng(1)
    samples = [rng.normal(size=(16, 16)).astype(np.float32) for _ in range(6)]
    samples[1][:3] = np.nan
    for s in samples:
        s[0, 0] = np.nan
    for pct in (50.0, 25.0):
        got = bg.combine_samples(samples, percentile=pct)
        rows = np.stack(samples)[:, 1:]
        np.testing.assert_allclose(got[1:], np.nanpercentile(rows, pct, axis=0), atol=1e-6)
        assert np.isnan(got[0, 0])
