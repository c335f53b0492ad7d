"""What a product is rendered from: one frame's science arrays and their header cards.

The pipeline fills it stage by stage (calibrated, then background-subtracted, then the
running difference) while the products of earlier stages are already being written, so
each field is set before any renderer of its stage runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from comet_pipeline.imaging import background as bg
from comet_pipeline.imaging.geometry import Geometry
from comet_pipeline.imaging.orientation import to_display
from comet_pipeline.imaging.png import FULL_SIZE, to_image
from comet_pipeline.imaging.stretch import display_bgsub, display_difference


@dataclass
class ProductInputs:
    """One frame's science for the renderers; display images are made once and shared."""

    geometry: Geometry
    roll_deg: float
    calibrated: np.ndarray | None = None  # DN/s, masked pixels NaN
    calibrated_cards: list[str] = field(default_factory=list)
    subtracted: np.ndarray | None = None  # background-subtracted, in noise sigma
    subtracted_cards: list[str] = field(default_factory=list)
    difference: np.ndarray | None = None  # running difference, DN/s
    difference_cards: list[str] = field(default_factory=list)
    _images: dict[tuple[str, int], Image.Image] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def subtracted_image(self, size: int) -> Image.Image:
        """The background-subtracted frame as a display image (north up) of ``size`` px."""
        return self._image("subtracted", size, self._subtracted_display)

    def difference_image(self, size: int) -> Image.Image:
        """The running difference, sigma-normalised per radius, as a display image."""
        return self._image("difference", size, self._difference_display)

    def _subtracted_display(self) -> np.ndarray:
        return to_display(display_bgsub(require(self.subtracted, "subtracted")), self.roll_deg)

    def _difference_display(self) -> np.ndarray:
        diff = bg.nrgf(require(self.difference, "difference"), self.geometry)
        return to_display(display_difference(diff), self.roll_deg)

    def _image(self, kind: str, size: int, display: Callable[[], np.ndarray]) -> Image.Image:
        # Smaller sizes are box-reduced from the next larger one, as a hunter's eye expects
        # (and cheaper than resampling from the array each time). One lock: two writer
        # threads asking for the same image wait for one computation.
        with self._lock:
            return self._image_locked(kind, size, display)

    def _image_locked(self, kind: str, size: int, display: Callable[[], np.ndarray]) -> Image.Image:
        key = (kind, size)
        image = self._images.get(key)
        if image is None:
            if size >= FULL_SIZE:
                image = to_image(display(), size)
            else:
                image = self._image_locked(kind, size * 2, display).reduce(2)
            self._images[key] = image
        return image


def require(array: np.ndarray | None, what: str) -> np.ndarray:
    if array is None:
        raise ValueError(f"the {what} frame is not ready: a renderer ran before its stage")
    return array
