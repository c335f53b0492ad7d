"""The evaluation hunts exactly the images the Dagster pipeline hunts.

The ingest path writes ``bgsub.fits.fz`` with ``FrameProcessor`` and the hourly hunt reads
them back with ``load_hunt_frame``; the evaluation builds its frames in memory with
``MemoryFrames``. Both must give the same array and the same Sun centre, in the fallback
phase (fewer than 3 earlier frames) and the rolling phase, in both detectors: the product
keeps the frame in steps of 1/16 sigma (``fitsio.PROCESSED_STEP``), so the in-memory frame
rounded to that step is the product to the bit, and the two never differ by more than
half a step (1/32 sigma).
"""

import io
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.domain.models import Detector, Frame
from comet_pipeline.evaluation.harness import MemoryFrames
from comet_pipeline.hunting.loading import load_hunt_frame
from comet_pipeline.imaging.fitsio import PROCESSED_STEP
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig

DAY = date(2025, 1, 1)


@pytest.mark.parametrize("detector", ["c2", "c3"])
def test_memory_frames_equal_the_pipeline_bgsub_products(tmp_path: Path, detector: str):
    sim = SimArchive(SimConfig(seed=1, comets_per_day=4.0))
    det = Detector(detector)
    obs = [o for o in sim.observations(DAY, det) if o.synoptic and not o.duplicate_of][:5]
    memory = MemoryFrames()
    proc = FrameProcessor(tmp_path)
    history: list[Frame] = []
    kinds = []
    for o in obs:
        data = sim.render(o)
        mine = memory.frame(o.name, data)
        with fits.open(io.BytesIO(data), memmap=False) as hdul:
            header = hdul[0].header.copy()
            raw = np.asarray(hdul[0].data)
        info = parse_fits_header(header)
        out = proc.process(
            raw, header, info, helioprojective_wcs(info), name=o.name, history=list(history)
        )
        history.append(out)
        kinds.append(out.background_kind)
        theirs = load_hunt_frame(out)
        assert mine.image.dtype == theirs.image.dtype == np.float32
        assert np.array_equal(np.isnan(mine.image), np.isnan(theirs.image)), o.name
        rounded = np.rint(mine.image / PROCESSED_STEP) * PROCESSED_STEP
        assert np.array_equal(rounded, theirs.image, equal_nan=True), o.name
        assert np.nanmax(np.abs(mine.image - theirs.image)) <= PROCESSED_STEP / 2
        assert mine.sun() == pytest.approx(theirs.sun(), abs=1e-6)
        assert mine.observed_at == theirs.observed_at
    assert kinds == ["self", "self", "self", "rolling", "rolling"]
