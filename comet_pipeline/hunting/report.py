"""What a hunter sends to the Sungrazer Project, and a cutout strip to look at.

Positions are FITS array pixels (x = column, y = row, 0-based). Level-0.5 frames are stored
north up with FITS row 0 at the bottom, so pixel (0,0) is the LOWER-LEFT corner of the image
as displayed north up, east left; the report says so in words because hunters also use
JPEG/PNG coordinates whose (0,0) is the upper left.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from comet_pipeline.hunting.model import Candidate, Detection, HuntFrame

ORIGIN_TEXT = (
    "lower-left corner as displayed north up, east left "
    "(FITS array pixels: x = column, y = row, 0-based)"
)


def report_text(
    detector: str,
    detections: Sequence[Detection],
    *,
    image_size: int = 1024,
    candidate_id: str = "",
    speed: float | None = None,
    direction: float | None = None,
    roll_deg: float = 0.0,
) -> str:
    """The Sungrazer report: camera, image size, (0,0) corner, roll, date, HH:MM x,y per frame.

    Positions are always in the stored array; on a rolled day (CROTA ~180) the report says
    so, since a hunter measuring on a north-up JPEG would see the image turned.
    """
    dets = sorted(detections, key=lambda d: d.observed_at)
    day = dets[0].observed_at.strftime("%Y-%m-%d") if dets else ""
    lines = [
        f"Candidate: {candidate_id}" if candidate_id else "Candidate",
        f"Camera: {detector.upper()}",
        f"Image size: {image_size}x{image_size}",
        f"Pixel (0,0): {ORIGIN_TEXT}",
        f"Roll: {_roll_text(roll_deg)}",
        f"Date: {day}",
        "Frames (UT HH:MM, x, y):",
    ]
    for d in dets:
        stamp = d.observed_at.strftime("%H:%M")
        if d.observed_at.strftime("%Y-%m-%d") != day:
            stamp = d.observed_at.strftime("%Y-%m-%d %H:%M")
        lines.append(f"  {stamp}  {d.x:7.1f}, {d.y:7.1f}")
    if speed is not None and direction is not None:
        lines.append(f"Motion: {speed:.1f} px/h toward {direction:.0f} deg (CCW from +x)")
    return "\n".join(lines) + "\n"


def _roll_text(roll_deg: float) -> str:
    wrapped = (roll_deg + 180.0) % 360.0 - 180.0
    if abs(wrapped) > 90.0:
        return (
            f"{roll_deg:g} deg (CROTA1): positions are in the stored array, where solar north "
            "is DOWN and east right; a north-up display shows the image turned by 180 deg"
        )
    return f"{roll_deg:g} deg (CROTA1): the stored array is displayed north up"


def _stretch(cut: np.ndarray) -> np.ndarray:
    """Robust linear stretch, -2..+6 sigma of the cutout; masked pixels mid-grey."""
    finite = np.isfinite(cut)
    out = np.full(cut.shape, 128, dtype=np.uint8)
    if not finite.any():
        return out
    v = cut[finite]
    med = float(np.median(v))
    sig = float(np.median(np.abs(v - med))) * 1.4826 or 1.0
    scaled = np.clip((cut - med + 2 * sig) / (8 * sig), 0, 1) * 255
    out[finite] = scaled[finite].astype(np.uint8)
    return out


def cutout_strip(
    frames: Sequence[HuntFrame], candidate: Candidate, size: int = 48, *, gap: int = 2
) -> np.ndarray:
    """uint8 strip of ``size`` x ``size`` cutouts centred on each detection, north up.

    FITS row 0 is the bottom of the display, so each cutout is flipped vertically (PNG row 0
    is the top). A small tick marks the detected position above and below it.
    """
    by_name = {f.name: f for f in frames}
    tiles = []
    half = size // 2
    for d in candidate.detections:
        fr = by_name.get(d.name)
        if fr is None:
            continue
        img = fr.image
        h, w = img.shape
        cx, cy = int(round(d.x)), int(round(d.y))
        cut = np.full((size, size), np.nan, dtype=np.float32)
        y0, y1 = max(cy - half, 0), min(cy - half + size, h)
        x0, x1 = max(cx - half, 0), min(cx - half + size, w)
        if y0 < y1 and x0 < x1:
            cut[y0 - (cy - half) : y1 - (cy - half), x0 - (cx - half) : x1 - (cx - half)] = img[
                y0:y1, x0:x1
            ]
        tile = _stretch(cut)[::-1, :]  # north up: FITS row 0 at the bottom
        tile = np.ascontiguousarray(tile)
        # ticks: 3 px above and below the target, 4 px away from it
        tile[: max(half - 5, 0), half] = np.maximum(tile[: max(half - 5, 0), half], 0)
        tile[max(half - 8, 0) : max(half - 4, 0), half] = 255
        tile[half + 4 : half + 8, half] = 255
        tiles.append(tile)
    if not tiles:
        return np.zeros((size, size), dtype=np.uint8)
    sep = np.full((size, gap), 60, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for i, tile in enumerate(tiles):
        if i:
            parts.append(sep)
        parts.append(tile)
    return np.hstack(parts)


def strip_png(strip: np.ndarray, path: str | Path | None = None, *, scale: int = 2) -> bytes:
    """PNG bytes of a strip (nearest-neighbour enlarged by ``scale``), also written if asked."""
    from PIL import Image

    img = Image.fromarray(strip, mode="L")
    if scale > 1:
        img = img.resize((strip.shape[1] * scale, strip.shape[0] * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
