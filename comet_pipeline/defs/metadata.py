"""Turn service results and store contents into metadata a person reads in the UI."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path

from dagster import MetadataValue

from comet_pipeline.domain import FileRecord
from comet_pipeline.ingest.results import StepResult

MAX_TABLE_ROWS = 60


def step_metadata(result: StepResult) -> dict[str, object]:
    meta: dict[str, object] = {f"outcome/{k}": int(v) for k, v in sorted(result.outcomes.items())}
    meta.update({f"files/{k}": int(v) for k, v in sorted(result.per_detector.items())})
    meta["elapsed_s"] = MetadataValue.float(round(result.elapsed_s, 3))
    if result.latency.count:
        meta["latency/median_min"] = MetadataValue.float(result.latency.median_min)
        meta["latency/max_min"] = MetadataValue.float(result.latency.max_min)
    if result.errors:
        shown = "\n".join(f"- {e}" for e in result.errors[:20])
        more = f"\n- … {len(result.errors) - 20} more" if len(result.errors) > 20 else ""
        meta["errors"] = MetadataValue.md(shown + more)
    return meta


def state_counts_metadata(counts: Mapping[object, int]) -> dict[str, object]:
    return {
        f"state/{getattr(k, 'value', k)}": int(v) for k, v in sorted(counts.items(), key=str) if v
    }


def files_table(records: Iterable[FileRecord]) -> MetadataValue:
    rows = list(records)
    lines = [
        "| file | det | observed (UT) | arrived (UT) | latency | state | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows[:MAX_TABLE_ROWS]:
        arrived = f"{r.arrived_at:%H:%M}" if r.arrived_at else "–"
        latency = (
            f"{(r.arrived_at - r.observed_at).total_seconds() / 60:.0f} min"
            if r.arrived_at
            else "–"
        )
        note = (r.skip_reason or r.last_error or "").replace("|", "/")[:60]
        lines.append(
            f"| {r.name} | {r.detector.label} | {r.observed_at:%Y-%m-%d %H:%M:%S} | {arrived} "
            f"| {latency} | {r.state.value} | {note} |"
        )
    if len(rows) > MAX_TABLE_ROWS:
        lines.append(f"| … {len(rows) - MAX_TABLE_ROWS} more | | | | | | |")
    return MetadataValue.md("\n".join(lines))


def inline_image(path: Path | str, caption: str) -> MetadataValue:
    """A small PNG embedded in markdown, so the UI shows it without a file server."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return MetadataValue.md(f"**{caption}**\n\n![{caption}](data:image/png;base64,{data})")
