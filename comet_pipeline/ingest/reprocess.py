"""Bulk re-processing of an observation range: reset its frames, then process them again.

Every PROCESSED (or PROCESSING_FAILED) file of the range goes back to READY through
``reset_file`` (one guarded compare-and-swap and one audit row each, the reason naming the
recipe and products), or to DISCOVERED when retention removed its raw file (the download
step fetches it again). Then the normal download and processing services run over the
range hour by hour, oldest first, so every frame's background reads the frames re-made just
before it. A file another run holds (PROCESSING) is left alone and reported.

``recipe`` names the processing recipe (:mod:`comet_pipeline.imaging.recipes`) the frames
are made with again; it is recorded in each audit row and in the products' headers. ``products`` are the registry products the run must leave on disk
for every frame; ``only_missing`` resets just the frames lacking one of them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.domain import Detector, FileState
from comet_pipeline.domain.timeutil import Clock
from comet_pipeline.imaging import recipes
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import BY_NAME
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.ingest.windows import HOUR, hour_floor
from comet_pipeline.settings import HomeLayout
from comet_pipeline.store import LifecycleStore

RESETTABLE = (FileState.PROCESSED, FileState.PROCESSING_FAILED)


@dataclass
class ReprocessResult:
    reset_ready: list[str] = field(default_factory=list)
    reset_refetch: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)  # moved on or held by a run
    #: the products each reset frame must have afterwards
    expected: dict[str, list[str]] = field(default_factory=dict)
    #: frames still lacking a requested product after the run (name -> products)
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    steps: StepResult = field(default_factory=StepResult)
    elapsed_s: float = 0.0

    @property
    def reset(self) -> int:
        return len(self.reset_ready) + len(self.reset_refetch)


def check_request(products: Sequence[str], recipe: str) -> list[str]:
    """The products asked for (none: each frame's products before the reset), refusing
    unknown names and recipes."""
    recipes.recipe(recipe)  # UnknownRecipe (a ValueError) names the known ones
    unknown = sorted(set(products) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown products {unknown}; known: {', '.join(sorted(BY_NAME))}")
    return list(products)


def reset_range(
    store: LifecycleStore,
    layout: HomeLayout,
    start: datetime,
    end: datetime,
    *,
    detectors: Sequence[Detector],
    products: Sequence[str],
    recipe: str,
    now: datetime,
    run_id: str,
    only_missing: bool = False,
) -> ReprocessResult:
    """Send the range's processed files back for processing; nothing is processed here."""
    wanted = check_request(products, recipe)
    result = ReprocessResult()
    why = f"re-processing: recipe {recipe}, products {' '.join(wanted) or 'as before'}"
    for detector in detectors:
        frames = {f.name: f for f in store.frames_between(detector, start, end)}
        for record in store.files_between(detector, start, end):
            if record.state not in RESETTABLE:
                if record.state is FileState.PROCESSING:
                    result.left_alone.append(record.name)
                continue
            frame = frames.get(record.name)
            if only_missing and frame is not None:
                on_disk = {
                    p for p, item in frame.products.items() if (layout.home / item.path).is_file()
                }
                if set(wanted) <= on_disk:
                    continue
            raw_there = bool(record.raw_path) and (layout.home / str(record.raw_path)).is_file()
            target = FileState.READY if raw_there else FileState.DISCOVERED
            reason = why if raw_there else why + "; raw file gone, fetched again"
            if store.reset_file(
                record.name, target, expected=record.state, reason=reason, now=now, run_id=run_id
            ):
                (result.reset_ready if raw_there else result.reset_refetch).append(record.name)
                before = sorted({*frame.products, *frame.pruned}) if frame is not None else []
                result.expected[record.name] = wanted or before
            else:
                result.left_alone.append(record.name)
    return result


def reprocess_range(
    store: LifecycleStore,
    client: ArchiveClient | None,
    layout: HomeLayout,
    start: datetime,
    end: datetime,
    *,
    detectors: Sequence[Detector] = tuple(Detector),
    products: Sequence[str] = (),
    recipe: str = "default",
    clock: Clock,
    run_id: str,
    only_missing: bool = False,
) -> ReprocessResult:
    """Reset [start, end) and run download (for re-fetched raw files, when a ``client`` is
    given) and processing over it, an hour at a time, oldest first."""
    started = time.perf_counter()
    wanted = check_request(products, recipe)
    result = reset_range(
        store,
        layout,
        start,
        end,
        detectors=detectors,
        products=wanted,
        recipe=recipe,
        now=clock(),
        run_id=run_id,
        only_missing=only_missing,
    )
    processor = FrameProcessor(layout.frames_dir, recipe=recipes.recipe(recipe))
    hour = hour_floor(start)
    while hour < end:
        window = (max(hour, start), min(hour + HOUR, end))
        if client is not None and result.reset_refetch:
            result.steps.absorb(
                download_window(store, client, layout.raw_dir, *window, clock=clock, owner=run_id)
            )
        result.steps.absorb(process_window(store, processor, *window, clock=clock, owner=run_id))
        hour += HOUR
    for name in (*result.reset_ready, *result.reset_refetch):
        frame = store.frame(name)
        have = (
            set()
            if frame is None
            else {p for p, item in frame.products.items() if (layout.home / item.path).is_file()}
        )
        lacking = sorted(set(result.expected.get(name, wanted)) - have)
        if lacking:
            result.incomplete[name] = lacking
    result.elapsed_s = time.perf_counter() - started
    return result
