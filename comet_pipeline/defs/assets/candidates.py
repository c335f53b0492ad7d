"""Comet candidates: moving point sources found in a window of recent frames."""

from datetime import timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetsDefinition,
    HourlyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
)

from comet_pipeline.defs.metadata import Metadata, inline_image, md_table
from comet_pipeline.defs.partitions import HOURLY_BACKFILL
from comet_pipeline.defs.resources import ClockResource, FileTreeResource, StoreResource
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG
from comet_pipeline.hunting.storm import rule_text
from comet_pipeline.ingest.hunt import HUNT_WINDOW, hunt_window
from comet_pipeline.settings import Settings

#: More candidates than this per detector and day is spam, not a comet season.
SPAM_PER_DETECTOR_DAY = 3
#: Candidates shown with their cutout strip in the materialization's metadata.
TOP_SHOWN = 3


def build_candidates_asset(
    settings: Settings, hourly: HourlyPartitionsDefinition
) -> AssetsDefinition:
    window_hours = int(HUNT_WINDOW / timedelta(hours=1))

    @asset(
        partitions_def=hourly,
        group_name="hunting",
        kinds={"sqlite", "png"},
        backfill_policy=HOURLY_BACKFILL,
        pool="comet_hunting",
        deps=[
            AssetDep(
                "processed_frames",
                partition_mapping=TimeWindowPartitionMapping(start_offset=-(window_hours - 1)),
            )
        ],
        check_specs=[AssetCheckSpec("candidate_spam", asset="comet_candidates")],
        description=(
            f"Comet candidates linked over the {window_hours} h of frames ending with this hour: "
            "scored, ranked, with Sungrazer reports and cutout strips."
        ),
    )
    def comet_candidates(
        context: AssetExecutionContext,
        store: StoreResource,
        files: FileTreeResource,
        clock: ClockResource,
    ) -> MaterializeResult:
        window = context.partition_time_window
        end = window.end
        result = hunt_window(
            store.get(),
            files.layout.products_dir,
            window.start,
            end,
            settings.detectors,
            now=clock.now(),
        )
        metadata: Metadata = {
            "elapsed_s": round(result.elapsed_s, 2),
            "candidates_updated": len(result.candidates),
            "new_candidates_updated": len(result.new_candidates),
            "merged_away": len(result.merged_away),
            **{f"frames/{d.value}": n for d, n in result.frames.items()},
            # star drift (ephemeris / refined / disagreement), masked static and bleed
            # sources, storm frames and how they were capped, known objects
            **{
                f"hunter/{d.value}": MetadataValue.json(
                    {**s.summary(), "storm_rule": rule_text(DEFAULT_CONFIG)}
                )
                for d, s in result.stats.items()
            },
        }
        if result.candidates:
            metadata["candidates"] = md_table(
                ["rank", "id", "det", "frames", "score", "SNR", "px/h", "first seen (UT)", "known"],
                [
                    (i, c.id, c.detector.upper(), c.n_frames, f"{c.score:.2f}", f"{c.snr:.1f}")
                    + (f"{c.speed:.1f}", f"{c.first_seen:%Y-%m-%d %H:%M}", c.known or "")
                    for i, c in enumerate(result.candidates, 1)
                ],
            )
        for i, candidate in enumerate(result.new_candidates[:TOP_SHOWN], 1):
            metadata[f"top{i}/cutouts"] = inline_image(
                result.cutouts[candidate.id],
                f"#{i} {candidate.id} ({candidate.detector.upper()}, score {candidate.score:.2f})",
            )
            metadata[f"top{i}/report"] = MetadataValue.md(f"```\n{candidate.report}\n```")

        day_start = window.start.replace(hour=0, minute=0, second=0, microsecond=0)
        per_detector = {  # known objects (planets) are shown, never spam
            d.value: sum(
                1
                for row in store.get().candidates(detector=d.value, since=day_start, until=end)
                if not row.known
            )
            for d in settings.detectors
        }
        spam = {d: n for d, n in per_detector.items() if n > SPAM_PER_DETECTOR_DAY}
        return MaterializeResult(
            metadata=metadata,
            check_results=[
                AssetCheckResult(
                    check_name="candidate_spam",
                    passed=not spam,
                    severity=AssetCheckSeverity.WARN,
                    metadata={
                        "limit_per_detector_day": SPAM_PER_DETECTOR_DAY,
                        **{f"today/{d}": n for d, n in per_detector.items()},
                    },
                )
            ],
        )

    return comet_candidates
