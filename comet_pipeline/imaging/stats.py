"""Per-frame quality figures stored in the frames table."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from comet_pipeline.imaging.calibrate import SATURATION_DN


@dataclass(frozen=True)
class FrameStats:
    median: float  # DN/s, of the unmasked calibrated pixels
    noise_sigma: float  # DN/s, robust pixel-to-pixel noise (see frame_stats)
    masked_fraction: float  # of all pixels (occulter, pylon, field stop, missing, dead)
    saturated_fraction: float  # of all pixels
    missing_blocks: int  # 32x32 telemetry drop-out blocks

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 x median absolute deviation of the finite values (NaN if none)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(v - np.median(v))))


def frame_stats(
    calibrated: np.ndarray,
    mask: np.ndarray,
    raw: np.ndarray,
    *,
    missing_blocks: int = 0,
    saturation_dn: float = SATURATION_DN,
) -> FrameStats:
    """Figures of one calibrated frame (masked pixels NaN or flagged in ``mask``).

    Noise: the MAD of the difference between horizontally adjacent pixels, divided by √2.
    Pixel noise is independent between neighbours while the corona, streamers and the
    background are smooth on that scale, so this measures noise whatever the background
    model (and needs none). Computed on every eighth row (~130k pairs), which is plenty.
    """
    good = ~mask & np.isfinite(calibrated)
    n = calibrated.size
    sub = calibrated[::8]
    d = sub[:, 1:] - sub[:, :-1]
    noise = robust_sigma(d) / np.sqrt(2.0)
    values = calibrated[::4, ::4][good[::4, ::4]]
    median = float(np.median(values)) if values.size else float("nan")
    return FrameStats(
        median=median,
        noise_sigma=float(noise),
        masked_fraction=float(1.0 - np.count_nonzero(good) / n),
        saturated_fraction=float(np.count_nonzero(raw >= saturation_dn) / n),
        missing_blocks=int(missing_blocks),
    )
