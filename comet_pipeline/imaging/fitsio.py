"""Product FITS files: header building, atomic byte-reproducible writes, one reader.

Reproducibility: nothing from the wall clock is written (no ``DATE`` card of processing
time); the header is a pure function of the raw header, the observation time, the WCS and
the processing steps, so reprocessing a frame gives the same bytes.

Compact products (``*.fits.fz``, :mod:`.fitscomp`: RICE_1 tile-compressed integers):

* the calibrated frame is stored *losslessly*: its values are ``(DN - OFFSET) / (EXPTIME x
  binning^2)`` of the raw integers, so the raw DN are kept (``BLANK`` where masked) with
  ``BSCALE``/``BZERO`` giving DN/s, and ``DNOFFSET``/``DNSCALE`` cards from which
  :func:`read_image` redoes :func:`.calibrate.calibrate`'s float32 arithmetic bit for bit;
* the background-subtracted frame (units of the local noise sigma) is stored in steps of
  :data:`PROCESSED_STEP` (1/16 sigma, ``BSCALE``): |error| <= 1/32 sigma, RMS 0.018 sigma,
  which adds 0.03 % to the noise; zeros stay exactly zero, NaN stay NaN;
* any other float image (a raw frame that is not integers) goes through astropy's own
  quantiser, 1/16 of the noise it estimates per tile (``quantize_level`` 16).

:func:`read_image` reads all of them and the uncompressed float32 files older versions
wrote: (float32 data, image header) of the first image HDU, whatever its kind.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from comet_pipeline.imaging import fitscomp
from comet_pipeline.imaging.atomic import atomic_write

#: The processed frame's storage step, in units of its local noise sigma (see above).
PROCESSED_STEP = 1.0 / 16
#: astropy's quantize_level for a float image with no integer form: step = noise / 16.
QUANTIZE_LEVEL = 16.0

_STRUCTURAL = {
    "SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "BZERO", "BSCALE", "BLANK",
    "PCOUNT", "GCOUNT", "CHECKSUM", "DATASUM",
}  # fmt: skip
_OWN_KEYS = {"DATE-OBS", "TIME-OBS", "BUNIT", "CROTA1", "CROTA2"}
# World-coordinate cards of the raw header (SOLAR-X/Y, CROTA…) replaced by the WCS passed in.
_WCS_KEY = re.compile(
    r"^(WCSAXES|CTYPE\d|CUNIT\d|CDELT\d|CRPIX\d|CRVAL\d|CROTA\d?|PC\d_\d|CD\d_\d|PV\d_\d+|"
    r"LONPOLE|LATPOLE|MJDREF|DATEREF|MJD-OBS|RADESYS|EQUINOX|WCSNAME|BUNIT|DATE)$"
)


def iso_time(value: datetime) -> str:
    """FITS ISO time, UTC, millisecond precision (``2024-01-01T00:00:05.000``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def product_cards(
    raw_header: fits.Header,
    *,
    observed_at: datetime,
    wcs: WCS,
    bunit: str,
    history: Iterable[str],
) -> list[str]:
    """Card images: the raw header's cards (minus structure and old WCS) + the WCS + ISO
    DATE-OBS + BUNIT + HISTORY. Works on 80-character images, not ``Header.append``: the
    raw cards keep their original text and nothing is re-verified (~4x faster).

    ``TIME-OBS`` is emptied as in level-1 files, since DATE-OBS now holds date and time.
    The roll stays readable as ``CROTA1/2`` (derived from the WCS's PC matrix).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs_header = wcs.to_header()
    wcs_header.remove("DATE-OBS", ignore_missing=True)
    replaced = set(wcs_header.keys()) | _OWN_KEYS
    images = [
        c.image
        for c in raw_header.cards
        if not (c.keyword in _STRUCTURAL or c.keyword in replaced or _WCS_KEY.match(c.keyword))
    ]
    pc = wcs.wcs.get_pc()
    roll = round(float(np.degrees(np.arctan2(pc[1, 0], pc[0, 0]))), 6)
    images += [
        fits.Card("DATE-OBS", iso_time(observed_at), "observation start, UTC (ISO 8601)").image,
        fits.Card("TIME-OBS", "", "time is in DATE-OBS").image,
        fits.Card("BUNIT", bunit).image,
    ]
    images += [c.image for c in wcs_header.cards]
    images += [
        fits.Card("CROTA1", roll, "[deg] roll, from the PC matrix").image,
        fits.Card("CROTA2", roll, "[deg] roll, from the PC matrix").image,
    ]
    images += [fits.Card("HISTORY", line).image for line in history]
    return images


def product_header(
    raw_header: fits.Header,
    *,
    observed_at: datetime,
    wcs: WCS,
    bunit: str,
    history: Iterable[str],
) -> fits.Header:
    """:func:`product_cards` as an astropy Header."""
    cards = product_cards(
        raw_header, observed_at=observed_at, wcs=wcs, bunit=bunit, history=history
    )
    return fits.Header.fromstring("".join(cards))


def card_images(header: fits.Header) -> list[str]:
    """The 80-character images of ``header``'s non-structural cards (formatted once)."""
    return [c.image for c in header.cards if c.keyword not in _STRUCTURAL]


def with_cards(
    images: Sequence[str], *, bunit: str | None = None, history: Iterable[str] = ()
) -> list[str]:
    """Card images with BUNIT replaced and HISTORY lines appended (no Header round trip)."""
    out = list(images)
    if bunit is not None:
        card = fits.Card("BUNIT", bunit).image
        out = [card if im.startswith("BUNIT   =") else im for im in out]
    out += [fits.Card("HISTORY", line).image for line in history]
    return out


def fits_parts_float32(data: np.ndarray, cards: fits.Header | Sequence[str]) -> list:
    """A single-HDU FITS file (BITPIX -32) of ``data`` as buffers to write in order.

    Assembled directly (structural cards, the card images, END, 2880-byte blocks,
    big-endian data, zero padding) rather than through ``PrimaryHDU.writeto``, whose
    per-card verification, header copies and byte-swapping cost ~3x the write itself. The
    cards come from a valid raw header and astropy's WCS: there is nothing to fix.
    """
    data = np.asarray(data, dtype=np.float32)
    ny, nx = data.shape
    images = card_images(cards) if isinstance(cards, fits.Header) else list(cards)
    head = [
        fits.Card("SIMPLE", True, "conforms to FITS standard").image,
        fits.Card("BITPIX", -32, "array data type").image,
        fits.Card("NAXIS", 2, "number of array dimensions").image,
        fits.Card("NAXIS1", nx).image,
        fits.Card("NAXIS2", ny).image,
    ]
    text = "".join(head + images) + "END".ljust(80)
    text += " " * ((-len(text)) % 2880)
    body = data.astype(">f4")  # one copy, written through the buffer protocol
    return [text.encode("ascii"), body, b"\0" * ((-body.nbytes) % 2880)]


def fits_bytes_float32(data: np.ndarray, cards: fits.Header | Sequence[str]) -> bytes:
    parts = fits_parts_float32(data, cards)
    return parts[0] + parts[1].tobytes() + parts[2]


def write_fits_float32(path: Path, data: np.ndarray, header: fits.Header | Sequence[str]) -> Path:
    """Write ``data`` as a float32 primary HDU with ``header`` (or card images), atomically."""
    return atomic_write(path, fits_parts_float32(data, header))


def dn_cards(offset: float, scale: float) -> list[str]:
    """How a calibrated product's integers give DN/s (``(DN - DNOFFSET) * DNSCALE``)."""
    return [
        fits.Card("DNOFFSET", float(offset), "[DN] bias: DN/s = (DN - DNOFFSET) * DNSCALE").image,
        fits.Card("DNSCALE", float(scale), "[1/s] 1 / (EXPTIME x binning^2)").image,
    ]


def integers_with_blank(values: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Integer ``values`` as int16 (or int32 when needed) with ``BLANK`` where ``bad``; None
    when they do not fit.

    ``BLANK`` is the value just below the smallest kept one, not the type's minimum: RICE
    codes the differences of neighbouring pixels, so a mask edge then costs a few bits
    rather than the 16 or 32 a jump to -32768 costs every 32-pixel block it falls in
    (~0.25 MB of a 1024² frame with a round field stop).
    """
    kept = values[~bad]
    low, high = (int(kept.min()), int(kept.max())) if kept.size else (1, 1)
    kind = fitscomp.int_type(low - 1, high)
    if kind is None:
        return None
    ints = values.astype(kind)
    ints[bad] = low - 1
    return ints, low - 1


def dn_integers(raw: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The raw DN as integers with ``BLANK`` where ``mask``; None when ``raw`` holds no
    integers (the calibrated frame then needs quantising)."""
    raw = np.asarray(raw)
    if raw.dtype.kind not in "iu" or raw.size == 0 or raw.shape != mask.shape:
        return None
    return integers_with_blank(raw, mask)


def write_dn_fits(
    path: Path,
    raw: np.ndarray,
    mask: np.ndarray,
    cards: Sequence[str],
    *,
    offset: float,
    scale: float,
) -> Path | None:
    """The calibrated frame ``(raw - offset) * scale`` (NaN where ``mask``), losslessly as
    the raw integers; None (nothing written) when ``raw`` is not integer."""
    found = dn_integers(raw, mask)
    if found is None:
        return None
    ints, blank = found
    parts = fitscomp.compressed_parts(
        ints,
        [*cards, *dn_cards(offset, scale)],
        bscale=float(scale),
        bzero=-float(offset) * float(scale),
        blank=blank,
    )
    return atomic_write(path, parts)


def stepped_integers(data: np.ndarray, step: float) -> tuple[np.ndarray, int]:
    """``rint(data / step)`` as integers (int16 when they fit), ``BLANK`` where ``data`` is
    NaN (infinities are clipped). A few whole-array passes, no boolean gathers: ~3 ms for a
    1024² frame."""
    scaled = np.multiply(data, np.float32(1.0 / step), dtype=np.float32)
    limit = np.float32(2**31 - 2**8)  # float32 keeps 24 bits: stay clear of int32's ends
    np.clip(scaled, -limit, limit, out=scaled)  # NaN stays NaN
    np.rint(scaled, out=scaled)
    bad = np.isnan(scaled)
    low = float(np.fmin.reduce(scaled, axis=None))  # NaN-skipping: NaN only if all are
    high = float(np.fmax.reduce(scaled, axis=None))
    if np.isnan(low):
        low = high = 1.0
    dtype = fitscomp.int_type(int(low) - 1, int(high))
    if dtype is None:  # pragma: no cover - the clip keeps every value in range
        raise ValueError("values out of range for int32")
    blank = int(low) - 1
    scaled[bad] = blank
    return scaled.astype(dtype), blank


def write_stepped_fits(path: Path, data: np.ndarray, cards: Sequence[str], step: float) -> Path:
    """``data`` rounded to multiples of ``step`` (|error| <= step / 2), NaN kept, compressed."""
    ints, blank = stepped_integers(data, step)
    history = fits.Card(
        "HISTORY",
        f"comet_pipeline imaging: stored in steps of {step:g} (BSCALE), |error| <= {step / 2:g}",
    ).image
    parts = fitscomp.compressed_parts(
        ints, [*cards, history], bscale=float(step), bzero=0.0, blank=blank
    )
    return atomic_write(path, parts)


def write_quantized_fits(path: Path, data: np.ndarray, cards: Sequence[str]) -> Path:
    """A float image with no integer form: astropy's RICE_1 quantiser, step = the noise it
    estimates per tile / :data:`QUANTIZE_LEVEL`, SUBTRACTIVE_DITHER_2 (zeros exact) with a
    fixed seed (same bytes each time), NaN kept."""
    images = [c for c in cards if not fitscomp.RESERVED.match(c[:8].rstrip())]
    hdu = fits.CompImageHDU(
        np.asarray(data, dtype=np.float32),
        fits.Header.fromstring("".join(images)),
        compression_type="RICE_1",
        quantize_level=QUANTIZE_LEVEL,
        quantize_method=2,  # SUBTRACTIVE_DITHER_2
        dither_seed=1,
        tile_shape=(fitscomp.TILE_ROWS, data.shape[1]),
    )
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
    return atomic_write(path, [buffer.getvalue()])


def _physical(ints: np.ndarray, header: fits.Header, scale: dict[str, float]) -> np.ndarray:
    """Stored integers -> float32 values, NaN where BLANK. A calibrated product (DNOFFSET,
    DNSCALE) is recomputed as calibrate() computes it, so it equals the original bit for bit."""
    if "DNOFFSET" in header and "DNSCALE" in header:
        out = ints.astype(np.float32)
        out -= np.float32(header["DNOFFSET"])
        out *= np.float32(header["DNSCALE"])
    else:
        bscale, bzero = scale.get("BSCALE", 1.0), scale.get("BZERO", 0.0)
        exact = bzero == 0.0 and np.frexp(bscale)[0] == 0.5  # a power of two: exact in f32
        if exact:
            out = ints.astype(np.float32)
            out *= np.float32(bscale)
        else:
            out = (ints * bscale + bzero).astype(np.float32)
    if "BLANK" in scale:
        out[ints == int(scale["BLANK"])] = np.nan
    return out


def _image_header(images: list[str], shape: tuple[int, ...]) -> fits.Header:
    head = [
        fits.Card("XTENSION", "IMAGE", "Image extension").image,
        fits.Card("BITPIX", -32, "array data type").image,
        fits.Card("NAXIS", len(shape), "number of array dimensions").image,
        *(fits.Card(f"NAXIS{i + 1}", n).image for i, n in enumerate(reversed(shape))),
        fits.Card("PCOUNT", 0).image,
        fits.Card("GCOUNT", 1).image,
    ]
    return fits.Header.fromstring("".join(head + images))


def read_image(path: Path) -> tuple[np.ndarray, fits.Header]:
    """(float32 data, header) of the first image HDU of a product, whatever its kind: a
    compressed product of this version, or the uncompressed float32 file of an older one.

    Masked pixels are NaN. The header is the image's (WCS, DATE-OBS, HISTORY…), without the
    compression and scaling cards.
    """
    raw = Path(path).read_bytes()
    decoded = fitscomp.decode(raw)
    if decoded is not None:
        ints, images, scale = decoded
        header = _image_header(images, ints.shape)
        return _physical(ints, header, scale), header
    return _read_astropy(raw, path)


def _read_astropy(raw: bytes, path: Path) -> tuple[np.ndarray, fits.Header]:
    with fits.open(io.BytesIO(raw), memmap=False, do_not_scale_image_data=True) as hdul:
        for hdu in hdul:
            if not hdu.is_image or hdu.header.get("NAXIS", 0) < 1 or hdu.data is None:
                continue
            header = hdu.header.copy()
            data = np.asarray(hdu.data)
            scale = {
                "BSCALE": float(header.get("BSCALE", 1.0)),
                "BZERO": float(header.get("BZERO", 0.0)),
            }
            if data.dtype.kind in "iu":
                if "BLANK" in header:
                    scale["BLANK"] = float(header["BLANK"])
                out = _physical(data, header, scale)
            else:
                out = data.astype(np.float32)
                if scale != {"BSCALE": 1.0, "BZERO": 0.0}:
                    out = (out * scale["BSCALE"] + scale["BZERO"]).astype(np.float32)
            for key in ("BSCALE", "BZERO", "BLANK"):
                header.remove(key, ignore_missing=True)
            header["BITPIX"] = -32
            return out, header
    raise ValueError(f"{path}: no image HDU with data")


def read_fits_float32(path: Path) -> tuple[np.ndarray, fits.Header]:
    """:func:`read_image` (the name older code and tests use)."""
    return read_image(path)


def read_fits_data(path: Path) -> np.ndarray:
    return read_image(path)[0]


def save_npy_atomic(path: Path, array: np.ndarray) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return atomic_write(path, [buffer.getvalue()])
