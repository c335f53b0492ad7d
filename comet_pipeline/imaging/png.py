"""8-bit grey PNGs at 1024 / 512 / 256, written atomically and byte-reproducibly.

The grey PNGs are encoded here (IHDR + one IDAT + IEND, filter type 0, zlib level 1 with
the run-length strategy) rather than by Pillow: Pillow always runs adaptive row filtering,
which costs ~35 ms per noisy 1024² image at compress_level=1 for a *larger* file than
this encoder's ~9 ms (measured: 729 kB vs 665 kB). Masked areas are long runs of one grey,
which RLE catches; noise does not compress whatever the level. No time or text chunks, so
the same pixels always give the same bytes. Pillow still does the box reductions and the
animations.

Two choices per product (:mod:`.products.registry`), both invisible:

* ``levels``: the grey levels kept, in even steps (64: every 4th grey). Used on the processed
  and difference frames, which are noise to the last bit: their background noise spans ~21
  (processed) and ~26 (difference) grey levels per sigma at 1024 px, half that at 512, so 64
  levels at 1024 px and 128 at 512 (steps of 4 and 2) add 1.2 and 0.6 grey levels RMS to
  noise of ~21 and ~10: 0.3 % of its power, for 2 and 1 bits a pixel less (-30 %, -17 %).
  Black, mid grey (128, the masked pixels) and the step's multiples stay as they are; the
  256 px thumbnails keep every level.
* ``predict``: PNG's "average" filter (the mean of the left and upper pixels predicts each
  pixel), lossless. It halves the calibrated preview, a smooth corona; on the noisy frames
  prediction only adds noise, so they keep filter 0.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from comet_pipeline.imaging.atomic import atomic_write

FULL_SIZE = 1024
PREVIEW_SIZE = 512
THUMB_SIZE = 256
COMPRESS_LEVEL = 1


def atomic_save(
    image: Image.Image,
    path: Path,
    *,
    format: str = "PNG",  # Pillow's own keyword for it
    **params: object,
) -> Path:
    """Save a Pillow image (e.g. an animation) atomically."""
    buffer = io.BytesIO()
    image.save(buffer, format=format, **params)
    return atomic_write(path, [buffer.getvalue()])


def to_image(display: np.ndarray, size: int = FULL_SIZE) -> Image.Image:
    """A display-oriented uint8 array as an 'L' image of ``size`` x ``size``."""
    image = Image.fromarray(np.ascontiguousarray(display, dtype=np.uint8), mode="L")
    return resize(image, size)


def resize(image: Image.Image, size: int) -> Image.Image:
    """Box-reduce by an integer factor when possible (fast, exact), else BOX resample."""
    if image.size == (size, size):
        return image
    w, h = image.size
    if w == h and w % size == 0:
        return image.reduce(w // size)
    return image.resize((size, size), Image.Resampling.BOX)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@lru_cache(maxsize=8)
def _posterise_lut(levels: int) -> np.ndarray:
    step = 256 // levels
    lut = np.minimum((np.arange(256) + step // 2) // step * step, 256 - step).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def posterise(pixels: np.ndarray, levels: int) -> np.ndarray:
    """``pixels`` rounded to ``levels`` grey levels (a power of two), multiples of the step."""
    if levels >= 256:
        return pixels
    if levels < 2 or 256 % levels:
        raise ValueError(f"levels must be a power of two from 2 to 256, not {levels}")
    return _posterise_lut(levels)[pixels]


def _average_filtered(pixels: np.ndarray) -> np.ndarray:
    """PNG filter type 3 of every row: pixel - floor((left + up) / 2), modulo 256."""
    p = pixels.astype(np.int16)
    predicted = np.zeros_like(p)
    predicted[:, 1:] = p[:, :-1]  # left
    predicted[1:] += p[:-1]  # up
    predicted >>= 1
    return (p - predicted).astype(np.uint8)  # int16 -> uint8 wraps modulo 256


def encode_grey_png(pixels: np.ndarray, *, levels: int = 256, predict: bool = False) -> bytes:
    """PNG bytes of a 2-D uint8 array (8-bit greyscale, zlib RLE level 1): filter 0, or the
    average filter with ``predict``; ``levels`` < 256 posterises first (see above)."""
    pixels = posterise(np.asarray(pixels, dtype=np.uint8), levels)
    h, w = pixels.shape
    rows = np.empty((h, w + 1), dtype=np.uint8)
    rows[:, 0] = 3 if predict else 0  # each row's filter byte: 3 (average) or 0 (none)
    rows[:, 1:] = _average_filtered(pixels) if predict else pixels
    comp = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = comp.compress(rows.tobytes()) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def write_png(
    image: Image.Image | np.ndarray, path: Path, *, levels: int = 256, predict: bool = False
) -> Path:
    """Write an 'L' image (or a uint8 array) as a grey PNG, atomically."""
    pixels = np.asarray(image, dtype=np.uint8)
    return atomic_write(path, [encode_grey_png(pixels, levels=levels, predict=predict)])


def write_png_set(
    display: np.ndarray, full: Path, preview: Path | None = None, thumb: Path | None = None
) -> None:
    """Write the 1024 image and (if given) the 512 preview and 256 thumbnail from it."""
    image = to_image(display, FULL_SIZE)
    write_png(image, full)
    if preview is not None or thumb is not None:
        small = image.reduce(FULL_SIZE // PREVIEW_SIZE)
        if preview is not None:
            write_png(small, preview)
        if thumb is not None:
            write_png(small.reduce(PREVIEW_SIZE // THUMB_SIZE), thumb)
