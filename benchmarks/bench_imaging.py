"""Frame science speed and memory on the simulated archive's level-0.5 frames.

* ``<det>_ms_per_frame_median``: median wall time of ``FrameProcessor.process`` (ALL
  products: calibrated and bg-subtracted FITS, RICE tile-compressed; sample; 1024/512/256
  PNGs; difference PNGs; calibrated preview; stats) over a run of consecutive 1024² frames
  with a full background history, in one process. Raw FITS are rendered and parsed
  beforehand (the ingest service's work, not timed). Target: <= 100 ms. Measured twice:
  products written to the disk (``tempfile``, ext4 here) and to ``/dev/shm`` (tmpfs) when it
  exists, which separates the computing from this machine's write speed (~2.8 MB of products
  per frame; ~14.5 MB before issue 13's compact products).
  ``<det>_cpu_ms_per_frame_median`` is the process CPU time (all threads) per frame: less
  sensitive than wall time to other work sharing the 2 cores.
* ``<det>_read_<product>_ms_median``: reading a product back (``fitsio.read_image``, the
  hunt's and the background's reader: RICE decoding), median over the timed frames.
* ``day_*``: one whole simulated day of one detector (~105 synoptic frames) processed in
  a fresh child process (spawned, so its figures are its own); ``day_peak_traced_mb`` is
  the tracemalloc peak (numpy buffers included), ``day_max_rss_mb`` the child's peak
  resident size (interpreter, numpy, astropy and the simulator included) and
  ``day_rss_growth_mb`` its growth from before the first frame. Target: < 500 MB.
  ``day_bytes_per_frame_median`` is every file a frame leaves (products and sample), and
  ``day_bytes_median`` the same per product. Target (issue 13): <= 3 MB per frame.

Timings are noisy: 2 shared cores, other work running.
"""

from __future__ import annotations

import io
import multiprocessing as mp
import resource
import shutil
import statistics
import tempfile
import time
import tracemalloc
from datetime import date
from multiprocessing.queues import Queue
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from comet_pipeline.archive.fits_header import helioprojective_wcs, parse_fits_header
from comet_pipeline.domain import Frame
from comet_pipeline.domain.models import Detector, FitsInfo
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.pipeline import FrameProcessor, sample_path_for
from comet_pipeline.imaging.products import CALIBRATED, PROCESSED
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.simulator.operations import SimObservation

DAY = date(2025, 1, 3)
RUN_FRAMES = 24  # frames per detector for the timing run (the first 10 fill the history)
WARM = 10
SHM = Path("/dev/shm")


def _synoptic(archive: SimArchive, day: date, det: Detector) -> list[SimObservation]:
    obs = [o for o in archive.observations(day, det) if o.synoptic and not o.duplicate_of]
    return sorted(obs, key=lambda o: o.observed_at)


def _load(
    archive: SimArchive, obs: SimObservation
) -> tuple[np.ndarray, fits.Header, FitsInfo, WCS]:
    with fits.open(io.BytesIO(archive.render(obs)), memmap=False) as hdul:
        raw, header = hdul[0].data, hdul[0].header.copy()
    info = parse_fits_header(header)
    return raw, header, info, helioprojective_wcs(info)


def _timing_run(
    archive: SimArchive, det: Detector, root: Path
) -> tuple[list[float], list[float], list[Frame]]:
    frames = [(o, *_load(archive, o)) for o in _synoptic(archive, DAY, det)[:RUN_FRAMES]]
    proc = FrameProcessor(root)
    history: list[Frame] = []
    times, cpu = [], []
    for obs, raw, header, info, wcs in frames:
        start, cpu0 = time.perf_counter(), time.process_time()
        out = proc.process(raw, header, info, wcs, name=obs.name, history=list(history))
        times.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - cpu0) * 1000.0)
        history.append(out)
    return times[WARM:], cpu[WARM:], history[WARM:]


def _read_ms(frames: list[Frame], product: str) -> float:
    """Median ms to read ``product`` of each frame back (page cache warm)."""
    times = []
    for frame in frames:
        path = Path(frame.path(product) or "")
        read_image(path)  # the file in the page cache: the decoding is timed, not the disk
        start = time.perf_counter()
        read_image(path)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def _day_child(det_value: str, root: str, queue: Queue[dict]) -> None:
    queue.put(_day_run(SimArchive(SimConfig(seed=0)), Detector(det_value), Path(root)))


def _day_in_child(det: Detector, root: Path) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_day_child, args=(det.value, str(root), queue))
    child.start()
    figures = queue.get(timeout=1800)
    child.join(timeout=60)
    return figures


def _day_run(archive: SimArchive, det: Detector, root: Path) -> dict:
    obs_list = _synoptic(archive, DAY, det)
    _load(archive, obs_list[0])  # imports and caches warmed before the baseline
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    proc = FrameProcessor(root)
    history: list[Frame] = []
    start = time.perf_counter()
    per_frame: list[int] = []
    per_product: dict[str, list[int]] = {}
    for obs in obs_list:
        raw, header, info, wcs = _load(archive, obs)
        out = proc.process(raw, header, info, wcs, name=obs.name, history=history[-12:])
        history.append(out)
        sizes = {name: f.size_bytes or 0 for name, f in out.products.items()}
        sizes["sample"] = sample_path_for(Path(out.path(CALIBRATED) or "")).stat().st_size
        per_frame.append(sum(sizes.values()))
        for name, size in sizes.items():
            per_product.setdefault(name, []).append(size)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n_bytes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {
        "day_frames": len(obs_list),
        "day_seconds_incl_sim_render": round(elapsed, 1),
        "day_peak_traced_mb": round(peak / 2**20, 1),
        "day_max_rss_mb": round(rss1 / 1024, 1),
        "day_rss_growth_mb": round((rss1 - rss0) / 1024, 1),
        "day_output_mb": round(n_bytes / 2**20, 1),
        "day_bytes_per_frame_median": round(statistics.median(per_frame)),
        "day_bytes_median": {k: round(statistics.median(v)) for k, v in per_product.items()},
    }


def run() -> dict:
    archive = SimArchive(SimConfig(seed=0))
    figures: dict[str, object] = {"day": DAY.isoformat()}
    tmp = Path(tempfile.mkdtemp(prefix="bench_imaging_"))
    shm = Path(tempfile.mkdtemp(prefix="bench_imaging_", dir="/dev/shm")) if SHM.is_dir() else None
    try:
        for det in (Detector.C2, Detector.C3):
            times, cpu, frames = _timing_run(archive, det, tmp / f"timing_{det.value}")
            figures[f"{det.value}_ms_per_frame_median"] = round(statistics.median(times), 1)
            figures[f"{det.value}_ms_per_frame_min"] = round(min(times), 1)
            figures[f"{det.value}_cpu_ms_per_frame_median"] = round(statistics.median(cpu), 1)
            figures[f"{det.value}_frames_timed"] = len(times)
            for product in (CALIBRATED, PROCESSED):
                figures[f"{det.value}_read_{product}_ms_median"] = round(
                    _read_ms(frames, product), 1
                )
            if shm is not None:
                times, _, _ = _timing_run(archive, det, shm / f"timing_{det.value}")
                figures[f"{det.value}_ms_per_frame_median_tmpfs"] = round(
                    statistics.median(times), 1
                )
        figures.update(_day_in_child(Detector.C3, tmp / "day"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if shm is not None:
            shutil.rmtree(shm, ignore_errors=True)
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
