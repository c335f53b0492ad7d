"""Reconcile the disk with the store: what the store lists that is gone, what is there unlisted.

* A product the store lists for a frame (not pruned by retention) that is missing on disk:
  the frame goes back to READY (its raw file is there) or DISCOVERED (the raw is gone too),
  through ``reset_file``, audited, and the normal processing step makes it again.
* A raw file whose sha256 no longer matches the store's (or that vanished): back to
  DISCOVERED, audited; the bad bytes are removed and the normal download step fetches them
  again (atomically, verified), then processing remakes the frame.
* A file under raw/ or frames/ the store does not know: reported, never deleted (it may be
  another version's output, or a store restored from an older backup).

:func:`scan_home` only reads; :func:`repair` resets; :func:`scan_and_repair` also runs the
download and processing services over the hours it reset.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from comet_pipeline.archive.client import ArchiveClient, is_temp_name
from comet_pipeline.domain import Detector, FileState
from comet_pipeline.domain.timeutil import Clock
from comet_pipeline.imaging.pipeline import FrameProcessor, sample_path_for
from comet_pipeline.imaging.products import CALIBRATED
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.ingest.windows import HOUR, hour_floor
from comet_pipeline.settings import HomeLayout
from comet_pipeline.store import LifecycleStore

#: The whole time axis a scan covers by default.
EPOCH = datetime(1995, 12, 1, tzinfo=UTC)  # SOHO's launch: nothing older exists
END_OF_TIME = datetime(2100, 1, 1, tzinfo=UTC)
PAGE = 2_000
#: States in which a file's raw bytes should be on disk and match the store's sha256.
RAW_EXPECTED = frozenset(
    {FileState.DOWNLOADED, FileState.READY, FileState.PROCESSING_FAILED, FileState.PROCESSED}
)


@dataclass(frozen=True)
class MissingProduct:
    frame: str
    detector: Detector
    observed_at: datetime
    product: str
    path: str


@dataclass(frozen=True)
class BadRaw:
    """A raw file that is gone (``actual`` None) or whose bytes changed."""

    name: str
    detector: Detector
    observed_at: datetime
    state: FileState
    path: str
    expected: str | None
    actual: str | None


@dataclass
class ScanReport:
    missing_products: list[MissingProduct] = field(default_factory=list)
    bad_raw: list[BadRaw] = field(default_factory=list)
    unknown_files: list[Path] = field(default_factory=list)
    products_checked: int = 0
    raw_checked: int = 0
    elapsed_s: float = 0.0

    @property
    def clean(self) -> bool:
        return not (self.missing_products or self.bad_raw or self.unknown_files)

    def summary(self) -> str:
        return (
            f"{self.products_checked} products and {self.raw_checked} raw files checked: "
            f"{len(self.missing_products)} products missing, {len(self.bad_raw)} raw files "
            f"gone or changed, {len(self.unknown_files)} files unknown to the store"
        )


@dataclass
class RepairResult:
    """Names reset, by where they went; those that moved on meanwhile are left alone."""

    reprocess: list[str] = field(default_factory=list)  # -> READY
    refetch: list[str] = field(default_factory=list)  # -> DISCOVERED
    not_applied: list[str] = field(default_factory=list)
    hours: list[datetime] = field(default_factory=list)  # observation hours touched
    steps: StepResult = field(default_factory=StepResult)  # download + processing, if run


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _resolve(home: Path, path: str) -> Path:
    return home / path  # absolute paths stay as they are


def scan_home(
    store: LifecycleStore,
    layout: HomeLayout,
    *,
    detectors: tuple[Detector, ...] = tuple(Detector),
    since: datetime = EPOCH,
    until: datetime = END_OF_TIME,
    verify_sha: bool = True,
) -> ScanReport:
    """Compare the store's products and raw files of [since, until) with the disk."""
    started = time.perf_counter()
    report = ScanReport()
    home = layout.home
    known: set[Path] = set()
    for detector in detectors:
        after: tuple[datetime, str] | None = None
        while page := store.frames_page(detector, since, until, after=after, limit=PAGE):
            for frame in page:
                for product, item in frame.products.items():
                    path = _resolve(home, item.path)
                    known.add(path)
                    if product == CALIBRATED:
                        known.add(sample_path_for(path))
                    report.products_checked += 1
                    if not path.is_file():
                        report.missing_products.append(
                            MissingProduct(
                                frame.name, frame.detector, frame.observed_at, product, item.path
                            )
                        )
            after = (page[-1].observed_at, page[-1].name)
    wanted = set(detectors)
    for raw in store.raw_on_disk():
        path = _resolve(home, raw.path)
        known.add(path)
        if raw.detector not in wanted or not since <= raw.observed_at < until:
            continue
        record = store.get_file(raw.name)
        if record is None or record.state not in RAW_EXPECTED:
            continue  # being downloaded, or sent back already: nothing to check yet
        report.raw_checked += 1
        actual = sha256_of(path) if path.is_file() else None
        if actual is None or (verify_sha and record.sha256 and actual != record.sha256):
            report.bad_raw.append(
                BadRaw(
                    raw.name,
                    raw.detector,
                    raw.observed_at,
                    record.state,
                    raw.path,
                    record.sha256,
                    actual,
                )
            )
    if since <= EPOCH and until >= END_OF_TIME and wanted == set(Detector):
        report.unknown_files = _unknown(layout, known)
    report.elapsed_s = time.perf_counter() - started
    return report


def _unknown(layout: HomeLayout, known: set[Path]) -> list[Path]:
    """Files under raw/ and frames/ no store row names (temp files of live writes left out).
    Only a full scan (whole range, every detector) looks: a partial one knows only a part."""
    found: list[Path] = []
    for folder in (layout.raw_dir, layout.frames_dir):
        for root, _dirs, names in os.walk(folder):
            for name in names:
                path = Path(root) / name
                if not is_temp_name(name) and path not in known:
                    found.append(path)
    return sorted(found)


def repair(
    store: LifecycleStore, report: ScanReport, layout: HomeLayout, *, now: datetime, run_id: str
) -> RepairResult:
    """Send back what the scan found: bad raw files to DISCOVERED (the bad bytes removed),
    frames with missing products to READY, or DISCOVERED when their raw file is not there."""
    result = RepairResult()
    hours: set[datetime] = set()
    refetch = {b.name for b in report.bad_raw}
    for bad in report.bad_raw:
        why = (
            "scan: raw file missing on disk"
            if bad.actual is None
            else f"scan: raw sha256 {bad.actual[:12]}… does not match {str(bad.expected)[:12]}…"
        )
        if store.reset_file(
            bad.name, FileState.DISCOVERED, expected=bad.state, reason=why, now=now, run_id=run_id
        ):
            _unlink(_resolve(layout.home, bad.path))
            result.refetch.append(bad.name)
            hours.add(hour_floor(bad.observed_at))
        else:
            result.not_applied.append(bad.name)
    by_frame: dict[str, list[MissingProduct]] = {}
    for item in report.missing_products:
        if item.frame not in refetch:
            by_frame.setdefault(item.frame, []).append(item)
    for name, items in by_frame.items():
        record = store.get_file(name)
        if record is None or record.state not in (FileState.PROCESSED, FileState.PROCESSING_FAILED):
            result.not_applied.append(name)
            continue
        missing = ", ".join(sorted(i.product for i in items))
        raw_there = bool(record.raw_path) and _resolve(layout.home, str(record.raw_path)).is_file()
        target = FileState.READY if raw_there else FileState.DISCOVERED
        why = f"scan: product(s) missing on disk: {missing}" + (
            "" if raw_there else "; raw file gone, fetched again"
        )
        if store.reset_file(
            name, target, expected=record.state, reason=why, now=now, run_id=run_id
        ):
            (result.reprocess if raw_there else result.refetch).append(name)
            hours.add(hour_floor(record.observed_at))
        else:
            result.not_applied.append(name)
    result.hours = sorted(hours)
    return result


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def run_services(
    store: LifecycleStore,
    client: ArchiveClient,
    layout: HomeLayout,
    hours: list[datetime],
    *,
    clock: Clock,
    owner: str,
) -> StepResult:
    """The normal download and processing steps over each reset hour, oldest first (each
    hour's frames then find the hour before's as their background history)."""
    result = StepResult()
    processor = FrameProcessor(layout.frames_dir)
    for start, end in _spans(hours):
        result.absorb(
            download_window(store, client, layout.raw_dir, start, end, clock=clock, owner=owner)
        )
        result.absorb(process_window(store, processor, start, end, clock=clock, owner=owner))
    return result


def _spans(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Consecutive hours merged into windows."""
    spans: list[tuple[datetime, datetime]] = []
    for hour in sorted(hours):
        if spans and spans[-1][1] == hour:
            spans[-1] = (spans[-1][0], hour + HOUR)
        else:
            spans.append((hour, hour + HOUR))
    return spans


def scan_and_repair(
    store: LifecycleStore,
    client: ArchiveClient | None,
    layout: HomeLayout,
    *,
    clock: Clock,
    run_id: str,
    detectors: tuple[Detector, ...] = tuple(Detector),
    repair_found: bool = True,
) -> tuple[ScanReport, RepairResult | None]:
    """Scan; with ``repair_found``, reset what it found and, given a ``client``, run the
    download and processing steps over the hours reset (without one, the next runs of
    those hours do it)."""
    report = scan_home(store, layout, detectors=detectors)
    if not repair_found or not (report.missing_products or report.bad_raw):
        return report, None
    fixed = repair(store, report, layout, now=clock(), run_id=run_id)
    if client is not None and fixed.hours:
        fixed.steps = run_services(store, client, layout, fixed.hours, clock=clock, owner=run_id)
    return report, fixed
