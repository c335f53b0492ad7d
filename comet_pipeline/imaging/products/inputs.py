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
from comet_pipeline.imaging.stretch import display_bgsub, display_calibrated, display_difference


@dataclass
class ProductInputs:
    """One frame's science for the renderers; display images are made once and shared."""

    geometry: Geometry
    roll_deg: float
    calibrated: np.ndarray | None = None  # DN/s, masked pixels NaN
    calibrated_cards: list[str] = field(default_factory=list)
    # what ``calibrated`` was computed from: (raw - dn_offset) * dn_scale, NaN where mask;
    # the calibrated FITS keeps the raw integers (lossless)
    raw: np.ndarray | None = None
    mask: np.ndarray | None = None
    dn_offset: float = 0.0
    dn_scale: float = 1.0
    subtracted: np.ndarray | None = None  # background-subtracted, in noise sigma
    subtracted_cards: list[str] = field(default_factory=list)
    difference: np.ndarray | None = None  # running difference, DN/s
    difference_cards: list[str] = field(default_factory=list)
    _displays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _images: dict[tuple[str, int], Image.Image] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set_subtracted(self, subtracted: np.ndarray, cards: list[str]) -> None:
        """Enter the SUBTRACTED stage. Its display stretch is computed here, in the caller's
        thread, while the writer threads are still busy with the stage before."""
        self.subtracted, self.subtracted_cards = subtracted, cards
        self._displays["subtracted"] = to_display(display_bgsub(subtracted), self.roll_deg)

    def set_difference(self, difference: np.ndarray, cards: list[str]) -> None:
        """Enter the DIFFERENCE stage (display stretch computed here, as above)."""
        self.difference, self.difference_cards = difference, cards
        shown = display_difference(bg.nrgf(difference, self.geometry))
        self._displays["difference"] = to_display(shown, self.roll_deg)

    def calibrated_image(self, size: int) -> Image.Image:
        """The calibrated frame, log-stretched, as a display image (north up)."""
        return self._image("calibrated", size, self._calibrated_display)

    def _calibrated_display(self) -> np.ndarray:
        # made on first use, on a writer thread: the calibrated stage has one display
        # product, so nothing is gained by computing it ahead in the caller's thread
        shown = display_calibrated(require(self.calibrated, "calibrated"))
        return to_display(shown, self.roll_deg)

    def subtracted_image(self, size: int) -> Image.Image:
        """The background-subtracted frame as a display image (north up) of ``size`` px."""
        return self._image("subtracted", size, lambda: self._display("subtracted"))

    def difference_image(self, size: int) -> Image.Image:
        """The running difference, sigma-normalised per radius, as a display image."""
        return self._image("difference", size, lambda: self._display("difference"))

    def _display(self, kind: str) -> np.ndarray:
        display = self._displays.get(kind)
        if display is None:
            raise ValueError(f"the {kind} frame is not ready: a renderer ran before its stage")
        return display

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
