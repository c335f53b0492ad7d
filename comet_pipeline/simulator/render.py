"""Level-0.5 frames: the int16 image of one observation and its FITS bytes.

The scene (corona x streamers x CMEs, stars, comets, planet) is built in DN/s at full
resolution, multiplied by the exposure, binned for 512x512 images, then the detector adds
photon and read noise, the bias, cosmic rays, telemetry drop-outs and saturation. Each frame
draws from its own generator keyed by (seed, detector, observation time), so a duplicate
(same observation, new file number) carries the same pixels.

Sky objects are turned by the spacecraft roll (:func:`~.sky.sky_to_array`); the profile
effects of :mod:`~.detector_effects` (static rings, hot pixels, warm columns, storms) are
fixed in the array and add nothing when off, so the default config's bytes never change.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
from astropy.io import fits

from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator._rng import rng_for
from comet_pipeline.simulator.comets import Comet, comet_sources, comets_near, noise_sigma
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.detector_effects import dark_rate, ring_rate, storm_factor
from comet_pipeline.simulator.operations import SimObservation
from comet_pipeline.simulator.sky import (
    OPTICS,
    PSF_SIGMA,
    SATURATION,
    SIZE,
    modulation,
    modulation_image,
    planets_at,
    seconds_since_j2000,
    sky_to_array,
    splat,
    star_positions,
    static_layers,
    transmission_at,
)

POLARIZER_TRANSMISSION = 0.35  # a polarized image sees about a third of the light
BLOCK = 32  # telemetry drop-outs are 32x32 superpixel blocks
READOUT_S = 20.0  # FILEORIG carries the time the image was read out


def mid_exposure(obs_time: datetime, exptime: float) -> datetime:
    return obs_time + timedelta(seconds=exptime / 2.0)


def bias_of_day(config: SimConfig, detector: Detector, day: date) -> float:
    """The bias (OFFSET, DN) wanders by a few DN from day to day."""
    rng = rng_for(config.seed, "bias", detector.value, day.toordinal())
    return round(OPTICS[detector].bias + float(rng.uniform(-4.0, 4.0)), 3)


def _frame_rng(config: SimConfig, detector: Detector, when: datetime) -> np.random.Generator:
    ms = int(round(seconds_since_j2000(when) * 1000.0))
    return rng_for(config.seed, "frame", detector.value, ms)


def _star_keys(peak: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) number per star that stays with the star as it drifts.

    A star's peak rate is fixed by its catalogue tile, so hashing its bits selects the same
    stars in every frame without star identities from :func:`star_positions`.
    """
    h = np.ascontiguousarray(peak, dtype=np.float64).view(np.uint64)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0x9E3779B97F4A7C15)
    h = h ^ (h >> np.uint64(29))
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


def _layer_seed(seed: int, layer: int) -> int:
    """Seed of an extra, independent star field for densities above 1x."""
    return int(rng_for(seed, "star-layer", layer).integers(0, 2**62))


def field_stars(
    config: SimConfig, detector: Detector, when: datetime
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stars (roll-0 x, y, peak DN/s) at ``when`` with the profile's star density applied.

    Density ``s`` keeps a fixed fraction ``s`` of the catalogue (s < 1) or adds independent
    star fields drifting with it (s > 1); either way the same stars in every frame.
    """
    detector = Detector(detector)
    scale = config.star_density_scale[0 if detector is Detector.C2 else 1]
    x, y, p = star_positions(config.seed, detector, when)
    if scale == 1.0:
        return x, y, p
    if scale < 1.0:
        keep = _star_keys(p) < scale
        return x[keep], y[keep], p[keep]
    xs, ys, ps = [x], [y], [p]
    layer, left = 1, scale - 1.0
    while left > 0.0:
        lx, ly, lp = star_positions(_layer_seed(config.seed, layer), detector, when)
        if left < 1.0:
            keep = _star_keys(lp) < left
            lx, ly, lp = lx[keep], ly[keep], lp[keep]
        xs.append(lx)
        ys.append(ly)
        ps.append(lp)
        layer, left = layer + 1, left - 1.0
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ps)


def scene_rate(config: SimConfig, detector: Detector, mid: datetime) -> np.ndarray:
    """Noiseless signal of the full-resolution scene at ``mid``, DN/s above the bias.

    Sky objects (corona structure, stars, comets) are turned by the roll; the transmission
    (occulter, pylon, vignetting, field stop) is the instrument's and stays in the array.
    """
    detector = Detector(detector)
    optics = OPTICS[detector]
    st = static_layers(detector)
    if config.corona:
        rate = st.corona * modulation_image(
            config.seed,
            detector,
            mid,
            cme_rate=config.cme_per_day,
            with_cmes=config.artefacts,
            streamer_scale=config.streamer_scale,
            roll_deg=config.roll_deg,
        )
    else:
        rate = np.zeros((SIZE, SIZE), np.float32)
    xs, ys, ps = [], [], []
    if config.stars:
        x, y, p = field_stars(config, detector, mid)
        xs.append(x)
        ys.append(y)
        ps.append(p)
    if config.comets:
        for comet in comets_near(config, mid, detector):
            pos = comet.position(mid)
            if pos is not None:
                x, y, p = comet_sources(comet, pos[0], pos[1], comet.rate(*pos))
                xs.append(x)
                ys.append(y)
                ps.append(p)
    if xs:
        x, y, p = np.concatenate(xs), np.concatenate(ys), np.concatenate(ps)
        x, y = sky_to_array(optics, x, y, config.roll_deg)
        p = p * transmission_at(optics, x, y)
        splat(rate, x, y, p.astype(np.float32), PSF_SIGMA)
    return rate


def _planet(
    config: SimConfig, detector: Detector, mid: datetime, signal: np.ndarray, exptime: float
) -> None:
    """Draw the planets the ephemeris puts in the field; saturated ones bleed along rows."""
    optics = OPTICS[detector]
    for planet in planets_at(detector, mid):
        px, py = sky_to_array(optics, np.array([planet.x]), np.array([planet.y]), config.roll_deg)
        trans = float(transmission_at(optics, px, py)[0])
        peak = planet.peak * trans * exptime
        splat(signal, px, py, np.array([peak], np.float32), 1.6, half=6)
        if peak <= SATURATION:
            continue
        # Charge spilling out of the saturated core bleeds along the CCD rows (fixed to the
        # detector, so a roll does not turn it).
        half = int(min(250, 4 * peak / SATURATION))
        iy, ix = int(round(float(py[0]))), int(round(float(px[0])))
        for dy in range(-2, 3):
            y = iy + dy
            length = int(half * (1.0 - abs(dy) / 3.0))
            if 0 <= y < SIZE and length > 0:
                signal[y, max(0, ix - length) : min(SIZE, ix + length + 1)] = 4.0 * SATURATION


def _cosmic_rays(
    config: SimConfig,
    image: np.ndarray,
    exptime: float,
    detector: Detector,
    rng: np.random.Generator,
    when: datetime | None = None,
) -> None:
    h, w = image.shape
    per_s = config.cosmic_rays_per_s
    if when is not None and config.storms_per_day > 0.0:
        per_s = per_s * storm_factor(config, when)  # particle storms (both detectors)
    n = int(rng.poisson(per_s * exptime * OPTICS[detector].cosmic_ray_factor * (h * w) / SIZE**2))
    if n == 0:
        return
    x0 = rng.uniform(0, w, n)
    y0 = rng.uniform(0, h, n)
    length = np.where(rng.random(n) < 0.6, 1, rng.integers(2, 7, n))
    angle = rng.uniform(0, np.pi, n)
    amp = np.exp(rng.uniform(math.log(150.0), math.log(4000.0), n)).astype(np.float32)
    k = np.arange(6)
    px = np.rint(x0[:, None] + k[None, :] * np.cos(angle)[:, None]).astype(np.int64)
    py = np.rint(y0[:, None] + k[None, :] * np.sin(angle)[:, None]).astype(np.int64)
    ok = (k[None, :] < length[:, None]) & (px >= 0) & (px < w) & (py >= 0) & (py < h)
    vals = np.broadcast_to(amp[:, None], ok.shape)[ok] * rng.uniform(
        0.5, 1.0, int(ok.sum())
    ).astype(np.float32)
    np.add.at(image, (py[ok], px[ok]), vals)


def _missing_blocks(config: SimConfig, image: np.ndarray, rng: np.random.Generator) -> None:
    if not config.artefacts or rng.random() >= config.missing_block_probability:
        return
    nby, nbx = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    n = int(rng.integers(1, 7))
    by = int(rng.integers(0, nby))
    bx = int(rng.integers(0, max(1, nbx - n)))
    image[by * BLOCK : (by + 1) * BLOCK, bx * BLOCK : (bx + n) * BLOCK] = 0.0


def render_image(config: SimConfig, obs: SimObservation) -> np.ndarray:
    """The int16 level-0.5 image of one observation (512x512 for binned images)."""
    detector = obs.detector
    optics = OPTICS[detector]
    mid = mid_exposure(obs.observed_at, obs.exptime)
    rng = _frame_rng(config, detector, obs.observed_at)
    signal = scene_rate(config, detector, mid)
    rings = ring_rate(config, detector, mid)  # scattered light: dimmed by a polarizer too
    if rings is not None:
        signal += rings
    signal *= np.float32(
        obs.exptime * (1.0 if obs.polarizer == "Clear" else POLARIZER_TRANSMISSION)
    )
    dark = dark_rate(config, detector)  # hot pixels, knots, warm columns: grow with exptime
    if dark is not None:
        signal += dark * np.float32(obs.exptime)
    if config.artefacts and config.planets:
        _planet(config, detector, mid, signal, obs.exptime)
    if obs.binning > 1:
        b = obs.binning
        signal = signal.reshape(SIZE // b, b, SIZE // b, b).sum(axis=(1, 3), dtype=np.float32)
    if config.noise:
        sigma = np.sqrt(
            np.maximum(signal, 0.0) * np.float32(1.0 / optics.gain)
            + np.float32(optics.read_noise**2)
        )
        if config.noise_scale != 1.0:
            sigma *= np.float32(config.noise_scale)
        signal += sigma * rng.standard_normal(signal.shape, dtype=np.float32)
    signal += np.float32(bias_of_day(config, detector, obs.day))
    if config.cosmic_rays:
        _cosmic_rays(config, signal, obs.exptime, detector, rng, mid)
    _missing_blocks(config, signal, rng)
    np.clip(signal, 0.0, SATURATION, out=signal)
    return np.rint(signal).astype(np.int16)


# --------------------------------------------------------------------------- FITS


def _header_cards(config: SimConfig, obs: SimObservation, data: np.ndarray | None) -> list[tuple]:
    optics = OPTICS[obs.detector]
    b = obs.binning
    t = obs.observed_at
    readout = t + timedelta(seconds=obs.exptime + READOUT_S)
    if data is None:  # only the card count matters (for sizes)
        stats: dict[str, float] = dict.fromkeys(("min", "max", "zer", "sat", "avg", "sig"), 0)
        pct = [0] * 9
    else:
        flat = data.ravel()
        sample = data[::4, ::4].ravel()
        stats = {
            "min": int(flat.min()),
            "max": int(flat.max()),
            "zer": int(np.count_nonzero(flat == 0)),
            "sat": int(np.count_nonzero(flat >= SATURATION)),
            "avg": round(float(flat.mean(dtype=np.float64)), 3),
            "sig": round(float(flat.std(dtype=np.float64)), 3),
        }
        pct = [int(v) for v in np.percentile(sample, [1, 10, 25, 50, 75, 90, 95, 98, 99])]
    cards: list[tuple] = [
        ("SIMPLE", True, "Written by IDL"),
        ("BITPIX", 16, ""),
        ("NAXIS", 2, ""),
        ("NAXIS1", obs.naxis1, ""),
        ("NAXIS2", obs.naxis2, ""),
        ("FILENAME", obs.name, ""),
        ("FILEORIG", readout.strftime("%y%m%d_%H%M%S") + ".img", ""),
        ("DATE", obs.arrived_at.strftime("%Y-%m-%dT%H:%M:%S.000"), "file written"),
        ("DATE-OBS", t.strftime("%Y/%m/%d"), ""),
        ("TIME-OBS", t.strftime("%H:%M:%S.") + f"{t.microsecond // 1000:03d}", ""),
        ("P1COL", obs.p1col, ""),
        ("P1ROW", obs.p1row, ""),
        ("P2COL", obs.p1col + 1023, ""),
        ("P2ROW", obs.p1row + 1023, ""),
        ("VERSION", 2, ""),
        ("EXPTIME", round(obs.exptime, 4), "seconds"),
        ("EXPCMD", round(obs.exptime - 0.1, 1), ""),
        ("TELESCOP", "SOHO", ""),
        ("INSTRUME", "LASCO", ""),
        ("DETECTOR", obs.detector.label, ""),
        ("READPORT", "C", ""),
        ("SUMROW", 1, ""),
        ("SUMCOL", 1, ""),
        ("LEBXSUM", b, ""),
        ("LEBYSUM", b, ""),
        ("SHUTTR", 0, ""),
        ("LAMP", 0, ""),
        ("FILTER", obs.filter, ""),
        ("POLAR", obs.polarizer, ""),
        ("LP_NUM", obs.program, ""),
        ("OS_NUM", obs.os_num, ""),
        ("IMGCTR", int(obs.name[1:8]) % 10000, ""),
        ("IMGSEQ", 0, ""),
        ("COMPRSSN", "X#", ""),
        ("OFFSET", bias_of_day(config, obs.detector, obs.day), "bias, DN"),
        ("CROTA1", float(config.roll_deg), ""),
        ("CROTA2", float(config.roll_deg), ""),
        ("CRPIX1", round((optics.sun_x + 0.5) / b + 0.5, 3), "approximate Sun centre"),
        ("CRPIX2", round((optics.sun_y + 0.5) / b + 0.5, 3), "approximate Sun centre"),
        ("CRVAL1", 0.0, ""),
        ("CRVAL2", 0.0, ""),
        ("CTYPE1", "SOLAR-X", ""),
        ("CTYPE2", "SOLAR-Y", ""),
        ("CUNIT1", "ARCSEC", ""),
        ("CUNIT2", "ARCSEC", ""),
        ("CDELT1", optics.plate_scale * b, ""),
        ("CDELT2", optics.plate_scale * b, ""),
        ("DATAMIN", stats["min"], ""),
        ("DATAMAX", stats["max"], ""),
        ("DATAZER", stats["zer"], "number of zero pixels"),
        ("DATASAT", stats["sat"], "number of saturated pixels"),
        ("DATAAVG", stats["avg"], ""),
        ("DATASIG", stats["sig"], ""),
    ]
    for level, value in zip((1, 10, 25, 50, 75, 90, 95, 98, 99), pct, strict=True):
        cards.append((f"DATAP{level:02d}", value, ""))
    cards.append(("HISTORY", "Simulated by comet_pipeline.simulator: not real LASCO data", None))
    return cards


def _header(cards: list[tuple]) -> fits.Header:
    header = fits.Header()
    for key, value, comment in cards:
        if key == "HISTORY":
            header.add_history(value)
        else:
            header[key] = (value, comment) if comment else value
    return header


def fits_bytes(config: SimConfig, obs: SimObservation) -> bytes:
    """The complete FITS file of one observation, as the archive serves it."""
    data = render_image(config, obs)
    header = _header(_header_cards(config, obs, data))
    raw = data.astype(">i2").tobytes()
    pad = (-len(raw)) % 2880
    return header.tostring().encode("ascii") + raw + b"\0" * pad


@lru_cache(maxsize=8)
def _size_for(naxis1: int, naxis2: int) -> int:
    stamp = datetime(2000, 1, 1, tzinfo=UTC)
    template = SimObservation(
        name="00000000.fts",
        detector=Detector.C2,
        observed_at=stamp,
        exptime=0.0,
        naxis1=naxis1,
        naxis2=naxis2,
        binning=1,
        filter="",
        polarizer="",
        program="",
        arrived_at=stamp,
        os_num=0,
    )
    header = _header(_header_cards(SimConfig(), template, None))
    data = naxis1 * naxis2 * 2
    return len(header.tostring()) + data + (-data) % 2880


def fits_size(obs: SimObservation) -> int:
    """Byte size of :func:`fits_bytes` without rendering (the card count never varies)."""
    return _size_for(obs.naxis1, obs.naxis2)


# --------------------------------------------------------------------------- truth helpers


def comet_frame_truth(
    config: SimConfig, comet: Comet, obs: SimObservation
) -> tuple[float, float, float] | None:
    """(x, y, peak_snr) of ``comet`` in ``obs`` (full-res px), or None when not visible.

    Positions are in the stored array (turned by the roll), the frame the hunter reports in.
    """
    optics = OPTICS[obs.detector]
    mid = mid_exposure(obs.observed_at, obs.exptime)
    pos = comet.position(mid)
    if pos is None:
        return None
    sx, sy = pos  # solar-north-up (roll 0) track position
    xs, ys, ps = comet_sources(comet, sx, sy, comet.rate(sx, sy))
    if config.roll_deg != 0.0:
        xs, ys = sky_to_array(optics, xs, ys, config.roll_deg)
    x, y = float(xs[0]), float(ys[0])  # the nucleus comes first
    if not (0.0 <= x <= SIZE - 1 and 0.0 <= y <= SIZE - 1):
        return None
    trans = float(transmission_at(optics, np.array([x]), np.array([y]))[0])
    if trans < 0.5:
        return None
    ix, iy = int(round(x)), int(round(y))
    half = 8
    patch = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    splat(patch, xs - ix + half, ys - iy + half, (ps * trans).astype(np.float32), PSF_SIGMA)
    peak_dn = float(patch.max()) * obs.exptime
    st = static_layers(obs.detector)
    bg_rate = 0.0
    if config.corona:
        r = np.array([[st.r[iy, ix]]], np.float32)
        theta = np.array([[math.atan2(iy - optics.sun_y, ix - optics.sun_x)]], np.float32)
        m = modulation(
            config.seed,
            obs.detector,
            mid,
            r,
            theta,
            cme_rate=config.cme_per_day,
            with_cmes=config.artefacts,
            streamer_scale=config.streamer_scale,
            roll_deg=config.roll_deg,
        )
        bg_rate = float(st.corona[iy, ix]) * float(m[0, 0])
    sigma = noise_sigma(optics, bg_rate * obs.exptime) * config.noise_scale
    return x, y, peak_dn / sigma
