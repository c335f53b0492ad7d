"""Asset checks: the standalone one, and the results the assets report with their data."""

from collections.abc import Mapping, Sequence

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, asset_check

from comet_pipeline.defs.resources import ClockResource, StoreResource
from comet_pipeline.domain import Frame, Slot, SlotState
from comet_pipeline.ingest.results import StepResult

#: More candidates than this per detector and day is spam, not a comet season.
SPAM_PER_DETECTOR_DAY = 3

SLOT_COVERAGE = AssetCheckSpec(
    "slot_coverage",
    asset="downlink_slots",
    description="Warns when a downlink pass of the day ended with nothing arriving (MISSED).",
)
SCHEDULE_READ = AssetCheckSpec(
    "schedule_read",
    asset="downlink_slots",
    description="Fails when the DSN schedule page could not be fetched or parsed.",
)
INDEXES_READ = AssetCheckSpec(
    "indexes_read",
    asset="discovered_files",
    description="Fails when a detector's img_hdr.txt or listing could not be used; the others "
    "were still registered.",
)
FRAME_QUALITY = AssetCheckSpec(
    "frame_quality",
    asset="processed_frames",
    description="Fails when a frame of the hour is all masked or its noise is zero or NaN.",
)
CANDIDATE_SPAM = AssetCheckSpec(
    "candidate_spam",
    asset="comet_candidates",
    description=f"Warns when a detector has more than {SPAM_PER_DETECTOR_DAY} new candidates "
    "in a day: noise, not a comet season.",
)


@asset_check(
    asset="downloaded_files",
    description="No file sits in DOWNLOADING or PROCESSING with an expired lease.",
)
def no_stuck_files(store: StoreResource, clock: ClockResource) -> AssetCheckResult:
    stuck = store.get().stuck_files(clock.now())
    return AssetCheckResult(
        passed=not stuck,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "stuck": len(stuck),
            "files": ", ".join(f"{r.name} ({r.state.value})" for r in stuck[:20]) or "none",
        },
    )


def slot_coverage(slots: Sequence[Slot]) -> AssetCheckResult:
    """Warn when a pass of the day was MISSED; report the share of closed passes DONE."""
    done = sum(1 for s in slots if s.state is SlotState.DONE)
    missed = sum(1 for s in slots if s.state is SlotState.MISSED)
    closed = done + missed
    return AssetCheckResult(
        check_name=SLOT_COVERAGE.name,
        passed=missed == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "done": done,
            "missed": missed,
            "coverage": round(done / closed, 3) if closed else -1.0,
        },
    )


def frame_has_signal(stats: Mapping[str, float]) -> bool:
    masked = stats.get("masked_fraction", 1.0)
    sigma = stats.get("noise_sigma")
    return masked < 0.999 and sigma is not None and sigma == sigma and sigma > 0


def frame_quality(frames: Sequence[Frame]) -> AssetCheckResult:
    """Fail when a frame of the window is all masked, or its noise is zero or NaN."""
    bad = [f.name for f in frames if not frame_has_signal(f.stats)]
    return AssetCheckResult(
        check_name=FRAME_QUALITY.name,
        passed=not bad,
        metadata={"frames": len(frames), "empty_or_nan": len(bad), "bad": ", ".join(bad[:20])},
    )


def candidate_spam(new_today: Mapping[str, int]) -> AssetCheckResult:
    """Warn when a detector has more new candidates today than a comet season gives."""
    spam = {d: n for d, n in new_today.items() if n > SPAM_PER_DETECTOR_DAY}
    return AssetCheckResult(
        check_name=CANDIDATE_SPAM.name,
        passed=not spam,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "limit_per_detector_day": SPAM_PER_DETECTOR_DAY,
            **{f"today/{d}": n for d, n in new_today.items()},
        },
    )


def sources_read(spec: AssetCheckSpec, result: StepResult) -> AssetCheckResult:
    """Fail ``spec`` with the reasons when a whole source (index, listing, schedule) failed."""
    return AssetCheckResult(
        check_name=spec.name,
        passed=not result.failed_sources,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "failed_sources": len(result.failed_sources),
            "reasons": "\n".join(result.failed_sources[:20]) or "none",
        },
    )
