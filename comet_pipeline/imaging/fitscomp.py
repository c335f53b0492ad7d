"""Tile-compressed FITS of integer images: the compact form of the FITS products.

The file is what fpack and astropy's ``CompImageHDU`` write (the FITS tiled-image
compression convention, FITS standard 4.0 section 10): an empty primary HDU, then a
``BINTABLE`` with ``ZIMAGE = T`` whose rows are tiles of :data:`TILE_ROWS` full-width image
rows, each coded losslessly with ``RICE_1`` (blocks of 32 pixels). The integers carry the
physical values through the usual ``BSCALE``/``BZERO``/``BLANK`` cards, so every FITS reader
(astropy, CFITSIO and funpack, ds9) gets floats back and NaN where ``BLANK`` is stored.
Nothing is quantised here: choosing the integers (raw DN, or a step well below the noise)
is the caller's business (:mod:`.fitsio`).

Assembled by hand, as :func:`.fitsio.fits_parts_float32` is: ``CompImageHDU.writeto`` of
the same image takes twice as long (measured 28 ms against 13 ms for a 1024² frame, the
RICE coding 9 ms of both), the rest being its header handling and configuration look-ups.
The coding is astropy's own C (``compress_rice_1_c``, which releases the GIL, so the
processor's writer threads run it beside the main thread); it is a private name, so when
an astropy release moves or changes it, the public ``CompImageHDU`` writes and
``fits.open`` reads instead (:data:`FAST` is False): slower, the same images.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from astropy.io import fits

try:  # astropy's C RICE codec: a private module (where astropy 8 has it)
    from astropy.io.fits.hdu.compressed._compression import (
        compress_rice_1_c,
        decompress_rice_1_c,
    )
except ImportError:  # pragma: no cover - depends on the installed astropy
    compress_rice_1_c = decompress_rice_1_c = None


def _codec_works() -> bool:
    """The private codec is there and still takes what it took (a round trip of 64 ints)."""
    if compress_rice_1_c is None or decompress_rice_1_c is None:
        return False  # pragma: no cover
    try:
        probe = (np.arange(64, dtype=np.int32) * 37) % 1000 - 500
        back = decompress_rice_1_c(compress_rice_1_c(probe.tobytes(), 32, 4), 32, 4, 64)
        return bool(np.array_equal(np.frombuffer(back, dtype=np.int32), probe))
    except Exception:  # noqa: BLE001 # pragma: no cover - another astropy's signature
        return False


#: True: write and read with astropy's C codec directly; False: through CompImageHDU.
FAST = _codec_works()

#: Image rows per tile: 64 tiles for a 1024² frame (few calls into C, small descriptors).
TILE_ROWS = 16
BLOCKSIZE = 32
_BLOCK = 2880
_CARD = 80

#: Keywords that belong to the compressed table, never to the image: a product card of one
#: of these names (none of the raw LASCO headers has one) is left out rather than confuse
#: the table.
RESERVED = re.compile(
    r"^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|TFIELDS|THEAP|EXTNAME|"
    r"T(TYPE|FORM|UNIT|SCAL|ZERO|NULL|DIM|DISP)\d+|BSCALE|BZERO|BLANK|CHECKSUM|DATASUM|"
    r"ZIMAGE|ZSIMPLE|ZTENSION|ZEXTEND|ZBLOCKED|ZCMPTYPE|ZBITPIX|ZNAXIS\d*|ZTILE\d+|"
    r"ZNAME\d+|ZVAL\d+|ZMASKCMP|ZPCOUNT|ZGCOUNT|ZHECKSUM|ZDATASUM|ZQUANTIZ|ZDITHER0|"
    r"ZSCALE|ZZERO|ZBLANK|END)$"
)


def int_type(low: int, high: int) -> np.dtype | None:
    """The narrower of int16 and int32 that holds every value of [low, high]."""
    for dtype in (np.dtype(np.int16), np.dtype(np.int32)):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return dtype
    return None


def _card(keyword: str, value: object, comment: str = "") -> str:
    return fits.Card(keyword, value, comment).image


def _pad(text: str) -> bytes:
    text += "END".ljust(_CARD)
    return (text + " " * ((-len(text)) % _BLOCK)).encode("ascii")


_PRIMARY = _pad(
    _card("SIMPLE", True, "conforms to FITS standard")
    + _card("BITPIX", 8, "array data type")
    + _card("NAXIS", 0, "no data: the image is the compressed extension")
    + _card("EXTEND", True)
)


def compressed_parts(
    ints: np.ndarray,
    cards: Sequence[str],
    *,
    bscale: float,
    bzero: float,
    blank: int,
) -> list[bytes]:
    """The buffers of a RICE_1 tile-compressed FITS file of the integer image ``ints``.

    ``cards`` are the image's 80-character card images (WCS, DATE-OBS, HISTORY…);
    ``bscale``/``bzero`` map the integers to physical values, ``blank`` marks the pixels
    that read back as NaN. ``ints`` must be int16 or int32.
    """
    ints = np.ascontiguousarray(ints, dtype=ints.dtype.newbyteorder("="))
    if ints.ndim != 2 or ints.size == 0 or ints.dtype not in (np.int16, np.int32):
        raise ValueError(f"a 2-D int16 or int32 image is needed, not {ints.dtype} {ints.shape}")
    if not FAST:  # pragma: no cover - depends on the installed astropy
        return [_astropy_bytes(ints, cards, bscale=bscale, bzero=bzero, blank=blank)]
    ny, nx = ints.shape
    bytepix = ints.dtype.itemsize
    tiles = [
        compress_rice_1_c(ints[r : r + TILE_ROWS].tobytes(), BLOCKSIZE, bytepix)
        for r in range(0, ny, TILE_ROWS)
    ]
    sizes = np.array([len(t) for t in tiles], dtype=np.int64)
    table = np.empty((len(tiles), 2), dtype=">i4")  # (bytes, heap offset) per tile
    table[:, 0] = sizes
    table[:, 1] = np.cumsum(sizes) - sizes
    heap = int(sizes.sum())
    head = [
        _card("XTENSION", "BINTABLE", "binary table extension"),
        _card("BITPIX", 8, "array data type"),
        _card("NAXIS", 2, "number of array dimensions"),
        _card("NAXIS1", 8, "width of table in bytes"),
        _card("NAXIS2", len(tiles), "number of rows in table"),
        _card("PCOUNT", heap, "number of group parameters"),
        _card("GCOUNT", 1, "number of groups"),
        _card("TFIELDS", 1, "number of fields in each row"),
        _card("TTYPE1", "COMPRESSED_DATA"),
        _card("TFORM1", f"1PB({int(sizes.max())})"),
        _card("ZIMAGE", True, "extension contains compressed image"),
        _card("ZTENSION", "IMAGE", "Image extension"),
        _card("ZBITPIX", 8 * bytepix, "array data type"),
        _card("ZNAXIS", 2, "number of array dimensions"),
        _card("ZNAXIS1", nx),
        _card("ZNAXIS2", ny),
        _card("ZPCOUNT", 0, "number of parameters"),
        _card("ZGCOUNT", 1, "number of groups"),
        _card("ZTILE1", nx, "size of tiles to be compressed"),
        _card("ZTILE2", TILE_ROWS, "size of tiles to be compressed"),
        _card("ZCMPTYPE", "RICE_1", "compression algorithm"),
        _card("ZNAME1", "BLOCKSIZE", "compression block size"),
        _card("ZVAL1", BLOCKSIZE, "pixels per block"),
        _card("ZNAME2", "BYTEPIX", "bytes per pixel (1, 2, 4, or 8)"),
        _card("ZVAL2", bytepix, "bytes per pixel (1, 2, 4, or 8)"),
        _card("EXTNAME", "COMPRESSED_IMAGE", "name of this binary table extension"),
        _card("BSCALE", bscale),
        _card("BZERO", bzero),
        _card("BLANK", blank, "stored value of the NaN (masked) pixels"),
    ]
    images = [c for c in cards if not RESERVED.match(c[:8].rstrip())]
    body = table.tobytes() + b"".join(tiles)
    return [_PRIMARY, _pad("".join(head + images)), body, b"\0" * ((-len(body)) % _BLOCK)]


def _astropy_bytes(  # pragma: no cover - the fallback when the C codec moved
    ints: np.ndarray, cards: Sequence[str], *, bscale: float, bzero: float, blank: int
) -> bytes:
    import io

    images = [c for c in cards if not RESERVED.match(c[:8].rstrip())]
    hdu = fits.CompImageHDU(
        ints,
        fits.Header.fromstring("".join(images)),
        compression_type="RICE_1",
        tile_shape=(TILE_ROWS, ints.shape[1]),
    )
    hdu.header["BSCALE"] = bscale
    hdu.header["BZERO"] = bzero
    hdu.header["BLANK"] = blank
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- reading


def _header(raw: bytes, start: int) -> tuple[list[str], int] | None:
    """The card images of the header starting at ``start`` and the offset after it."""
    pos = start
    cards: list[str] = []
    while pos + _BLOCK <= len(raw):
        block = raw[pos : pos + _BLOCK].decode("ascii", "replace")
        pos += _BLOCK
        for i in range(0, _BLOCK, _CARD):
            card = block[i : i + _CARD]
            if card.startswith("END     "):
                return cards, pos
            cards.append(card)
    return None


def _value(keyed: dict[str, str], key: str) -> str | None:
    image = keyed.get(key)
    if image is None or image[8:10] != "= ":
        return None
    text = image[10:]
    if text.lstrip().startswith("'"):
        return text.split("'")[1].strip()
    return text.split("/", 1)[0].strip()


def _int(keyed: dict[str, str], key: str) -> int:
    return int(_value(keyed, key) or 0)


def decode(raw: bytes) -> tuple[np.ndarray, list[str], dict[str, float]] | None:
    """(integers, image card images, {BSCALE, BZERO[, BLANK]}) of a file laid out as
    :func:`compressed_parts` writes it, or None for anything else (an uncompressed
    product of an older version, another tiling, algorithm or quantisation): the caller
    then reads it with astropy."""
    if not FAST or not raw.startswith(b"SIMPLE  ="):
        return None
    primary = _header(raw, 0)
    if primary is None or _int({c[:8].rstrip(): c for c in primary[0]}, "NAXIS") != 0:
        return None
    ext = _header(raw, primary[1])
    if ext is None:
        return None
    cards, start = ext
    keyed = {c[:8].rstrip(): c for c in cards}
    want = {
        "XTENSION": "BINTABLE", "ZIMAGE": "T", "ZCMPTYPE": "RICE_1", "ZNAXIS": "2",
        "TFIELDS": "1", "TTYPE1": "COMPRESSED_DATA", "NAXIS1": "8", "ZNAME1": "BLOCKSIZE",
        "ZNAME2": "BYTEPIX",
    }  # fmt: skip
    if any(_value(keyed, k) != v for k, v in want.items()):
        return None
    if any(k in keyed for k in ("ZQUANTIZ", "ZSCALE", "ZZERO", "ZBLANK", "THEAP")):
        return None
    try:
        nx, ny, rows = _int(keyed, "ZNAXIS1"), _int(keyed, "ZNAXIS2"), _int(keyed, "ZTILE2")
        ntiles, blocksize, bytepix = (
            _int(keyed, "NAXIS2"),
            _int(keyed, "ZVAL1"),
            _int(keyed, "ZVAL2"),
        )
        zbitpix, tile_width = _int(keyed, "ZBITPIX"), _int(keyed, "ZTILE1")
        scale = {
            "BSCALE": float(_value(keyed, "BSCALE") or 1),
            "BZERO": float(_value(keyed, "BZERO") or 0),
        }
        if "BLANK" in keyed:
            scale["BLANK"] = float(_int(keyed, "BLANK"))
    except ValueError:
        return None
    if (
        tile_width != nx
        or zbitpix not in (16, 32)
        or bytepix != zbitpix // 8
        or rows <= 0
        or nx <= 0
        or ntiles != -(-ny // rows)
        or len(raw) < start + 8 * ntiles
    ):
        return None
    table = np.frombuffer(raw, dtype=">i4", count=2 * ntiles, offset=start).reshape(-1, 2)
    heap = start + 8 * ntiles
    dtype = np.dtype(f"i{bytepix}")
    out = np.empty((ny, nx), dtype=dtype)
    for k, (size, offset) in enumerate(table.tolist()):
        r = k * rows
        n = min(rows, ny - r) * nx
        tile = decompress_rice_1_c(raw[heap + offset : heap + offset + size], blocksize, bytepix, n)
        out[r : r + rows] = np.frombuffer(tile, dtype=dtype, count=n).reshape(-1, nx)
    images = [c for c in cards if c.strip() and not RESERVED.match(c[:8].rstrip())]
    return out, images, scale
