"""Process a window's READY files into calibrated, background-subtracted frames.

Files are claimed under a PROCESSING lease and handled per detector in time order, so
each frame's background and running difference can use the frames just before it (from
earlier runs, via the store's ``frames`` table, or from this very run).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from astropy.io import fits

from comet_pipeline.archive.fits_header import (
    check_plausible,
    helioprojective_wcs,
    parse_fits_header,
)
from comet_pipeline.domain import Detector, FileRecord, FileState, Frame
from comet_pipeline.domain.timeutil import Clock
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.attempts import record_failure
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.store import LifecycleStore

#: Called as ``progress(done, total)`` before each file, for logs a person watches.
Progress = Callable[[int, int], None]


def process_window(
    store: LifecycleStore,
    processor: FrameProcessor,
    start: datetime,
    end: datetime,
    *,
    clock: Clock,
    owner: str,
    progress: Progress | None = None,
    parallel: bool = True,
) -> StepResult:
    """Process the window's READY files, each detector's in time order.

    ``parallel``: the detectors' chains run side by side in threads, each with its own
    processor like ``processor`` (their frames never share a background). Much of the work
    (numpy, the FITS tile compression, PNG encoding) releases the GIL; measured on a
    simulated hour pair, the two chains took 0.79 of the time one after the other."""
    started = time.perf_counter()
    total = store.counts_by_state(start=start, end=end)[FileState.READY]
    counter = _Counter(total, progress)
    detectors = list(Detector)
    if parallel:
        processors = [processor, *(processor.like() for _ in detectors[1:])]
        with ThreadPoolExecutor(len(detectors), thread_name_prefix="process") as pool:
            results = list(
                pool.map(
                    lambda d, p: _process_detector(store, p, d, start, end, clock, owner, counter),
                    detectors,
                    processors,
                )
            )
    else:
        results = [
            _process_detector(store, processor, d, start, end, clock, owner, counter)
            for d in detectors
        ]
    result = StepResult()
    for one in results:
        result.absorb(one)
    result.elapsed_s = time.perf_counter() - started
    return result


class _Counter:
    """Files done across the detectors' threads, for the progress callback."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self._lock = threading.Lock()

    def next(self) -> None:
        with self._lock:
            if self.progress is not None:
                self.progress(self.done, max(self.total, self.done + 1))
            self.done += 1


def _process_detector(
    store: LifecycleStore,
    processor: FrameProcessor,
    detector: Detector,
    start: datetime,
    end: datetime,
    clock: Clock,
    owner: str,
    counter: _Counter,
) -> StepResult:
    result = StepResult()
    # One file at a time, oldest first: each lease is fresh when its work starts, and
    # each frame's background can use the frames processed just before it.
    while claimed := store.claim(
        target=FileState.PROCESSING,
        owner=owner,
        now=clock(),
        detector=detector,
        start=start,
        end=end,
        limit=1,
    ):
        record = claimed[0]
        counter.next()
        try:
            frame = _process_one(store, processor, record)
        except Exception as err:  # noqa: BLE001 - one bad frame must not stop the hour
            # bad data (header, values) will not improve; I/O trouble might
            permanent = isinstance(err, ValueError)
            outcome = record_failure(
                store, record, err, now=clock(), owner=owner, permanent=permanent
            )
            result.count(outcome, record.detector.value)
            result.add_error(f"{record.name}: {type(err).__name__}: {err}")
            continue
        applied = store.complete_processing(
            frame, owner=owner, now=clock(), run_id=owner, reason="frame products written"
        )
        result.count("processed" if applied else "lease_lost", record.detector.value)
    return result


def _process_one(store: LifecycleStore, processor: FrameProcessor, record: FileRecord) -> Frame:
    if not record.raw_path:
        raise ValueError(f"{record.name} is READY but has no raw file path")
    with fits.open(record.raw_path, memmap=False) as hdul:
        header = hdul[0].header
        raw = hdul[0].data
    info = parse_fits_header(header)
    check_plausible(header, info)  # files fetched before the check existed meet it here
    prior = store.frames_between(
        record.detector, record.observed_at - processor.background_window, record.observed_at
    )
    return processor.process(
        raw, header, info, helioprojective_wcs(info), name=record.name, history=prior
    )
