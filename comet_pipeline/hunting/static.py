"""Sources that stand still on the detector: hot pixels, warm columns, rings, static knots.

A comet moves, and so does every star (with the drift); whatever is found at the same pixel
in most frames of a window is fixed to the detector (hot pixels, warm columns, pylon edges)
or to the Sun (occulter and field-stop rings, residual knots of the background subtraction).
They are masked before tracking, so they can neither seed a track nor vote for the drift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from comet_pipeline.hunting.sources import SourceList


def _offsets(radius: float) -> np.ndarray:
    r = int(np.floor(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    keep = dx**2 + dy**2 <= radius**2
    return np.column_stack([dx[keep], dy[keep]])


def pixel_marks(s: SourceList, shape: tuple[int, int], radius: float = 1.5) -> np.ndarray:
    """Flat indexes of the pixels within ``radius`` of any source of one frame, each once."""
    h, w = shape
    if len(s) == 0:
        return np.zeros(0, dtype=np.int64)
    offs = _offsets(radius)
    ix = np.rint(s.x).astype(np.int64)[:, None] + offs[None, :, 0]
    iy = np.rint(s.y).astype(np.int64)[:, None] + offs[None, :, 1]
    ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    return np.unique(iy[ok] * w + ix[ok])


def static_masks(
    sources: Sequence[SourceList],
    shape: tuple[int, int],
    *,
    radius: float = 1.5,
    min_fraction: float = 0.5,
    min_frames: int = 8,
    marks: Sequence[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Per frame, True for sources with a source within ``radius`` px in most frames.

    "Most" is ``min_fraction`` of the window's frames and at least ``min_frames`` (a C3 comet
    at its slowest, 2.5 px/h, stays within 1.5 px of a pixel for ~7 frames of 12 min; a star
    drifts off it as fast). Counting is one histogram over pixels: each frame marks the
    pixels within ``radius`` of its sources once (:func:`pixel_marks`, which ``marks`` may
    hold already), so the count is a number of frames.
    """
    h, w = shape
    need = max(min_frames, int(np.ceil(min_fraction * len(sources))))
    empty = [np.zeros(len(s), dtype=bool) for s in sources]
    if len(sources) < need:
        return empty
    if marks is None:
        marks = [pixel_marks(s, shape, radius) for s in sources]
    counts = np.bincount(np.concatenate([*marks, np.zeros(0, np.int64)]), minlength=h * w)
    out = []
    for s in sources:
        ix = np.clip(np.rint(s.x).astype(np.int64), 0, w - 1)
        iy = np.clip(np.rint(s.y).astype(np.int64), 0, h - 1)
        out.append(counts[iy * w + ix] >= need)
    return out
