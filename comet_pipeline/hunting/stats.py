"""What the hunts of one detector did: the figures a Dagster materialization shows."""

from __future__ import annotations

from dataclasses import dataclass, field

from comet_pipeline.hunting.drift import DriftEstimate


@dataclass
class HuntStats:
    """What the hunts of one detector did, for the asset metadata and the evaluation.

    Per-frame counts are keyed by frame name (the last window that saw the frame wins), so
    overlapping windows do not count a frame twice.
    """

    windows: int = 0
    drift_sources: dict[str, int] = field(default_factory=dict)  # DriftEstimate.source -> n
    disagreements: int = 0  # windows whose data mode disagreed with the ephemeris
    max_disagreement: float = 0.0  # px/h
    last_drift: DriftEstimate | None = None
    static_masked: dict[str, int] = field(default_factory=dict)
    bleed_masked: dict[str, int] = field(default_factory=dict)
    storm_frames: dict[str, tuple[int, int]] = field(default_factory=dict)  # (found, kept)
    known: dict[str, str] = field(default_factory=dict)  # candidate id -> label

    def add_drift(self, drift: DriftEstimate) -> None:
        self.windows += 1
        self.drift_sources[drift.source] = self.drift_sources.get(drift.source, 0) + 1
        self.disagreements += int(drift.disagreed)
        self.max_disagreement = max(self.max_disagreement, drift.disagreement)
        self.last_drift = drift

    def summary(self) -> dict[str, object]:
        """Flat numbers and short texts (what a Dagster materialization shows)."""
        d = self.last_drift
        dropped = sum(n - k for n, k in self.storm_frames.values())
        return {
            "windows": self.windows,
            "drift_px_per_h": [round(d.vx, 3), round(d.vy, 3)] if d else None,
            "drift_predicted_px_per_h": (
                [round(v, 3) for v in d.predicted] if d and d.predicted else None
            ),
            "drift_source": dict(sorted(self.drift_sources.items())),
            "drift_vote_disagreed_windows": self.disagreements,
            "drift_max_disagreement_px_per_h": round(self.max_disagreement, 3),
            "static_sources_masked": sum(self.static_masked.values()),
            "planet_bleed_sources_masked": sum(self.bleed_masked.values()),
            "storm_frames": len(self.storm_frames),
            "storm_sources_dropped": dropped,
            "known_objects": sorted(set(self.known.values())),
        }
