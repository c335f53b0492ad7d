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
    sun_x = _number(header, "CRPIX1") - 1.0 + dx
    sun_y = _number(header, "CRPIX2") - 1.0 + dy
    if not (math.isfinite(sun_x) and math.isfinite(sun_y)):
        # finite cards can still overflow here (CRVAL / a tiny CDELT): never hand on inf
        raise HeaderError(
            f"the Sun centre (CRPIX, CRVAL, CDELT) is not a finite pixel position: "
            f"x = {sun_x:g}, y = {sun_y:g}"
        )
    n_missing_keys = ("NMISSING", "DATAZER") if level == "1" else ("DATAZER", "NMISSING")
    return FitsInfo(
        observed_at=observed_at,
        detector=detector,
        exptime=_number(header, "EXPTIME"),
        naxis1=naxis1,
        naxis2=naxis2,
        binning=_binning(header, naxis1),
        offset=_number(header, "OFFSET", default=0.0),
        sun_x=sun_x,
        sun_y=sun_y,
        plate_scale=abs(cdelt1),
        roll_deg=roll,
        filter=str(_get(header, "FILTER") or "").strip(),
        polarizer=str(_get(header, "POLAR") or "").strip(),
        program=str(_get(header, "LP_NUM") or "").strip(),
        n_missing=int(_number(header, *n_missing_keys, default=0.0)),
        level=level,
        filename=str(_get(header, "FILENAME") or "").strip(),
    )


#: Image sides a LASCO frame can have: 1024 full frame, 512/256 binned, subfields; 64 is
#: the smallest anything downstream is meant for, 4096 far above any C2/C3 readout.
NAXIS_RANGE = (64, 4096)
#: Plate scales, arcsec per pixel: C2 11.9 and C3 56 unbinned, up to 4x4 summing (C3 224).
PLATE_SCALE_RANGE = (1.0, 300.0)
#: How far outside the frame the Sun centre may lie, in image widths/heights (LASCO's is
#: behind the occulter, inside the frame; a shifted reference point may move it a little).
SUN_MARGIN = 2.0


def check_plausible(header: fits.Header, info: FitsInfo) -> None:
    """:class:`HeaderError` unless the geometry is one a LASCO frame can have.

    :func:`parse_fits_header` only guarantees finite numbers. A broken or hostile file can
    still say NAXIS = 3, a million-pixel side, CDELT = 1e-300 or CRPIX1 = 1e30; image code
    turns those into ZeroDivisionError, "negative dimensions" or "too many values to
    unpack" — errors that look transient and get retried. Checked when a download is
    verified, they become one permanent reason a person can read instead.
    """
    naxis = header.get("NAXIS")
    if not isinstance(naxis, int) or isinstance(naxis, bool) or naxis != 2:
        raise HeaderError(f"NAXIS = {naxis!r}: a LASCO frame is a 2-D image (NAXIS = 2)")
    low, high = NAXIS_RANGE
    for key, side in (("NAXIS1", info.naxis1), ("NAXIS2", info.naxis2)):
        if not low <= side <= high:
            raise HeaderError(
                f"{key} = {side} px is not a plausible LASCO image side ({low}..{high} px)"
            )
    unit = _arcsec_per_unit(header)
    unit_name = "arcsec" if unit == 1.0 else str(_get(header, "CUNIT1", "CUNIT")).strip().lower()
    low_s, high_s = PLATE_SCALE_RANGE
    cdelt1 = _number(header, "CDELT1")
    for key, value in (("CDELT1", cdelt1), ("CDELT2", _number(header, "CDELT2", default=cdelt1))):
        arcsec = abs(value) * unit
        if not low_s <= arcsec <= high_s:
            shown = f"{value:g} {unit_name}/px" + (
                "" if unit == 1.0 else f" ({arcsec:g} arcsec/px)"
            )
            raise HeaderError(
                f"{key} = {shown} is not a plausible plate scale ({low_s:g}..{high_s:g} arcsec/px)"
            )
    for key, axis, centre, size in (
        ("CRPIX1", "x", info.sun_x, info.naxis1),
        ("CRPIX2", "y", info.sun_y, info.naxis2),
    ):
        if not -SUN_MARGIN * size <= centre <= (1.0 + SUN_MARGIN) * size:
            raise HeaderError(
                f"{key} = {_number(header, key):g} puts the Sun centre at {axis} = {centre:g} px, "
                f"more than {SUN_MARGIN:g} image widths outside the "
                f"{info.naxis1}x{info.naxis2} frame"
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
