"""Frames for the evaluation through the products the deployed pipeline writes and hunts.

:class:`ProductFrames` has :class:`~comet_pipeline.evaluation.harness.MemoryFrames`'s
interface (raw level-0.5 FITS bytes in, :class:`HuntFrame` out) but takes the ingest's
path instead of keeping arrays in memory: the frame is processed by the real
:class:`~comet_pipeline.imaging.pipeline.FrameProcessor` (as ``ingest.process`` does it:
header parsed and checked, helioprojective WCS, the earlier frames of the background window
as history), every product is written to disk, and the hunted frame is read back from the
compressed ``.bgsub.fits.fz`` with :func:`comet_pipeline.hunting.loading.load_hunt_frame`, the
loader of the hourly hunt. So the hunt sees the quantisation of the products (steps of
``fitsio.PROCESSED_STEP`` sigma), the products' Sun centre and plate scale.

Products of frames that fell out of every later frame's background window are deleted as
the run goes on, so a day's run keeps a few hours of products, not the whole day.
"""

from __future__ import annotations

import io
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from comet_pipeline.domain.models import Detector, Frame
from comet_pipeline.hunting.model import HuntFrame
from comet_pipeline.imaging.pipeline import FrameProcessor, sample_path_for
from comet_pipeline.imaging.products import CALIBRATED, PROCESSED, file_stem


@dataclass
class ProductCounts:
    """What a products run did on disk (the proof it went through the files)."""

    processed: int = 0  # frames FrameProcessor wrote products for
    read: int = 0  # processed products (``.bgsub.fits.fz``) read back for the hunt
    bytes_read: int = 0  # their size on disk
    suffixes: set[str] = field(default_factory=set)  # file endings of what was read
    pruned: int = 0  # product files deleted once no later frame could use them


class ProductFrames:
    """Raw level-0.5 FITS bytes -> products on disk under ``root`` -> HuntFrame read back.

    One instance per detector run, in time order (as the ingest processes a detector).
    """

    def __init__(self, root: Path) -> None:
        self.processor = FrameProcessor(Path(root))
        self.counts = ProductCounts()
        self._recent: dict[str, deque[Frame]] = {}

    def frame(self, name: str, data: bytes) -> HuntFrame:
        from astropy.io import fits

        from comet_pipeline.archive.fits_header import (
            check_plausible,
            helioprojective_wcs,
            parse_fits_header,
        )
        from comet_pipeline.hunting.loading import load_hunt_frame

        with fits.open(io.BytesIO(data), memmap=False) as hdul:
            header = hdul[0].header
            raw = np.asarray(hdul[0].data)
        info = parse_fits_header(header)
        check_plausible(header, info)
        now = info.observed_at
        recent = self._recent.setdefault(Detector(info.detector).value, deque())
        self._prune(recent, now)
        # the ingest's history: the store's frames in [now - background window, now)
        since = now - self.processor.background_window
        history = [f for f in recent if since <= f.observed_at < now]
        processed = self.processor.process(
            raw, header, info, helioprojective_wcs(info), name=name, history=history
        )
        recent.append(processed)
        self.counts.processed += 1
        path = processed.path(PROCESSED)
        hunted = load_hunt_frame(processed)  # what the hourly hunt reads
        if path is not None:
            self.counts.read += 1
            self.counts.bytes_read += Path(path).stat().st_size
            self.counts.suffixes.add(Path(path).name[len(file_stem(name)) :])
        return hunted

    def _prune(self, recent: deque[Frame], now: datetime) -> None:
        """Delete the products of frames no frame from ``now`` on can use as history."""
        window = self.processor.background_window
        while recent and recent[0].observed_at < now - window:
            old = recent.popleft()
            files = [Path(p.path) for p in old.products.values()]
            calibrated = old.path(CALIBRATED)
            if calibrated is not None:
                files.append(sample_path_for(Path(calibrated)))
            for file in files:
                if file.exists():
                    file.unlink()
                    self.counts.pruned += 1
