"""Keep the disk bounded: remove raw files, FITS products and PNGs past their days.

The hourly and daily products made from frames (composites, mosaics, the hunt's per-frame
source tables: no store rows, named by their observation day) follow the same days, counted
from their day and from when they were written (the file's time), whichever is later;
re-running their asset makes them again. A source table (ECSV) is a measurement of its
frame's science pixels and goes with the FITS (``fits_days``).

The store offers what may go (never a frame a candidate still needs); each file is removed
from disk, then marked pruned in the store, batch by batch, so a crash in between leaves at
worst a row saying a file is there that is gone: the next run removes nothing, marks it.
Re-processing (raw fetched again from the archive) makes pruned products anew.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from comet_pipeline.domain import Detector, DiskUsage
from comet_pipeline.imaging.pipeline import sample_path_for
from comet_pipeline.imaging.products import BY_NAME, CALIBRATED
from comet_pipeline.imaging.products.registry import FITS
from comet_pipeline.ingest.source_tables import SOURCES_DIR
from comet_pipeline.settings import HomeLayout, Retention
from comet_pipeline.store import LifecycleStore

#: Rows asked of the store per round: bounded memory however long retention was off.
BATCH = 2_000
RAW = "raw"
#: Folders under COMET_HOME/products of products made from frames, kept by their day.
DERIVED = ("composites", "mosaics", SOURCES_DIR)
#: A table kept by the days of the FITS it measures.
TABLE = "table"
_DAY_PREFIX = re.compile(r"^(\d{4})(\d{2})(\d{2})_")


@dataclass
class RetentionResult:
    """What one application removed: files and bytes per (detector, kind)."""

    files: Counter[tuple[Detector, str]] = field(default_factory=Counter)
    size_bytes: Counter[tuple[Detector, str]] = field(default_factory=Counter)
    cutoffs: dict[str, datetime] = field(
        default_factory=dict
    )  # kind -> observed and processed before
    missing: int = 0  # already gone from disk: marked, nothing removed
    #: composites, mosaics and source tables removed: "<folder>/<fits|png|table>" -> files, bytes
    derived_files: Counter[str] = field(default_factory=Counter)
    derived_bytes: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def removed_files(self) -> int:
        return sum(self.files.values()) + sum(self.derived_files.values())

    @property
    def removed_bytes(self) -> int:
        return sum(self.size_bytes.values()) + sum(self.derived_bytes.values())


def product_kinds() -> dict[str, list[str]]:
    """Registry products by retention kind: FITS (science arrays) and PNG (what people see)."""
    kinds: dict[str, list[str]] = {"fits": [], "png": []}
    for spec in BY_NAME.values():
        kinds["fits" if spec.content_type == FITS else "png"].append(spec.name)
    return kinds


def _remove(path: Path) -> int | None:
    """Bytes removed, or None when the file was not there."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return None
    return size


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def apply_retention(
    store: LifecycleStore, home: Path, policy: Retention, *, now: datetime
) -> RetentionResult:
    """Remove what ``policy`` no longer keeps, as of ``now``."""
    started = time.perf_counter()
    result = RetentionResult()
    kinds = product_kinds()
    for kind, days in (("fits", policy.fits_days), ("png", policy.png_days)):
        before = _cutoff(now, days)
        if before is None:
            continue
        result.cutoffs[kind] = before
        while batch := store.prunable_products(kinds[kind], before, limit=BATCH):
            for item in batch:
                removed = _remove(home / item.path)
                if item.product == CALIBRATED:  # its background sample goes with it
                    _remove(sample_path_for(home / item.path))
                _count(result, item.detector, item.product, removed)
            store.mark_products_pruned([(i.frame, i.product) for i in batch], now=now)
    before = _cutoff(now, policy.raw_days)
    if before is not None:
        result.cutoffs[RAW] = before
        while raw := store.prunable_raw(before, limit=BATCH):
            for gone in raw:
                _count(result, gone.detector, RAW, _remove(home / gone.path))
            store.mark_raw_pruned([i.name for i in raw], now=now)
    _prune_derived(HomeLayout(home).products_dir, policy, now, result)
    result.elapsed_s = time.perf_counter() - started
    return result


def _prune_derived(
    products_dir: Path, policy: Retention, now: datetime, result: RetentionResult
) -> None:
    """Composites, mosaics and source tables past their days: FITS and tables by
    ``fits_days``, PNGs by ``png_days``."""
    cutoffs = {
        "fits": _cutoff(now, policy.fits_days),
        "png": _cutoff(now, policy.png_days),
        TABLE: _cutoff(now, policy.fits_days),
    }
    for folder in DERIVED:
        root = products_dir / folder
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            kind = _derived_kind(path.name)
            before = cutoffs[kind]
            match = _DAY_PREFIX.match(path.name)
            if before is None or match is None or not path.is_file():
                continue
            year, month, mday = (int(g) for g in match.groups())
            try:
                day = datetime(year, month, mday, tzinfo=before.tzinfo)
            except ValueError:  # not one of ours ("99999999_x.png"): left alone
                continue
            if day + timedelta(days=1) > before or path.stat().st_mtime >= before.timestamp():
                continue  # its day, or its writing, is still within the days kept
            removed = _remove(path)
            if removed is not None:
                result.derived_files[f"{folder}/{kind}"] += 1
                result.derived_bytes[f"{folder}/{kind}"] += removed


def _derived_kind(name: str) -> str:
    if name.endswith((".fits", ".fits.fz")):
        return "fits"
    return TABLE if name.endswith(".ecsv") else "png"


def _count(result: RetentionResult, detector: Detector, kind: str, removed: int | None) -> None:
    if removed is None:
        result.missing += 1
        return
    result.files[detector, kind] += 1
    result.size_bytes[detector, kind] += removed


def disk_usage(store: LifecycleStore, home: Path) -> list[DiskUsage]:
    """Per detector and product what is on disk: products as the store recorded their sizes,
    raw files sized on disk (the store keeps no raw size)."""
    usage = list(store.disk_usage())
    raw_files: Counter[Detector] = Counter()
    raw_bytes: Counter[Detector] = Counter()
    for item in store.raw_on_disk():
        try:
            raw_bytes[item.detector] += os.stat(home / item.path).st_size
        except OSError:
            continue
        raw_files[item.detector] += 1
    usage += [DiskUsage(d, RAW, raw_files[d], raw_bytes[d]) for d in sorted(raw_files)]
    return sorted(usage, key=lambda u: (u.detector.value, u.product))
