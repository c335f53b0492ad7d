"""A day's background-subtracted frames as one animation, frame time burned in.

Animated WebP by default (small, plays in browsers and the Dagster UI); a ``.png`` or
``.apng`` destination gives an APNG instead. Frames are put in time order whatever order
they come in. Input frames are display PNG paths, or NRGF arrays in FITS orientation (as
stored in ``bgsub.fits``; stretched and flipped here with the same functions as the PNGs).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from comet_pipeline.imaging.orientation import to_display
from comet_pipeline.imaging.png import atomic_save, resize, to_image
from comet_pipeline.imaging.stretch import display_bgsub

FrameSource = Path | str | np.ndarray


def frame_label(observed_at: datetime, detector: str = "") -> str:
    text = observed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UT")
    return f"{text}  {detector.upper()}" if detector else text


def _load(source: FrameSource, size: int, roll_deg: float) -> Image.Image:
    if isinstance(source, np.ndarray):
        return to_image(to_display(display_bgsub(source), roll_deg), size)
    with Image.open(source) as im:
        return resize(im.convert("L"), size)


def _burn(
    image: Image.Image, text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> Image.Image:
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((6, 4), text, font=font)
    draw.rectangle((left - 3, top - 2, right + 3, bottom + 2), fill=0)
    draw.text((6, 4), text, fill=255, font=font)
    return image


def write_playback(
    frames: Sequence[tuple[datetime, FrameSource]],
    dest: Path,
    *,
    fps: float = 8,
    size: int = 512,
    detector: str = "",
    roll_deg: float = 0.0,
) -> Path:
    """Write an animation of ``frames`` (observed_at, PNG path or NRGF array) to ``dest``.

    Time order is enforced; each frame shows ``YYYY-MM-DD HH:MM UT`` and the detector.
    Written atomically; identical inputs give identical bytes.
    """
    if not frames:
        raise ValueError("no frames to play back")
    font = ImageFont.load_default()
    images = [
        _burn(_load(src, size, roll_deg).copy(), frame_label(t, detector), font)
        for t, src in sorted(frames, key=lambda item: item[0])
    ]
    dest = Path(dest)
    duration = max(1, round(1000 / fps))
    common = {"save_all": True, "append_images": images[1:], "duration": duration, "loop": 0}
    if dest.suffix.lower() in (".png", ".apng"):
        return atomic_save(images[0], dest, format="PNG", compress_level=1, **common)
    return atomic_save(images[0], dest, format="WEBP", quality=80, method=0, **common)
