"""Colour composite speed on real processed frames (simulator, ``FrameProcessor``).

* ``temporal_<det>_ms_median``: three background-subtracted 1024² frames of one detector
  (first, middle and last of an hour) -> RGB: the ephemeris star-drift shift of two
  channels, three asinh stretches, the colour sum. Target (issue 14): <= 60 ms on 2 cores.
* ``c2c3_ms_median``: C2 placed on the C3 grid (block mean + ``affine_transform`` over C2's
  box of the C3 field) and the two-colour sum.
* ``*_cpu_ms_median``: the same as process CPU time, less sensitive than wall time to
  other work sharing the 2 cores.
* ``*_write_ms_median``: the files of one composite (1024 px RGB PNG, 256 px thumbnail,
  the channel cube FITS, RICE): not part of the target, reported beside it.
* ``png_bytes`` / ``fits_bytes``: the C3 temporal composite's files.

Median over ``REPEATS`` runs after one warm-up; frames are read beforehand (not timed).
Timings are noisy: 2 shared cores, other work running.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from pathlib import Path

import numpy as np
from astropy.io import fits

from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.domain import Detector
from comet_pipeline.imaging.composite import (
    AZURE,
    ORANGE,
    TEMPORAL_COLOURS,
    Channel,
    ChannelRecord,
    composite_rgb,
    cube_header,
    drift_shifts,
    grid_of,
    place_on_grid,
    shift_image,
    write_cube_fits,
    write_rgb_png,
    write_rgb_thumbnail,
)
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig

DAY = date(2025, 1, 3)
HOUR = 5
REPEATS = 9

Loaded = tuple[np.ndarray, fits.Header, datetime, str]


def _frames(archive: SimArchive, det: Detector, root: Path) -> list[Loaded]:
    obs = sorted(
        (
            o
            for o in archive.observations(DAY, det)
            if o.synoptic and not o.duplicate_of and o.observed_at.hour == HOUR
        ),
        key=lambda o: o.observed_at,
    )
    picked = [obs[0], obs[len(obs) // 2], obs[-1]]
    proc = FrameProcessor(root / det.value)
    out = []
    for o in picked:
        with fits.open(io.BytesIO(archive.render(o)), memmap=False) as hdul:
            raw, header = hdul[0].data, hdul[0].header.copy()
        info = parse_fits_header(header)
        frame = proc.process(raw, header, info, helioprojective_wcs(info), name=o.name, history=[])
        data, head = read_image(Path(frame.path(PROCESSED) or ""))
        out.append((data, head, o.observed_at, o.name))
    return out


def _temporal(frames: list[Loaded]) -> np.ndarray:
    ref = frames[1]
    shifts = drift_shifts(grid_of(ref[1]), [f[2] for f in frames], ref[2])
    return composite_rgb(
        [
            Channel(shift_image(f[0], dx, dy), colour)
            for f, (dx, dy), colour in zip(frames, shifts, TEMPORAL_COLOURS, strict=True)
        ]
    )


def _c2c3(c2: Loaded, c3: Loaded) -> np.ndarray:
    placed = place_on_grid(c2[0], grid_of(c2[1]), grid_of(c3[1]))
    return composite_rgb([Channel(c3[0], ORANGE), Channel(placed, AZURE)])


def _median_ms(fn: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float]:
    """(median wall ms, median process CPU ms) of ``fn`` after one warm-up call."""
    fn()  # warm-up: imports, caches, the ephemeris
    wall, cpu = [], []
    for _ in range(repeats):
        start, cpu0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - cpu0) * 1000.0)
    return round(statistics.median(wall), 1), round(statistics.median(cpu), 1)


def _write(root: Path, rgb: np.ndarray, frames: list[Loaded]) -> None:
    records = [ChannelRecord(f[3], f[2], c) for f, c in zip(frames, TEMPORAL_COLOURS, strict=True)]
    write_rgb_png(root / "c.png", rgb)
    write_rgb_thumbnail(root / "c.thumb.png", rgb, 256)
    write_cube_fits(
        root / "c.fits.fz", [f[0] for f in frames], cube_header(frames[1][1], records, "temporal")
    )


def run() -> dict:
    archive = SimArchive(SimConfig(seed=0))
    figures: dict[str, float | int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        loaded = {d: _frames(archive, d, root) for d in (Detector.C2, Detector.C3)}
        timed: dict[str, Callable[[], object]] = {
            f"temporal_{det.value}": partial(_temporal, frames) for det, frames in loaded.items()
        }
        c2, c3 = loaded[Detector.C2][1], loaded[Detector.C3][1]
        timed["c2c3"] = lambda: _c2c3(c2, c3)
        for name, fn in timed.items():
            wall, cpu = _median_ms(fn)
            figures[f"{name}_ms_median"] = wall
            figures[f"{name}_cpu_ms_median"] = cpu
        rgb = _temporal(loaded[Detector.C3])
        out = root / "out"
        wall, cpu = _median_ms(lambda: _write(out, rgb, loaded[Detector.C3]), repeats=5)
        figures["temporal_write_ms_median"] = wall
        figures["temporal_write_cpu_ms_median"] = cpu
        figures["png_bytes"] = (out / "c.png").stat().st_size
        figures["fits_bytes"] = (out / "c.fits.fz").stat().st_size
    return figures
