"""Records the hunting layer passes around: frames in, detections and candidates out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from comet_pipeline.imaging.ephemeris import FrameGeometry


@dataclass(frozen=True)
class HuntFrame:
    """One background-subtracted frame of one detector.

    ``image`` is float32 with NaN on masked pixels (occulter, pylon, missing blocks), already
    background-subtracted and flattened (NRGF), so that noise is roughly uniform. ``sun_x``,
    ``sun_y`` are the Sun centre in FITS array pixels (0-based); None means the image centre.
    ``plate_scale`` (arcsec per pixel of this array) and ``roll_deg`` (CROTA1) place the sky
    on it: with them the star drift and the planets are computed, not guessed.
    """

    name: str
    observed_at: datetime
    image: np.ndarray
    sun_x: float | None = None
    sun_y: float | None = None
    plate_scale: float | None = None
    roll_deg: float = 0.0

    def geometry(self) -> FrameGeometry | None:
        """The frame's sky geometry, or None when its plate scale is unknown."""
        if self.plate_scale is None or not self.plate_scale > 0:
            return None
        sx, sy = self.sun()
        return FrameGeometry(self.observed_at, sx, sy, float(self.plate_scale), self.roll_deg)

    def sun(self) -> tuple[float, float]:
        h, w = self.image.shape
        sx = (w - 1) / 2.0 if self.sun_x is None else float(self.sun_x)
        sy = (h - 1) / 2.0 if self.sun_y is None else float(self.sun_y)
        return sx, sy


@dataclass(frozen=True)
class Detection:
    """A candidate seen in one frame, at FITS array pixel x = column, y = row (0-based)."""

    name: str
    observed_at: datetime
    x: float
    y: float
    flux: float
    snr: float


@dataclass(frozen=True)
class Candidate:
    """A moving point source linked over several frames, scored and ready to report.

    ``speed`` is in px/hour, ``direction`` the direction of motion in degrees counter-clockwise
    from +x (FITS array frame, so 90 = +y = north-up on the display), ``inward`` the cosine
    between the motion and the direction to the Sun centre (1 = straight at the Sun).
    """

    id: str
    detector: str
    detections: tuple[Detection, ...]
    score: float
    snr: float
    speed: float
    direction: float
    vx: float
    vy: float
    inward: float
    rms: float
    report: str = ""
    image_size: int = 1024
    sun_x: float = 511.5
    sun_y: float = 511.5
    known: str | None = None  # "known: <planet>" when the track is a planet, not a comet
    roll_deg: float = 0.0  # CROTA1 of the frames: positions are in the stored (rolled) array
    extras: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def is_new(self) -> bool:
        """A candidate a hunter should look at (not a known object)."""
        return self.known is None

    @property
    def first_seen(self) -> datetime:
        return self.detections[0].observed_at

    @property
    def last_seen(self) -> datetime:
        return self.detections[-1].observed_at

    @property
    def n_frames(self) -> int:
        return len(self.detections)
