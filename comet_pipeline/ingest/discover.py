"""Discover the files observed in a time window and register them in the store.

Reads each covering day's ``img_hdr.txt`` (metadata) and directory listing (arrival time)
for every detector. New synoptic images become DISCOVERED; non-synoptic images and
re-served duplicates of an observation become SKIPPED with the reason. Known files are
left alone, so a second call changes nothing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.errors import ArchiveError
from comet_pipeline.archive.layout import ArchiveTree, tree_for_day
from comet_pipeline.archive.synoptic import synoptic_reason
from comet_pipeline.domain import ArchiveFile, Detector, FileState
from comet_pipeline.ingest.results import LatencyStats, StepResult
from comet_pipeline.ingest.windows import days_covering, hour_floor
from comet_pipeline.store import LifecycleStore


def list_window(
    client: ArchiveClient,
    detectors: Sequence[Detector],
    start: datetime,
    end: datetime,
    result: StepResult,
    *,
    now: datetime | None = None,
) -> list[ArchiveFile]:
    """Index entries observed in [start, end), with arrival times from the listing.

    Each day is read from the tree that serves it at ``now`` (:func:`tree_for_day`: days
    older than the near-real-time window come from the long-term tree); without ``now``
    (the downlink sensor's poll of the last day) from the near-real-time tree.

    Each day's index and listing of each detector is fetched on its own: one that fails is
    recorded in ``result.failed_sources`` (with the error kept in ``transient`` when a retry
    could help) and the others are still read, so a bad C2 index never hides C3's files.
    """
    files: list[ArchiveFile] = []
    for day in days_covering(start, end):
        tree = ArchiveTree.NEAR_REAL_TIME if now is None else tree_for_day(day, now)
        for detector in detectors:
            source = f"{detector.value} {day:%y%m%d}"
            try:
                index = client.fetch_index(day, detector, tree=tree)
            except ArchiveError as err:
                result.source_failed(f"{source} img_hdr.txt", str(err))
                _keep_transient(result, err)
                continue
            try:
                listing = client.fetch_listing(day, detector, tree=tree)
            except ArchiveError as err:  # the index alone still registers the files
                result.source_failed(f"{source} listing", str(err))
                _keep_transient(result, err)
                listing = None
            for problem in [*index.problems, *(listing.problems if listing else [])]:
                result.count("index_problem")
                result.add_error(f"{day:%y%m%d}/{detector}: {problem}")
            # names keep their case (the URL needs it); index and listing may disagree on it
            arrivals = {e.name.lower(): e.modified_at for e in listing.items} if listing else {}
            for entry in index.items:
                if entry.detector == detector and start <= entry.observed_at < end:
                    files.append(replace(entry, arrived_at=arrivals.get(entry.name.lower())))
    return files


def _keep_transient(result: StepResult, err: ArchiveError) -> None:
    if not err.permanent and result.transient is None:
        result.transient = err


def classify(files: Iterable[ArchiveFile], already_known: Iterable[ArchiveFile]) -> dict[str, str]:
    """Skip reasons by file name: non-synoptic images and duplicate observations.

    A duplicate is a second file for the same detector and observation second; the one
    that arrived first (then the lower name) keeps the observation.
    """
    owner: dict[tuple[Detector, datetime], str] = {}
    for known in already_known:
        owner.setdefault((known.detector, known.observed_at.replace(microsecond=0)), known.name)
    reasons: dict[str, str] = {}
    ordered = sorted(
        files, key=lambda f: (f.arrived_at is None, f.arrived_at or f.observed_at, f.name)
    )
    for f in ordered:
        reason = synoptic_reason(f)
        if reason:
            reasons[f.name] = reason
            continue
        key = (f.detector, f.observed_at.replace(microsecond=0))
        first = owner.setdefault(key, f.name)
        if first != f.name:
            reasons[f.name] = f"duplicate observation of {first}"
    return reasons


def discover_window(
    store: LifecycleStore,
    client: ArchiveClient,
    detectors: Sequence[Detector],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    run_id: str | None = None,
) -> StepResult:
    started = time.perf_counter()
    result = StepResult()
    listed = list_window(client, detectors, start, end, result, now=now)
    known_names = store.known_names(f.name for f in listed)
    new = [f for f in listed if f.name not in known_names]
    result.count("unchanged_known", n=len(listed) - len(new))
    known_synoptic = [
        rec.as_archive_file()
        for detector in detectors
        for rec in store.files_between(detector, start, end)
        if rec.state is not FileState.SKIPPED
    ]
    skipped = classify(new, known_synoptic)
    # Known files go in too: the store ignores them except to fill in an arrival time or
    # slot link that was not known when they were first registered.
    inserted = set(store.register_files(listed, now=now, run_id=run_id, skipped=skipped))
    for f in new:
        if f.name in inserted:
            result.count("skipped" if f.name in skipped else "discovered", f.detector.value)
    result.latency = LatencyStats.of(
        [f.arrived_at - f.observed_at for f in new if f.name in inserted and f.arrived_at]
    )
    result.elapsed_s = time.perf_counter() - started
    if result.transient is not None:
        # what could be read is registered; the step fails so Dagster retries the rest
        raise result.transient
    return result


def unknown_files_by_hour(
    store: LifecycleStore,
    client: ArchiveClient,
    detectors: Sequence[Detector],
    start: datetime,
    end: datetime,
) -> dict[datetime, list[str]]:
    """Names listed in the archive but not yet in the store, grouped by observation hour.

    This is the downlink sensor's poll: cheap (two small text files per day and detector)
    and read-only.
    """
    listed = list_window(client, detectors, start, end, StepResult())
    known = store.known_names(f.name for f in listed)
    by_hour: dict[datetime, list[str]] = defaultdict(list)
    for f in listed:
        if f.name not in known:
            by_hour[hour_floor(f.observed_at)].append(f.name)
    return {hour: sorted(names) for hour, names in sorted(by_hour.items())}
