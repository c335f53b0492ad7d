"""One raw frame in, every product out: the entry the ingest service calls.

Products (``out_root/<detector>/<YYYYMMDD>/<stem>.*``):

* ``cal.fits``    calibrated float32, DN/s per full-res pixel, masked pixels NaN, WCS
* ``sample.npy``  the flattened calibrated frame block-median-ed 4x (C2) or 8x (C3): the
  background input for later frames
* ``bgsub.fits``  background-subtracted + NRGF, in units of the local noise sigma
* ``diff.fits``   running difference (DN/s) with the previous frame, unless the gap is long
* ``png`` / ``preview.png`` / ``thumb.png``  the bg-subtracted frame at 1024/512/256
* ``diff.png``    the running difference, sigma-normalised per radius, at 1024

All outputs are pure functions of the inputs (raw frame, header, history), written
atomically, so reprocessing gives identical bytes. Orientation: see :mod:`.orientation`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from comet_pipeline.domain.models import Detector, FitsInfo
from comet_pipeline.imaging import background as bg
from comet_pipeline.imaging.calibrate import SATURATION_DN
from comet_pipeline.imaging.difference import running_difference
from comet_pipeline.imaging.fitsio import (
    product_cards,
    read_fits_data,
    save_npy_atomic,
    with_cards,
    write_fits_float32,
)
from comet_pipeline.imaging.frame import (
    BACKGROUND_WINDOW,
    FALLBACK,
    HISTORY,
    MIN_HISTORY,
    Calibrated,
    background_history,
    process_frame,
    sample_factor,
)
from comet_pipeline.imaging.geometry import Geometry, geometry
from comet_pipeline.imaging.orientation import to_display
from comet_pipeline.imaging.png import write_png_set
from comet_pipeline.imaging.stats import FrameStats, frame_stats
from comet_pipeline.imaging.stretch import display_bgsub, display_difference

CAL_SUFFIX = ".cal.fits"
SAMPLE_SUFFIX = ".sample.npy"


@dataclass(frozen=True)
class PriorFrame:
    """An earlier processed frame of the same detector (from the store's frames table)."""

    name: str
    observed_at: datetime
    calibrated_path: Path


@dataclass(frozen=True)
class ProcessedFrame:
    name: str
    detector: Detector
    observed_at: datetime
    calibrated_path: Path
    background_path: Path  # the background-subtracted (NRGF) FITS
    difference_path: Path | None
    png_path: Path  # bg-subtracted, 1024
    preview_path: Path  # 512
    thumbnail_path: Path  # 256
    difference_png_path: Path | None
    sample_path: Path
    stats: FrameStats
    background_kind: str  # "rolling" (median of earlier frames), "self" or "radial" (fallbacks)
    background_frames: int  # earlier frames the rolling background used (0 for radial)


def sample_path_for(calibrated_path: Path) -> Path:
    """``<stem>.cal.fits`` -> ``<stem>.sample.npy`` beside it."""
    p = Path(calibrated_path)
    name = p.name
    stem = name[: -len(CAL_SUFFIX)] if name.endswith(CAL_SUFFIX) else p.stem
    return p.with_name(stem + SAMPLE_SUFFIX)


def product_paths(out_root: Path, detector: Detector, observed_at: datetime, name: str) -> dict:
    stem = Path(name).name.split(".")[0]
    folder = Path(out_root) / Detector(detector).value / observed_at.strftime("%Y%m%d")
    return {
        "cal": folder / f"{stem}.cal.fits",
        "bgsub": folder / f"{stem}.bgsub.fits",
        "diff": folder / f"{stem}.diff.fits",
        "png": folder / f"{stem}.png",
        "preview": folder / f"{stem}.preview.png",
        "thumb": folder / f"{stem}.thumb.png",
        "diff_png": folder / f"{stem}.diff.png",
        "sample": folder / f"{stem}{SAMPLE_SUFFIX}",
    }


class _LRU:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Path, np.ndarray] = OrderedDict()

    def get(self, key: Path) -> np.ndarray | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Path, value: np.ndarray) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class FrameProcessor:
    """Turns raw frames into products; keeps recent samples and the last frame in memory.

    ``history``: how many earlier frames the rolling background uses (median);
    ``min_history``: fewer earlier frames than this -> radial background;
    ``max_gap``: no running difference across a longer gap;
    ``background_window``: earlier frames older than this are not used for the background;
    ``fallback``: the background with too few earlier frames: ``"self"`` (default), the
    frame's own block median (the same reduced-resolution sample the rolling background
    uses: it removes streamers and wide rays and, being a median of 64 pixels, not stars or
    comets), or ``"radial"``, the azimuthal median profile. On simulated frames the radial
    model leaves every streamer and ray in the image (and the 16-px residual removal then
    draws blocks along them), hence the default.
    """

    def __init__(
        self,
        out_root: Path,
        *,
        history: int = HISTORY,
        min_history: int = MIN_HISTORY,
        max_gap: timedelta = timedelta(minutes=40),
        background_window: timedelta = BACKGROUND_WINDOW,
        saturation_dn: float = SATURATION_DN,
        fallback: str = FALLBACK,
    ) -> None:
        if fallback not in ("self", "radial"):
            raise ValueError(f"fallback must be 'self' or 'radial', not {fallback!r}")
        self.fallback = fallback
        self.out_root = Path(out_root)
        self.history = history
        self.min_history = min_history
        self.max_gap = max_gap
        self.background_window = background_window
        self.saturation_dn = saturation_dn
        self._samples = _LRU(4 * history + 8)  # both detectors interleaved, plus slack
        self._frames = _LRU(2)  # the previous calibrated frame of each detector

    # -- history ---------------------------------------------------------------------------
    def _sample(self, prior: PriorFrame, geo: Geometry, factor: int) -> np.ndarray | None:
        """The prior frame's sample: memory, else its ``.sample.npy``, else rebuilt from its
        calibrated FITS (a frame from an older version, or one sampled at another factor)
        and saved beside it, so the next run finds it."""
        path = sample_path_for(prior.calibrated_path)
        expected = (geo.shape[0] // factor, geo.shape[1] // factor)
        cached = self._samples.get(path)
        if cached is not None and cached.shape == expected:
            return cached
        try:
            sample = np.load(path, allow_pickle=False)
        except (FileNotFoundError, ValueError):
            sample = None
        if sample is None or sample.shape != expected:
            try:
                data = read_fits_data(prior.calibrated_path)
            except (FileNotFoundError, OSError, ValueError):
                return None
            if data.shape != geo.shape:
                return None
            sample = bg.make_sample(data, geo, factor)
            save_npy_atomic(path, sample)
        self._samples.put(path, sample)
        return sample

    def _calibrated(self, path: Path) -> np.ndarray | None:
        cached = self._frames.get(Path(path))
        if cached is not None:
            return cached
        try:
            data = read_fits_data(path)
        except (FileNotFoundError, OSError):
            return None
        self._frames.put(Path(path), data)
        return data

    # -- the work --------------------------------------------------------------------------
    def process(
        self,
        raw: np.ndarray,
        raw_header: fits.Header,
        info: FitsInfo,
        wcs: WCS,
        *,
        name: str,
        history: Sequence[PriorFrame],
    ) -> ProcessedFrame:
        det = Detector(info.detector)
        now = info.observed_at
        paths = product_paths(self.out_root, det, now, name)
        shape = raw.shape
        earlier = sorted(
            (p for p in history if p.observed_at < now and Path(p.calibrated_path) != paths["cal"]),
            key=lambda p: p.observed_at,
        )
        # the earlier frames' samples the background uses (memory, else disk)
        geo = geometry(shape, info.sun_x, info.sun_y)
        factor = sample_factor(det)
        chosen = background_history(
            now,
            earlier,
            lambda p: p.observed_at,
            history=self.history,
            window=self.background_window,
        )
        samples = [s for p in chosen if (s := self._sample(p, geo, factor)) is not None]

        # The products are encoded and written by two threads while this one computes:
        # zlib, file writes and numpy copies release the GIL, so writing (~40% of the work)
        # overlaps the background and difference arithmetic. Each file has one writer and
        # every write is atomic; process() returns only after all of them finished.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="imaging-write") as pool:
            jobs: list[Future[Path | None]] = []
            cal_cards: list[str] = []

            def write_calibrated(calibrated: Calibrated) -> None:
                cal_cards.extend(
                    product_cards(
                        raw_header,
                        observed_at=now,
                        wcs=wcs,
                        bunit="DN/s",
                        history=[f"comet_pipeline imaging: {s}" for s in calibrated.steps],
                    )
                )
                jobs.append(
                    pool.submit(write_fits_float32, paths["cal"], calibrated.data, cal_cards)
                )

            # 1-3. calibrate and mask, sample, background (shared with in-memory callers)
            science = process_frame(
                raw,
                info,
                samples,
                min_history=self.min_history,
                fallback=self.fallback,
                on_calibrated=write_calibrated,
            )
            calibrated, sample, sub = science.calibrated, science.sample, science.subtracted
            cal = calibrated.data
            jobs.append(pool.submit(save_npy_atomic, paths["sample"], sample))
            bgsub, kind, n_used = sub.bgsub, sub.kind, sub.frames
            bg_cards = with_cards(
                cal_cards,
                bunit="sigma",
                history=[f"comet_pipeline imaging: {s}" for s in sub.steps],
            )
            jobs.append(pool.submit(write_fits_float32, paths["bgsub"], bgsub, bg_cards))
            shown = to_display(display_bgsub(bgsub), info.roll_deg)
            jobs.append(
                pool.submit(write_png_set, shown, paths["png"], paths["preview"], paths["thumb"])
            )

            # 4. running difference
            diff = None
            previous = earlier[-1] if earlier else None
            if previous is not None:
                prev = self._calibrated(previous.calibrated_path)
                if prev is not None:
                    diff = running_difference(
                        cal, prev, current_time=now, previous_time=previous.observed_at,
                        max_gap=self.max_gap,
                    )  # fmt: skip
            diff_path = diff_png = None
            if diff is not None and previous is not None:  # a difference needs a previous
                gap_min = (now - previous.observed_at).total_seconds() / 60
                diff_cards = with_cards(
                    cal_cards,
                    history=[
                        f"comet_pipeline imaging: running difference minus {previous.name}"
                        f" ({gap_min:.1f} min earlier)"
                    ],
                )
                diff_path, diff_png = paths["diff"], paths["diff_png"]
                jobs.append(pool.submit(write_fits_float32, diff_path, diff, diff_cards))
                shown = to_display(display_difference(bg.nrgf(diff, geo)), info.roll_deg)
                jobs.append(pool.submit(write_png_set, shown, diff_png))
            else:
                for key in ("diff", "diff_png"):  # a stale product from an earlier run would lie
                    paths[key].unlink(missing_ok=True)

            # 5. stats
            stats = frame_stats(
                cal,
                calibrated.mask,
                raw,
                missing_blocks=calibrated.missing_blocks,
                saturation_dn=self.saturation_dn * info.binning**2,
            )
            for job in jobs:
                job.result()  # re-raise a failed write here

        self._frames.put(paths["cal"], cal)
        self._samples.put(paths["sample"], sample)
        return ProcessedFrame(
            name=name,
            detector=det,
            observed_at=now,
            calibrated_path=paths["cal"],
            background_path=paths["bgsub"],
            difference_path=diff_path,
            png_path=paths["png"],
            preview_path=paths["preview"],
            thumbnail_path=paths["thumb"],
            difference_png_path=diff_png,
            sample_path=paths["sample"],
            stats=stats,
            background_kind=kind,
            background_frames=n_used,
        )
