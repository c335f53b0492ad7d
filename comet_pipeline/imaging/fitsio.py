"""Calibrated-product FITS files: header building and atomic, byte-reproducible writes.

Reproducibility: nothing from the wall clock is written (no ``DATE`` card of processing
time); the header is a pure function of the raw header, the observation time, the WCS and
the processing steps, so reprocessing a frame gives the same bytes.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

_STRUCTURAL = {
    "SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "BZERO", "BSCALE", "BLANK",
    "PCOUNT", "GCOUNT", "CHECKSUM", "DATASUM",
}  # fmt: skip
# World-coordinate cards of the raw header (SOLAR-X/Y, CROTA…) replaced by the WCS passed in.
_WCS_KEY = re.compile(
    r"^(WCSAXES|CTYPE\d|CUNIT\d|CDELT\d|CRPIX\d|CRVAL\d|CROTA\d?|PC\d_\d|CD\d_\d|PV\d_\d+|"
    r"LONPOLE|LATPOLE|MJDREF|DATEREF|MJD-OBS|RADESYS|EQUINOX|WCSNAME|BUNIT|DATE)$"
)


def iso_time(value: datetime) -> str:
    """FITS ISO time, UTC, millisecond precision (``2024-01-01T00:00:05.000``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def product_header(
    raw_header: fits.Header,
    *,
    observed_at: datetime,
    wcs: WCS,
    bunit: str,
    history: Iterable[str],
) -> fits.Header:
    """The raw header's cards (minus structure and old WCS) + WCS + ISO DATE-OBS + HISTORY.

    ``TIME-OBS`` is emptied as in level-1 files, since DATE-OBS now holds date and time.
    The roll stays readable as ``CROTA1/2`` (derived from the WCS's PC matrix).
    """
    out = fits.Header()
    for card in raw_header.cards:
        key = card.keyword
        if key in _STRUCTURAL or _WCS_KEY.match(key) or key in ("DATE-OBS", "TIME-OBS"):
            continue
        out.append(card, end=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs_cards = wcs.to_header()
    for key in ("DATE-OBS",):
        wcs_cards.remove(key, ignore_missing=True)
    out["DATE-OBS"] = (iso_time(observed_at), "observation start, UTC (ISO 8601)")
    out["TIME-OBS"] = ("", "time is in DATE-OBS")
    out["BUNIT"] = bunit
    out.update(wcs_cards)
    pc = wcs.wcs.get_pc()
    roll = float(np.degrees(np.arctan2(pc[1, 0], pc[0, 0])))
    out["CROTA1"] = (round(roll, 6), "[deg] roll, from the PC matrix")
    out["CROTA2"] = (round(roll, 6), "[deg] roll, from the PC matrix")
    for line in history:
        out.add_history(line)
    return out


def write_fits_float32(path: Path, data: np.ndarray, header: fits.Header) -> Path:
    """Write ``data`` as a float32 primary HDU with ``header``, atomically (temp + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu = fits.PrimaryHDU(data=np.asarray(data, dtype=np.float32), header=header)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        hdu.writeto(tmp, overwrite=True, output_verify="silentfix")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_fits_float32(path: Path) -> tuple[np.ndarray, fits.Header]:
    """Read a product written by :func:`write_fits_float32` (native-endian float32 copy)."""
    with fits.open(path, memmap=False) as hdul:
        data = np.asarray(hdul[0].data, dtype=np.float32)
        return data, hdul[0].header.copy()


def read_fits_data(path: Path) -> np.ndarray:
    with fits.open(path, memmap=False) as hdul:
        return np.asarray(hdul[0].data, dtype=np.float32)


def save_npy_atomic(path: Path, array: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
