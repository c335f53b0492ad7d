"""Turn service results and store contents into metadata a person reads in the UI."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypeVar

from dagster import MetadataValue

if TYPE_CHECKING:
    # Dagster's own alias for what a metadata dict may hold (numbers, strings, paths,
    # MetadataValue...): not re-exported at the top level, so only the type checker sees it.
    from dagster._core.definitions.metadata import RawMetadataValue

from comet_pipeline.domain import FileRecord
from comet_pipeline.ingest.results import StepResult

MAX_TABLE_ROWS = 60

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
    if result.errors:
        shown = "\n".join(f"- {e}" for e in result.errors[:20])
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
