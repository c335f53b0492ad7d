"""Result records of the ingestion services: counts, errors and latency figures."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from comet_pipeline.domain.text import bounded


@dataclass
class LatencyStats:
    """Arrival minus observation time, in minutes, over the files a step touched."""

    count: int = 0
    median_min: float | None = None
    max_min: float | None = None

    @classmethod
    def of(cls, latencies: list[timedelta]) -> LatencyStats:
        if not latencies:
            return cls()
        minutes = [lat.total_seconds() / 60.0 for lat in latencies]
        return cls(
            count=len(minutes),
            median_min=round(statistics.median(minutes), 1),
            max_min=round(max(minutes), 1),
        )


@dataclass
class StepResult:
    """What one service call did: outcome counts, per-detector counts, errors."""

    outcomes: Counter[str] = field(default_factory=Counter)
    per_detector: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    #: Sources (an index, a listing, the schedule) that could not be used, with the reason.
    failed_sources: list[str] = field(default_factory=list)
    #: The first transient failure of a source: the caller re-raises it after finishing.
    transient: Exception | None = None
    latency: LatencyStats = field(default_factory=LatencyStats)
    elapsed_s: float = 0.0

    def source_failed(self, source: str, reason: str) -> None:
        """A whole source was unusable (not one file): reported, and the rest goes on."""
        self.failed_sources.append(bounded(f"{source}: {reason}"))
        self.count("source_failed")

    def add_error(self, text: str) -> None:
        """Record an error line, bounded: it ends up in the run's metadata and event log."""
        self.errors.append(bounded(text))

    def count(self, outcome: str, detector: str | None = None, n: int = 1) -> None:
        self.outcomes[outcome] += n
        if detector is not None:
            self.per_detector[detector] += n

    def absorb(self, other: StepResult) -> StepResult:
        """Fold another step's counts and errors into this one (e.g. lease recovery)."""
        self.outcomes.update(other.outcomes)
        self.per_detector.update(other.per_detector)
        self.errors.extend(other.errors)
        self.failed_sources.extend(other.failed_sources)
        self.elapsed_s += other.elapsed_s
        return self
