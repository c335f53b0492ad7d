"""Turn service results and store contents into metadata a person reads in the UI."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from dagster import MetadataValue

if TYPE_CHECKING:
    # Dagster's own alias for what a metadata dict may hold (numbers, strings, paths,
    # MetadataValue...): not re-exported at the top level, so only the type checker sees it.
    from dagster._core.definitions.metadata import RawMetadataValue

from comet_pipeline.domain import (
    CandidateStatus,
    DiskUsage,
    FileRecord,
    FileState,
    Frame,
    Slot,
    SlotState,
)
from comet_pipeline.domain.text import bounded
from comet_pipeline.hunting.hunter import DEFAULT_CONFIG
from comet_pipeline.hunting.storm import rule_text
from comet_pipeline.imaging.products import PROCESSED_PNG, THUMBNAIL
from comet_pipeline.ingest.hunt import HuntResult
from comet_pipeline.ingest.playback import PlaybackResult
from comet_pipeline.ingest.results import LatencyStats, StepResult
from comet_pipeline.ingest.retention import RetentionResult

MAX_TABLE_ROWS = 60
#: Candidates shown with their cutout strip in the materialization's metadata.
TOP_SHOWN = 3

#: A materialization's or check's metadata, as the assets build it.
Metadata: TypeAlias = "dict[str, RawMetadataValue]"

_State = TypeVar("_State", bound=Enum)


def step_metadata(result: StepResult) -> Metadata:
    meta: Metadata = {f"outcome/{k}": int(v) for k, v in sorted(result.outcomes.items())}
    meta.update({f"files/{k}": int(v) for k, v in sorted(result.per_detector.items())})
    meta["elapsed_s"] = MetadataValue.float(round(result.elapsed_s, 3))
    latency = result.latency
    if latency.count:
        # LatencyStats.of sets both figures whenever count > 0.
        if latency.median_min is not None:
            meta["latency/median_min"] = MetadataValue.float(latency.median_min)
        if latency.max_min is not None:
            meta["latency/max_min"] = MetadataValue.float(latency.max_min)
    if result.failed_sources:
        meta["failed_sources"] = MetadataValue.md(
            "\n".join(f"- {bounded(s)}" for s in result.failed_sources[:20])
        )
    if result.errors:
        shown = "\n".join(f"- {bounded(e)}" for e in result.errors[:20])
        more = f"\n- … {len(result.errors) - 20} more" if len(result.errors) > 20 else ""
        meta["errors"] = MetadataValue.md(shown + more)
    return meta


def state_counts_metadata(counts: Mapping[_State, int]) -> Metadata:
    return {f"state/{k.value}": int(v) for k, v in sorted(counts.items(), key=str) if v}


def md_table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], *, limit: int = MAX_TABLE_ROWS
) -> MetadataValue:
    """A markdown table (cells with "|" made safe), cut at ``limit`` rows with a count."""
    rows = list(rows)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows[:limit]:
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |")
    if len(rows) > limit:
        lines.append(f"| … {len(rows) - limit} more |" + " |" * (len(headers) - 1))
    return MetadataValue.md("\n".join(lines))


def files_table(records: Iterable[FileRecord]) -> MetadataValue:
    def row(r: FileRecord) -> list[object]:
        arrived = f"{r.arrived_at:%H:%M}" if r.arrived_at else "–"
        latency = (
            f"{(r.arrived_at - r.observed_at).total_seconds() / 60:.0f} min"
            if r.arrived_at
            else "–"
        )
        note = (r.skip_reason or r.last_error or "")[:60]
        observed = f"{r.observed_at:%Y-%m-%d %H:%M:%S}"
        return [r.name, r.detector.label, observed, arrived, latency, r.state.value, note]

    headers = ["file", "det", "observed (UT)", "arrived (UT)", "latency", "state", "note"]
    return md_table(headers, (row(r) for r in records))


def inline_image(path: Path | str, caption: str) -> MetadataValue:
    """A small PNG embedded in markdown, so the UI shows it without a file server."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return MetadataValue.md(f"**{caption}**\n\n![{caption}](data:image/png;base64,{data})")


# -- per asset ---------------------------------------------------------------------------


def window_metadata(
    result: StepResult, records: Sequence[FileRecord], start: datetime, end: datetime
) -> Metadata:
    """An hourly ingest step: its outcomes, the window's files by state, their latency."""
    records = sorted(records, key=lambda r: (r.observed_at, r.name))
    counts = {s: sum(1 for r in records if r.state is s) for s in FileState}
    result.latency = LatencyStats.of(
        [r.arrived_at - r.observed_at for r in records if r.arrived_at is not None]
    )
    return {
        **step_metadata(result),
        **state_counts_metadata(counts),
        "files_in_window": len(records),
        "files": files_table(records),
        "window": f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UT",
    }


def hour_metadata(records: Sequence[FileRecord], hour: datetime) -> Metadata:
    """One hour's own file counts, for a run that covered a range of hours."""
    counts = {s: sum(1 for r in records if r.state is s) for s in FileState}
    return {
        **state_counts_metadata(counts),
        "files_in_hour": len(records),
        "hour": f"{hour:%Y-%m-%d %H:%M} UT",
    }


def slots_metadata(result: StepResult, slots: Sequence[Slot]) -> Metadata:
    """The day's passes by state, and each pass (times, antenna, state, where it came from)."""
    by_state = {s: sum(1 for x in slots if x.state is s) for s in SlotState}
    passes = md_table(
        ["begin (UT)", "end (UT)", "antenna", "state", "source"],
        [(f"{s.bot:%H:%M}", f"{s.eot:%H:%M}", s.antenna, s.state.value, s.source) for s in slots],
    )
    return {
        **step_metadata(result),
        **state_counts_metadata(by_state),
        "slots": len(slots),
        "passes": passes,
    }


def frames_metadata(frames: Sequence[Frame]) -> Metadata:
    """How many frames the window holds, and the newest one as a picture."""
    metadata: Metadata = {"frames": len(frames)}
    newest = max(frames, key=lambda f: f.observed_at, default=None)
    thumbnail = None if newest is None else newest.path(THUMBNAIL)
    if newest is not None and thumbnail is not None:
        metadata["newest_frame"] = inline_image(
            thumbnail,
            f"{newest.detector.label} {newest.observed_at:%Y-%m-%d %H:%M} UT ({newest.name})",
        )
        metadata["newest_frame_path"] = newest.path(PROCESSED_PNG) or thumbnail
    return metadata


def candidates_metadata(result: HuntResult) -> Metadata:
    """What the hunter did per detector, the ranked candidates, the top ones' cutouts."""
    metadata: Metadata = {
        "elapsed_s": round(result.elapsed_s, 2),
        "candidates_updated": len(result.candidates),
        "new_candidates_updated": len(result.new_candidates),
        "merged_away": len(result.merged_away),
        # hunters' verdicts on the candidates this hunt touched (a verdict survives re-finds)
        **{
            f"verdicts/{status.value}": sum(
                1 for c in result.candidates if result.statuses.get(c.id) is status
            )
            for status in CandidateStatus
        },
        "verdicts_carried_by_merges": len(result.carried),
        **{f"frames/{d.value}": n for d, n in result.frames.items()},
        # per-frame source tables (ECSV under products/sources) saved for frames without one
        "source_tables_written": result.source_tables_written,
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
            [
                "rank",
                "id",
                "det",
                "frames",
                "score",
                "SNR",
                "px/h",
                "first seen (UT)",
                "known",
                "status",
            ],
            [
                (i, c.id, c.detector.upper(), c.n_frames, f"{c.score:.2f}", f"{c.snr:.1f}")
                + (f"{c.speed:.1f}", f"{c.first_seen:%Y-%m-%d %H:%M}", c.known or "")
                + (result.statuses.get(c.id, CandidateStatus.NEW).value,)
                for i, c in enumerate(result.candidates, 1)
            ],
        )
    for i, candidate in enumerate(result.new_candidates[:TOP_SHOWN], 1):
        metadata[f"top{i}/cutouts"] = inline_image(
            result.cutouts[candidate.id],
            f"#{i} {candidate.id} ({candidate.detector.upper()}, score {candidate.score:.2f})",
        )
        metadata[f"top{i}/report"] = MetadataValue.md(f"```\n{candidate.report}\n```")
    return metadata


def playback_metadata(result: PlaybackResult) -> Metadata:
    metadata: Metadata = {"elapsed_s": round(result.elapsed_s, 2)}
    for detector, frames in result.frames.items():
        metadata[f"{detector.value}/frames"] = len(frames)
        if detector in result.animations:
            metadata[f"{detector.value}/animation"] = MetadataValue.path(
                str(result.animations[detector])
            )
        metadata[f"{detector.value}/playlist"] = md_table(
            ["#", "observed (UT)", "file"],
            [(i, f"{f.observed_at:%H:%M:%S}", f.name) for i, f in enumerate(frames, 1)],
            limit=len(frames),
        )
    return metadata


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f}"


def retention_metadata(result: RetentionResult, usage: Sequence[DiskUsage]) -> Metadata:
    """What went (per detector and kind), the cut-off times, and what is left on disk."""
    metadata: Metadata = {
        "elapsed_s": round(result.elapsed_s, 2),
        "removed_files": result.removed_files,
        "removed_mb": round(result.removed_bytes / 1e6, 1),
        "already_missing": result.missing,
        "disk_mb": round(sum(u.size_bytes for u in usage) / 1e6, 1),
        **{f"observed_before/{k}": v.isoformat() for k, v in sorted(result.cutoffs.items())},
    }
    if result.files:
        metadata["removed"] = md_table(
            ["detector", "kind", "files", "MB"],
            [
                (d.value.upper(), kind, n, _mb(result.size_bytes[d, kind]))
                for (d, kind), n in sorted(result.files.items())
            ],
        )
    if result.derived_files:
        metadata["removed_derived_products"] = md_table(
            ["kind", "files", "MB"],
            [
                (kind, n, _mb(result.derived_bytes[kind]))
                for kind, n in sorted(result.derived_files.items())
            ],
        )
    metadata["disk_usage"] = md_table(
        ["detector", "product", "files", "MB"],
        [(u.detector.value.upper(), u.product, u.files, _mb(u.size_bytes)) for u in usage],
    )
    return metadata
