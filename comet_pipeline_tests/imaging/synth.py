"""Synthetic LASCO-like frames where the truth is known (for imaging tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from astropy.io import fits

from comet_pipeline.domain.models import Detector, FitsInfo

T0 = datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)
CADENCE = timedelta(minutes=12)


def info_for(
    detector: Detector = Detector.C3,
    *,
    size: int = 1024,
    when: datetime = T0,
    exptime: float = 19.0,
    offset: float = 380.0,
    roll: float = 0.0,
    sun: tuple[float, float] | None = None,
) -> FitsInfo:
    scale = (56.0 if detector is Detector.C3 else 11.9) * 1024 / size
    sx, sy = sun if sun is not None else (size / 2 - 0.5 + 5.3, size / 2 - 0.5 + 12.7)
    return FitsInfo(
        observed_at=when,
        detector=detector,
        exptime=exptime,
        naxis1=size,
        naxis2=size,
        binning=1,
        offset=offset,
        sun_x=sx,
        sun_y=sy,
        plate_scale=scale,
        roll_deg=roll,
        filter="Clear",
        polarizer="Clear",
        program="Normal",
        n_missing=0,
        level="0.5",
        filename="30000001.fts",
    )


def header_for(info: FitsInfo) -> fits.Header:
    h = fits.Header()
    h["SIMPLE"] = True
    h["BITPIX"] = 16
    h["NAXIS"] = 2
    h["NAXIS1"] = info.naxis1
    h["NAXIS2"] = info.naxis2
    h["FILENAME"] = info.filename
    h["DATE-OBS"] = info.observed_at.strftime("%Y/%m/%d")
    h["TIME-OBS"] = info.observed_at.strftime("%H:%M:%S.%f")[:12]
    h["EXPTIME"] = info.exptime
    h["TELESCOP"] = "SOHO"
    h["INSTRUME"] = "LASCO"
    h["DETECTOR"] = info.detector.label
    h["OFFSET"] = info.offset
    h["CRPIX1"] = info.sun_x + 1
    h["CRPIX2"] = info.sun_y + 1
    h["CTYPE1"] = "SOLAR-X"
    h["CTYPE2"] = "SOLAR-Y"
    h["CUNIT1"] = "ARCSEC"
    h["CUNIT2"] = "ARCSEC"
    h["CDELT1"] = info.plate_scale
    h["CDELT2"] = info.plate_scale
    h["CROTA1"] = info.roll_deg
    h["CROTA2"] = info.roll_deg
    h.add_history("synthetic frame for comet_pipeline tests")
    return h


def corona(info: FitsInfo, shape: tuple[int, int]) -> np.ndarray:
    """A static corona in DN/s: steep radial fall-off with streamers (azimuthal modulation)."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    r = np.hypot(xx - info.sun_x, yy - info.sun_y) * np.float32(info.plate_scale / 960.0)
    th = np.arctan2(yy - info.sun_y, xx - info.sun_x)
    r0 = 4.4 if info.detector is Detector.C3 else 2.3
    base = 400.0 * np.maximum(r / r0, 0.5) ** -2.6
    streamers = 1.0 + 0.35 * np.cos(2 * th) ** 2 + 0.2 * np.cos(3 * th + 0.4)
    return (base * streamers + 2.0).astype(np.float32)


@dataclass(frozen=True)
class Scene:
    info: FitsInfo
    signal: np.ndarray  # DN/s, before occulter etc.
    source_xy: tuple[float, float] | None = None


def point(
    shape: tuple[int, int], x: float, y: float, peak: float, sigma: float = 1.0
) -> np.ndarray:
    ny, nx = shape
    yy, xx = np.ogrid[0:ny, 0:nx]
    return (peak * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))).astype(np.float32)


def render_raw(
    info: FitsInfo,
    signal: np.ndarray,
    *,
    rng: np.random.Generator | None,
    read_noise_dn: float = 4.0,
    gain: float = 2.0,
    dark_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Raw uint16 DN: offset + exptime x signal (+ shot and read noise). Dark where masked."""
    dn = signal.astype(np.float64) * info.exptime
    if dark_mask is not None:
        dn = np.where(dark_mask, 0.0, dn)
    if rng is not None:
        sigma = np.sqrt(read_noise_dn**2 + np.maximum(dn, 0) / gain)
        dn = dn + rng.normal(size=dn.shape) * sigma
    raw = np.clip(np.round(dn + info.offset), 1, 16383)
    return raw.astype(np.uint16)


def sequence_times(n: int, start: datetime = T0) -> list[datetime]:
    return [start + i * CADENCE for i in range(n)]


def with_time(info: FitsInfo, when: datetime) -> FitsInfo:
    return replace(info, observed_at=when)


def drawn_dark(info: FitsInfo, shape: tuple[int, int], pylon_angle: float = 232.0) -> dict:
    """The instrument's dark areas drawn like the simulator (not with the pipeline's model).

    Occulter disc 0.3 R☉ inside the usable edge; a pylon arm at ``pylon_angle`` with a
    half-width growing 13 -> 21 px (C3) or 7 -> 9 px (C2) from occulter to field stop.
    """
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    dx, dy = xx - info.sun_x, yy - info.sun_y
    per_rsun = 960.0 / info.plate_scale
    r = np.hypot(dx, dy)
    c3 = info.detector is Detector.C3
    r_occ, r_stop = (4.1 if c3 else 2.0) * per_rsun, (31.2 if c3 else 6.8) * per_rsun
    w0, w1 = (13.0, 21.0) if c3 else (7.0, 9.0)
    a = np.radians(pylon_angle)
    along = dx * np.cos(a) + dy * np.sin(a)
    across = np.abs(-dx * np.sin(a) + dy * np.cos(a))
    half = w0 + (w1 - w0) * np.clip((along - r_occ) / (r_stop - r_occ), 0, 1)
    pylon = (along > 0) & (across < half)
    return {"occulter": r < r_occ, "pylon": pylon, "r_rsun": r / per_rsun}
