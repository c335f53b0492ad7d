"""LASCO FITS headers (level 0.5 and level 1) normalised into one :class:`FitsInfo`.

The two levels spell the same facts differently (split vs ISO ``DATE-OBS``, ``SOLAR-X`` vs
``HPLN-TAN``, ``DATAZER`` vs ``NMISSING``, ``CROTA1`` vs ``CROTA``). Everything downstream
reads :class:`FitsInfo` only, in the project's 0-based pixel frame, so it never has to care.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from comet_pipeline.domain.models import Detector, FitsInfo

RSUN_REF_M = 695_700_000.0  # IAU 2015 nominal solar radius, metres (as sunpy)
AU_M = 149_597_870_700.0
L1_FRACTION = 0.99  # SOHO at L1 is ~1.5e6 km sunward of Earth: ~0.99 of Earth's distance


class HeaderError(ValueError):
    """A FITS header lacks, or garbles, a key the pipeline cannot do without."""


def _get(header: fits.Header, *keys: str) -> object | None:
    for key in keys:
        value = header.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return None


def _require(header: fits.Header, *keys: str) -> object:
    value = _get(header, *keys)
    if value is None:
        raise HeaderError(f"missing {' / '.join(keys)}")
    return value


def _number(header: fits.Header, *keys: str, default: float | None = None) -> float:
    value = _get(header, *keys) if default is not None else _require(header, *keys)
    if value is None:
        return float(default)  # type: ignore[arg-type]
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise HeaderError(f"{keys[0]} = {value!r} is not a number") from None
    if not math.isfinite(number):
        raise HeaderError(f"{keys[0]} = {value!r} is not finite")
    return number


def _observed_at(header: fits.Header) -> datetime:
    """``DATE-OBS 'YYYY/MM/DD'`` + ``TIME-OBS`` (level 0.5) or ISO ``DATE-OBS`` (level 1)."""
    text = str(_require(header, "DATE-OBS", "DATE_OBS")).strip()
    time_text = str(_get(header, "TIME-OBS", "TIME_OBS") or "").strip()
    m = re.fullmatch(
        r"(\d{4})[/-](\d{2})[/-](\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?)?Z?", text
    )
    if not m:
        raise HeaderError(f"DATE-OBS = {text!r} is not a date")
    if m[4] is None:
        t = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?", time_text)
        if not t:
            raise HeaderError(f"DATE-OBS = {text!r} has no time and TIME-OBS = {time_text!r}")
        hh, mm, ss, frac = t[1], t[2], t[3], t[4]
    else:
        hh, mm, ss, frac = m[4], m[5], m[6], m[7]
    try:
        base = datetime.combine(
            date(int(m[1]), int(m[2]), int(m[3])), time(int(hh), int(mm), int(ss)), tzinfo=UTC
        )
    except ValueError as exc:
        raise HeaderError(f"bad observation time {text} {time_text}: {exc}") from None
    return base + timedelta(microseconds=round(float(frac) * 1e6) if frac else 0)


def _level(header: fits.Header) -> str:
    ctype = str(_get(header, "CTYPE1") or "").upper()
    date_obs = str(_get(header, "DATE-OBS") or "")
    if ctype.startswith("HPLN") or "T" in date_obs:
        return "1"
    return "0.5"


def _card_int(value: object) -> int:
    """``int()`` of a card value; TypeError for a value int() cannot take (e.g. complex)."""
    if not isinstance(value, str | int | float):
        raise TypeError(f"not a number: {value!r}")
    return int(value)


def _binning(header: fits.Header, naxis1: int) -> int:
    """LEB summing times on-chip column summing (0 in real headers means 'none')."""
    leb = _get(header, "LEBXSUM")
    col = _get(header, "SUMCOL")
    if leb is None and col is None:
        return max(1, round(1024 / naxis1))  # a 512-wide image without the keys: 2x2
    try:
        return max(1, _card_int(leb or 1)) * max(1, _card_int(col or 1))
    except (TypeError, ValueError):
        raise HeaderError(f"bad binning LEBXSUM={leb!r} SUMCOL={col!r}") from None


def _arcsec_per_unit(header: fits.Header) -> float:
    unit = str(_get(header, "CUNIT1", "CUNIT") or "arcsec").strip().lower()
    return {"arcsec": 1.0, "deg": 3600.0, "arcmin": 60.0}.get(unit, 1.0)


def parse_fits_header(header: fits.Header) -> FitsInfo:
    """Normalise a level-0.5 or level-1 LASCO header; :class:`HeaderError` if unusable.

    Essential: DATE-OBS (+ TIME-OBS for level 0.5), DETECTOR, EXPTIME, NAXIS1/2, CRPIX1/2,
    CDELT1. Optional with defaults: OFFSET (0; level 1 is bias-corrected), CROTA1/CROTA/
    CROTA2 (0), FILTER/POLAR/LP_NUM (''), DATAZER or NMISSING (0), LEBXSUM x SUMCOL (from
    the width if absent). The Sun centre is CRPIX − 1, moved by −CRVAL/CDELT when the
    reference point is not the Sun (small-angle: CRVAL is at most arcseconds in practice).
    """
    level = _level(header)
    observed_at = _observed_at(header)
    det_text = str(_require(header, "DETECTOR")).strip().lower()
    try:
        detector = Detector(det_text)
    except ValueError:
        raise HeaderError(f"DETECTOR = {det_text.upper()!r} is not C2 or C3") from None
    naxis1, naxis2 = int(_number(header, "NAXIS1")), int(_number(header, "NAXIS2"))
    if naxis1 <= 0 or naxis2 <= 0:
        raise HeaderError(f"image size {naxis1}x{naxis2}")
    scale = _arcsec_per_unit(header)
    cdelt1 = _number(header, "CDELT1") * scale
    cdelt2 = _number(header, "CDELT2", default=cdelt1 / scale) * scale
    if cdelt1 == 0 or cdelt2 == 0:
        raise HeaderError("CDELT1/CDELT2 is zero")
    roll = _number(header, "CROTA1", "CROTA", "CROTA2", default=0.0)
    crval1 = _number(header, "CRVAL1", default=0.0) * scale
    crval2 = _number(header, "CRVAL2", default=0.0) * scale
    # Pixel offset of the Sun from the reference pixel: invert world = R(roll) · (dp · cdelt).
    r = math.radians(roll)
    wx, wy = -crval1, -crval2
    dx = (math.cos(r) * wx + math.sin(r) * wy) / cdelt1
    dy = (-math.sin(r) * wx + math.cos(r) * wy) / cdelt2
    n_missing_keys = ("NMISSING", "DATAZER") if level == "1" else ("DATAZER", "NMISSING")
    return FitsInfo(
        observed_at=observed_at,
        detector=detector,
        exptime=_number(header, "EXPTIME"),
        naxis1=naxis1,
        naxis2=naxis2,
        binning=_binning(header, naxis1),
        offset=_number(header, "OFFSET", default=0.0),
        sun_x=_number(header, "CRPIX1") - 1.0 + dx,
        sun_y=_number(header, "CRPIX2") - 1.0 + dy,
        plate_scale=abs(cdelt1),
        roll_deg=roll,
        filter=str(_get(header, "FILTER") or "").strip(),
        polarizer=str(_get(header, "POLAR") or "").strip(),
        program=str(_get(header, "LP_NUM") or "").strip(),
        n_missing=int(_number(header, *n_missing_keys, default=0.0)),
        level=level,
        filename=str(_get(header, "FILENAME") or "").strip(),
    )


def _sun_geometry(when: datetime) -> tuple[float, float]:
    """(B0 in degrees, Earth–Sun distance in AU): low-precision almanac formulas.

    Good to ~0.01° and ~1e-4 AU, which is all a helioprojective frame at L1 needs; avoids
    astropy's ephemeris machinery (and any download) for every frame.
    """
    jd = when.timestamp() / 86400.0 + 2440587.5
    t = (jd - 2451545.0) / 36525.0
    mean_lon = math.radians((280.46646 + 36000.76983 * t) % 360.0)
    anomaly = math.radians((357.52911 + 35999.05029 * t) % 360.0)
    centre = math.radians(
        (1.914602 - 0.004817 * t) * math.sin(anomaly) + 0.019993 * math.sin(2 * anomaly)
    )
    e = 0.016708634 - 0.000042037 * t
    true_lon = mean_lon + centre
    distance = 1.000001018 * (1 - e * e) / (1 + e * math.cos(anomaly + centre))
    node = math.radians(73.6667 + 1.3958333 * (jd - 2396758.0) / 36525.0)
    b0 = math.degrees(math.asin(math.sin(true_lon - node) * math.sin(math.radians(7.25))))
    return b0, distance


def helioprojective_wcs(info: FitsInfo) -> WCS:
    """A helioprojective (HPLN-TAN/HPLT-TAN, arcsec) WCS for the image ``info`` describes.

    CRPIX is the Sun centre (1-based, as WCS wants), CRVAL (0, 0), CDELT the plate scale,
    PC the roll (sunpy's convention for CROTA). The observer is SOHO at L1, approximated as
    0.99 × the Earth–Sun distance on the Earth–Sun line (HGLN_OBS 0, HGLT_OBS = B0), with
    RSUN_REF the IAU nominal radius; set on ``wcs.wcs.aux`` so sunpy/astropy frames see it.
    """
    w = WCS(naxis=2)
    w.wcs.ctype = ["HPLN-TAN", "HPLT-TAN"]
    w.wcs.cunit = ["arcsec", "arcsec"]
    w.wcs.crpix = [info.sun_x + 1.0, info.sun_y + 1.0]
    w.wcs.crval = [0.0, 0.0]
    w.wcs.cdelt = [info.plate_scale, info.plate_scale]
    r = math.radians(info.roll_deg)
    w.wcs.pc = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    w.wcs.dateobs = info.observed_at.astimezone(UTC).replace(tzinfo=None).isoformat()
    w.wcs.timesys = "UTC"
    b0, distance_au = _sun_geometry(info.observed_at)
    w.wcs.aux.rsun_ref = RSUN_REF_M
    w.wcs.aux.dsun_obs = distance_au * AU_M * L1_FRACTION
    w.wcs.aux.hgln_obs = 0.0
    w.wcs.aux.hglt_obs = b0
    w.pixel_shape = (info.naxis1, info.naxis2)
    w.wcs.set()
    return w
