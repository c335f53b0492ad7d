"""Readable text tables for the CLI (status, frame playback lists, demo summary)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from comet_pipeline.domain import Detector, DiskUsage, FileState, SlotState
from comet_pipeline.imaging.products import PROCESSED_PNG
from comet_pipeline.ingest.home import HomeMismatch, check_home
from comet_pipeline.ingest.retention import disk_usage
from comet_pipeline.ingest.windows import days_covering
from comet_pipeline.settings import Settings
from comet_pipeline.store import LifecycleStore, StoreError, open_store, store_location


def table(headers: list[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def disk_text(usage: list[DiskUsage]) -> str:
    """Disk usage per product (rows) and detector (columns), in MB, with totals."""
    detectors = sorted({u.detector for u in usage}, key=lambda d: d.value)
    products = sorted({u.product for u in usage})
    size = {(u.detector, u.product): u.size_bytes for u in usage}

    def mb(n: int) -> str:
        return f"{n / 1e6:,.1f}"

    rows = [
        [
            p,
            *[mb(size.get((d, p), 0)) for d in detectors],
            mb(sum(size.get((d, p), 0) for d in detectors)),
        ]
        for p in products
    ]
    rows.append(
        [
            "all",
            *[mb(sum(size.get((d, p), 0) for p in products)) for d in detectors],
            mb(sum(size.values())),
        ]
    )
    return table(["on disk (MB)", *[d.value.upper() for d in detectors], "total"], rows)


def status_text(store: LifecycleStore, home: Path | None = None) -> str:
    """``home``: also size what is on disk (raw files are sized there)."""
    summary = store.summary()
    if summary.empty:
        return (
            f"The lifecycle store at {summary.location} is empty: nothing ingested yet.\n"
            "Run `comet-pipeline demo` or start `make dev` and let the sensors work."
        )
    slots = summary.slots_by_state
    out = [f"Lifecycle store: {summary.location}", ""]
    out.append(table(["slot state", "slots"], [[s.value, slots.get(s, 0)] for s in SlotState]))
    out.append("")
    files = summary.files_by_detector_state
    detectors = sorted(files)
    rows = [
        [
            s.value,
            *[files[d].get(s, 0) for d in detectors],
            sum(files[d].get(s, 0) for d in detectors),
        ]
        for s in FileState
    ]
    out.append(table(["file state", *[d.value.upper() for d in detectors], "total"], rows))
    totals = summary.totals
    out.append("")
    out.append(
        f"{totals['frames']} frames, {totals['candidates']} comet candidates, "
        f"{totals['transitions']} recorded transitions."
    )
    if home is not None:
        usage = disk_usage(store, home)
        if usage:
            out += ["", disk_text(usage)]
    return "\n".join(out)


def open_for_reading(settings: Settings) -> LifecycleStore | None:
    """The home's store opened read-only (so a read-only home can be inspected), or None
    after one line on stderr saying why it cannot be."""
    location = store_location(settings)
    if not location.exists():
        print(
            f"comet-pipeline: no lifecycle store at {location} yet: run `comet-pipeline demo` or "
            "`comet-pipeline init`",
            file=sys.stderr,
        )
        return None
    try:
        return open_store(location, read_only=True)
    except StoreError as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return None


def print_status(settings: Settings) -> int:
    store = open_for_reading(settings)
    if store is None:
        return 2
    print(status_text(store, settings.home))
    try:
        check_home(store, settings.layout)
    except HomeMismatch as err:
        print(f"\nWarning: {err}")
        return 1
    return 0


def frames_text(store: LifecycleStore, detector: Detector, since: datetime, until: datetime) -> str:
    frames = store.frames_between(detector, since, until)
    if not frames:
        return f"No processed {detector.label} frames between {since:%Y-%m-%d %H:%M} and {until:%Y-%m-%d %H:%M} UT."
    rows = [
        [
            f"{f.observed_at:%Y-%m-%d %H:%M:%S}",
            f.name,
            f"{f.stats.get('noise_sigma', float('nan')):.3g}",
            f.path(PROCESSED_PNG) or "",
        ]
        for f in frames
    ]
    return table(["observed (UT)", "file", "noise", "background-subtracted PNG"], rows)


def print_frames(settings: Settings, detector: Detector, since: datetime, until: datetime) -> int:
    store = open_for_reading(settings)
    if store is None:
        return 2
    print(frames_text(store, detector, since, until))
    return 0


def demo_summary_text(
    store: LifecycleStore,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    elapsed_s: float,
    runs_ok: list[bool],
) -> str:
    import statistics

    days = days_covering(start, end)
    slots = store.slots_between(
        datetime(days[0].year, days[0].month, days[0].day, tzinfo=UTC),
        datetime(days[-1].year, days[-1].month, days[-1].day, tzinfo=UTC) + timedelta(days=1),
    )
    records = [r for d in settings.detectors for r in store.files_between(d, start, end)]
    frames = [f for d in settings.detectors for f in store.frames_between(d, start, end)]
    out = [
        "",
        f"Dagster runs: {sum(runs_ok)} of {len(runs_ok)} succeeded in {elapsed_s:.1f} s.",
        "",
        table(
            ["slot (DSN pass)", "antenna", "source", "state"],
            [
                [f"{s.bot:%Y-%m-%d %H:%M} – {s.eot:%H:%M}", s.antenna, s.source, s.state.value]
                for s in slots
            ],
        ),
        "",
    ]
    rows = []
    for state in FileState:
        counts = [
            sum(1 for r in records if r.state is state and r.detector is d)
            for d in settings.detectors
        ]
        if any(counts):
            rows.append([state.value, *counts, sum(counts)])
    out.append(
        table(
            ["file state", *[d.label for d in settings.detectors], "total"],
            rows or [["(none)"] + [0] * (len(settings.detectors) + 1)],
        )
    )
    latencies = [
        (r.arrived_at - r.observed_at).total_seconds() / 60 for r in records if r.arrived_at
    ]
    out.append("")
    if latencies:
        out.append(
            f"Arrival latency (arrival − observation): median {statistics.median(latencies):.0f} min, "
            f"max {max(latencies):.0f} min over {len(latencies)} files."
        )
    out.append(f"Frames written: {len(frames)} under {settings.layout.frames_dir}")
    if frames:
        newest = max(frames, key=lambda f: f.observed_at)
        out.append(
            f"Newest frame: {newest.detector.label} {newest.observed_at:%Y-%m-%d %H:%M} UT → {newest.path(PROCESSED_PNG)}"
        )
    found = [
        c for d in settings.detectors for c in store.candidates(d.value, since=start, until=end)
    ]
    candidates = sorted(
        (c for c in found if not c.known), key=lambda c: c.score or 0.0, reverse=True
    )
    known = sorted({c.known for c in found if c.known})
    if known:
        out.append(f"Known objects seen (not candidates): {', '.join(known)}")
    if candidates:
        out.append(f"Comet candidates: {len(candidates)} (best first)")
        for c in candidates[:3]:
            out.append(
                f"  {c.id}  {c.detector.upper()}  {c.n_frames} frames  "
                f"score {c.score or 0.0:.2f}  SNR {c.snr or 0.0:.1f}  cutouts: {c.cutout_path}"
            )
    else:
        out.append("Comet candidates: none in this window.")
    not_yet = sum(1 for r in records if r.state is FileState.DISCOVERED)
    if not_yet:
        out.append(
            f"{not_yet} files are discovered but not downloaded yet (the next run picks them up)."
        )
    out.append(
        "Next: `comet-pipeline frames --detector c3` for the playback list, `make dev` for the UI."
    )
    return "\n".join(out)
