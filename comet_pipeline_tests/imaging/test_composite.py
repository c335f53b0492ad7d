"""Colour composites on real simulator frames processed by FrameProcessor: a moving point is
coloured, a star is grey, C2 lands where the WCS says on the C3 grid."""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.composite import (
    AZURE,
    DEFAULT_STRETCH,
    ORANGE,
    TEMPORAL_COLOURS,
    Channel,
    ChannelRecord,
    ChannelStretch,
    composite_rgb,
    cube_header,
    drift_shifts,
    encode_rgb_png,
    grid_of,
    place_on_grid,
    shift_image,
    write_cube_fits,
)
from comet_pipeline.imaging.ephemeris import star_drift
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.sky import star_positions
from comet_pipeline_tests.shared import HOUR, SEED


@dataclass
class Processed:
    name: str
    observed_at: datetime
    data: np.ndarray
    header: fits.Header


def _hour_frames(tmp: Path, det: Detector) -> list[Processed]:
    """First, middle and last synoptic frame of HOUR, processed for real."""
    sim = SimArchive(SimConfig(seed=SEED))
    obs = sorted(
        (
            o
            for o in sim.observations(HOUR.date(), det)
            if o.synoptic
            and not o.duplicate_of
            and HOUR <= o.observed_at < HOUR + timedelta(hours=1)
        ),
        key=lambda o: o.observed_at,
    )
    picked = [obs[0], obs[len(obs) // 2], obs[-1]]
    proc = FrameProcessor(tmp / det.value)
    out = []
    for o in picked:
        with fits.open(io.BytesIO(sim.render(o)), memmap=False) as hdul:
            raw, header = hdul[0].data, hdul[0].header.copy()
        info = parse_fits_header(header)
        frame = proc.process(raw, header, info, helioprojective_wcs(info), name=o.name, history=[])
        data, head = read_image(Path(frame.path(PROCESSED) or ""))
        out.append(Processed(o.name, o.observed_at, data, head))
    return out


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> dict[Detector, list[Processed]]:
    tmp = tmp_path_factory.mktemp("composite")
    return {d: _hour_frames(tmp, d) for d in (Detector.C2, Detector.C3)}


def _gauss(shape: tuple[int, int], x: float, y: float, amp: float, sigma: float = 1.5):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (amp * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / sigma**2)).astype(np.float32)


def _signal(rgb: np.ndarray, x: float, y: float) -> np.ndarray:
    """Per colour: the 3x3 mean at (x, y) minus the median of a ring 8-12 px out."""
    ix, iy = round(x), round(y)
    core = rgb[iy - 1 : iy + 2, ix - 1 : ix + 2].reshape(-1, 3).astype(float).mean(axis=0)
    yy, xx = np.mgrid[-12:13, -12:13]
    ring = (np.hypot(xx, yy) >= 8) & (np.hypot(xx, yy) <= 12)
    box = rgb[iy - 12 : iy + 13, ix - 12 : ix + 13].astype(float)
    return core - np.median(box[ring], axis=0)


#: A stretch that keeps bright stars below full colour, so their grey is measured, not clipped.
STAR_STRETCH = ChannelStretch(-3.0, 500.0, 0.1)


def _temporal(
    frames: list[Processed],
    *,
    shift: bool = True,
    extra=None,
    stretch: ChannelStretch = DEFAULT_STRETCH,
) -> np.ndarray:
    ref = frames[1]
    shifts = drift_shifts(grid_of(ref.header), [f.observed_at for f in frames], ref.observed_at)
    channels = []
    for i, (f, (dx, dy), colour) in enumerate(zip(frames, shifts, TEMPORAL_COLOURS, strict=True)):
        data = f.data + (extra[i] if extra is not None else 0)
        channels.append(Channel(shift_image(data, dx, dy) if shift else data, colour, stretch))
    return composite_rgb(channels)


def _isolated_star(frames: list[Processed], det: Detector) -> tuple[float, float]:
    """A simulator star (its truth position at the middle frame's time) that is clear in
    all three processed frames: 30-250 sigma (half the star stretch's top at most),
    nothing else above 3 sigma within 12 px, all data finite; the brightest such."""
    ref = frames[1]
    x, y, _ = star_positions(SEED, det, ref.observed_at)
    vx, vy = star_drift(grid_of(ref.header).geometry(ref.observed_at))
    reach = abs(vx) * 0.5 + abs(vy) * 0.5 + 16  # the half hour's drift, and the ring
    best = None
    for sx, sy in zip(x, y, strict=True):
        if not (reach < sx < 1023 - reach and reach < sy < 1023 - reach):
            continue
        ok, peaks = True, []
        for f in frames:
            hours = (f.observed_at - ref.observed_at).total_seconds() / 3600
            fx, fy = sx + vx * hours, sy + vy * hours
            box = f.data[round(fy) - 12 : round(fy) + 13, round(fx) - 12 : round(fx) + 13]
            yy, xx = np.mgrid[-12:13, -12:13]
            far = np.hypot(xx - (fx - round(fx)), yy - (fy - round(fy))) > 4
            if not np.isfinite(box).all() or not 30 < box.max() < 250 or box[far].max() > 3:
                ok = False
                break
            peaks.append(float(box.max()))
        if ok:
            peak = min(peaks)  # the brightest in every frame: its noise matters least
            if best is None or peak > best[0]:
                best = (peak, float(sx), float(sy))
    assert best is not None, "no isolated star in the frame"
    return best[1], best[2]


@pytest.mark.parametrize("det", [Detector.C2, Detector.C3])
def test_temporal_composite_makes_a_star_grey_and_a_mover_coloured(frames, det):
    hour_frames = frames[det]
    ref = hour_frames[1]
    shape = ref.data.shape
    # a mover injected into the three real frames: the stars' drift plus 20 px/h of its own
    own = (-14.0, 8.0)  # px/h
    vx, vy = star_drift(grid_of(ref.header).geometry(ref.observed_at))
    x0, y0 = (300.0, 700.0) if det is Detector.C3 else (250.0, 720.0)
    extra = []
    for f in hour_frames:
        h = (f.observed_at - ref.observed_at).total_seconds() / 3600
        extra.append(_gauss(shape, x0 + (vx + own[0]) * h, y0 + (vy + own[1]) * h, 30.0))
    rgb = _temporal(hour_frames, extra=extra)

    # the mover: at each channel's place, that channel's colour stands out
    for k, f in enumerate(hour_frames):
        h = (f.observed_at - ref.observed_at).total_seconds() / 3600
        s = _signal(rgb, x0 + own[0] * h, y0 + own[1] * h)
        others = [s[j] for j in range(3) if j != k]
        assert s[k] > 40 and max(others) < 0.35 * s[k], (k, s)

    # a simulator star: grey, every colour's signal within 15 % of the others'
    sx, sy = _isolated_star(hour_frames, det)
    s = _signal(_temporal(hour_frames, stretch=STAR_STRETCH), sx, sy)
    assert s.min() > 30, s
    assert s.max() / s.min() < 1.15, s

    # without the drift shift the same star is coloured in C2 (5 px between the first and
    # last channel): the shift is what makes it grey
    if det is Detector.C2:
        raw = _signal(_temporal(hour_frames, shift=False, stretch=STAR_STRETCH), sx, sy)
        assert raw.max() / max(raw.min(), 1.0) > 2.0, raw


def test_shift_image_moves_a_point_by_the_subpixel_offset():
    img = _gauss((64, 64), 30.0, 20.0, 10.0, sigma=2.0)
    moved = shift_image(img, 2.3, -1.6)
    yy, xx = np.mgrid[0:64, 0:64]
    w = np.nan_to_num(moved)
    cx, cy = (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()
    assert cx == pytest.approx(32.3, abs=0.02) and cy == pytest.approx(18.4, abs=0.02)
    assert np.isnan(moved[:, :2]).all() and np.isnan(moved[-1:, :]).all()  # uncovered edges
    assert np.isfinite(moved[1:-2, 3:]).all()


def test_c2_lands_on_the_c3_grid_where_the_wcs_puts_it(frames):
    c2, c3 = frames[Detector.C2][1], frames[Detector.C3][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        w2, w3 = WCS(c2.header), WCS(c3.header)
    # a point source on the C2 array, away from the Sun: where astropy's WCS says it is
    x2, y2 = 820.0, 300.0
    lon, lat = w2.pixel_to_world_values(x2, y2)
    x3, y3 = (float(v) for v in w3.world_to_pixel_values(lon, lat))
    point = np.zeros_like(c2.data)
    point += _gauss(point.shape, x2, y2, 100.0, sigma=6.0)
    placed = place_on_grid(point, grid_of(c2.header), grid_of(c3.header))
    peak_y, peak_x = np.unravel_index(np.nanargmax(placed), placed.shape)
    assert math.hypot(peak_x - x3, peak_y - y3) < 1.0, ((peak_x, peak_y), (x3, y3))
    # C2 covers ~1/20 of C3's field (plate scales 11.9 and 56 arcsec): NaN elsewhere
    covered = np.isfinite(placed).mean()
    assert 0.02 < covered < 0.08, covered
    # the real C2 frame on the C3 grid and C3 itself: a composite with grey where C2 is absent
    real = place_on_grid(c2.data, grid_of(c2.header), grid_of(c3.header))
    rgb = composite_rgb([Channel(c3.data, ORANGE), Channel(real, AZURE)])
    outside = ~np.isfinite(real) & np.isfinite(c3.data)
    assert (rgb[outside][:, 0] == rgb[outside][:, 2]).all()  # C3 alone: grey


def test_composite_rgb_greys_equal_channels_and_masks_what_nobody_sees():
    data = np.linspace(-3, 25, 64 * 64, dtype=np.float32).reshape(64, 64)
    data[:4] = np.nan
    data[4, 0] = -3.0
    rgb = composite_rgb([Channel(data, c) for c in TEMPORAL_COLOURS])
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert (rgb[:4] == 128).all()
    assert rgb[-1, -1, 0] == 255 and rgb[4, 0, 0] == 0
    png = encode_rgb_png(rgb)
    assert png.startswith(b"\x89PNG") and png[25] == 2  # colour type 2: RGB


def test_cube_fits_keeps_the_planes_the_wcs_and_the_channel_times(frames, tmp_path):
    hour_frames = frames[Detector.C3]
    ref = hour_frames[1]
    records = [
        ChannelRecord(f.name, f.observed_at, c, shift=(0.5, -0.25), detector="c3")
        for f, c in zip(hour_frames, TEMPORAL_COLOURS, strict=True)
    ]
    path = write_cube_fits(
        tmp_path / "cube.fits.fz",
        [f.data for f in hour_frames],
        cube_header(ref.header, records, "temporal"),
    )
    with fits.open(path) as hdul:
        cube, head = hdul[1].data, hdul[1].header
        assert cube.shape == (3, 1024, 1024)
        finite = np.isfinite(hour_frames[0].data)
        assert (np.isfinite(cube[0]) == finite).all()
        assert np.abs(cube[0][finite] - hour_frames[0].data[finite]).max() < 0.2
        assert head["CH2NAME"] == ref.name and head["CH1TIME"].startswith(
            f"{hour_frames[0].observed_at:%Y-%m-%dT%H:%M:%S}"
        )
        assert head["CH3COLR"] == "0,0,1" and "asinh" in head["CH1STR"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(head).celestial
        ref_wcs = WCS(ref.header)
        a = wcs.pixel_to_world_values(100.0, 900.0)
        b = ref_wcs.pixel_to_world_values(100.0, 900.0)
        assert np.allclose(a, b, atol=1e-9)
