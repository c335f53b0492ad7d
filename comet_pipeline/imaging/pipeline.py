"""One raw frame in, every product out: the entry the ingest service calls.

Products (``out_root/<detector>/<YYYYMMDD>/<stem><suffix>``) are the entries of
:mod:`comet_pipeline.imaging.products`; each is written as soon as the science it needs
exists. Besides them, ``<stem>.sample.npy`` keeps the flattened calibrated frame
block-median-ed 4x (C2) or 8x (C3): the background input for later frames. Files an older
version wrote for the same frame under other names (``.cal.fits``, ``.diff.fits``…) are
removed when it is processed again.

All outputs are pure functions of the inputs (raw frame, header, history), written
atomically, so reprocessing gives identical bytes. Orientation: see :mod:`.orientation`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from comet_pipeline.domain.models import Detector, FitsInfo, Frame, ProductFile
from comet_pipeline.imaging import background as bg
from comet_pipeline.imaging.calibrate import SATURATION_DN, dn_scale
from comet_pipeline.imaging.difference import running_difference
from comet_pipeline.imaging.fitsio import (
    product_cards,
    read_fits_data,
    save_npy_atomic,
    with_cards,
)
from comet_pipeline.imaging.frame import (
    Calibrated,
    background_history,
    process_frame,
    sample_factor,
)
from comet_pipeline.imaging.geometry import Geometry, geometry
from comet_pipeline.imaging.products import (
    BY_NAME,
    CALIBRATED,
    PRODUCTS,
    ProductInputs,
    Stage,
    legacy_paths,
    product_paths,
)
from comet_pipeline.imaging.recipes import DEFAULT, ImagingKnobs, Recipe
from comet_pipeline.imaging.stats import frame_stats

SAMPLE_SUFFIX = ".sample.npy"
CAL_SUFFIX = BY_NAME[CALIBRATED].suffix
#: The calibrated product's names, this version's first (older ones: ``.cal.fits``).
CAL_SUFFIXES = (CAL_SUFFIX, *BY_NAME[CALIBRATED].legacy_suffixes)


def sample_path_for(calibrated_path: Path) -> Path:
    """``<stem>.cal.fits.fz`` (or an older ``<stem>.cal.fits``) -> ``<stem>.sample.npy``."""
    p = Path(calibrated_path)
    name = p.name
    suffix = next((s for s in CAL_SUFFIXES if name.endswith(s)), None)
    stem = name[: -len(suffix)] if suffix else p.stem
    return p.with_name(stem + SAMPLE_SUFFIX)


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

    ``recipe`` (:mod:`.recipes`): the preset these knobs come from; a knob passed here
    overrides the recipe's. A non-default recipe is recorded in every FITS product's header
    (``RECIPE`` and the knob values used); ``default`` adds nothing, so its products are
    those of a processor built before recipes existed, byte for byte.
    """

    def __init__(
        self,
        out_root: Path,
        *,
        recipe: Recipe = DEFAULT,
        history: int | None = None,
        min_history: int | None = None,
        max_gap: timedelta | None = None,
        background_window: timedelta | None = None,
        saturation_dn: float = SATURATION_DN,
        fallback: str | None = None,
    ) -> None:
        if fallback is not None and fallback not in ("self", "radial"):
            raise ValueError(f"fallback must be 'self' or 'radial', not {fallback!r}")
        base = recipe.imaging
        knobs = ImagingKnobs(
            history=base.history if history is None else history,
            min_history=base.min_history if min_history is None else min_history,
            max_gap=base.max_gap if max_gap is None else max_gap,
            background_window=base.background_window
            if background_window is None
            else background_window,
            fallback=base.fallback if fallback is None else fallback,
        )
        self.recipe = recipe
        self.knobs: ImagingKnobs = knobs
        self.fallback = knobs.fallback
        self.out_root = Path(out_root)
        self.history = knobs.history
        self.min_history = knobs.min_history
        self.max_gap = knobs.max_gap
        self.background_window = knobs.background_window
        self.saturation_dn = saturation_dn
        self._recipe_cards = recipe.cards(knobs)
        self._samples = _LRU(4 * self.history + 8)  # both detectors interleaved, plus slack
        self._frames = _LRU(2)  # the previous calibrated frame of each detector

    def like(self) -> FrameProcessor:
        """A processor with the same settings and empty memory: one per thread (the caches
        are not shared between threads)."""
        return FrameProcessor(
            self.out_root,
            recipe=self.recipe,
            history=self.history,
            min_history=self.min_history,
            max_gap=self.max_gap,
            background_window=self.background_window,
            saturation_dn=self.saturation_dn,
            fallback=self.fallback,
        )

    # -- history ---------------------------------------------------------------------------
    def _sample(self, prior: Frame, geo: Geometry, factor: int) -> np.ndarray | None:
        """The prior frame's sample: memory, else its ``.sample.npy``, else rebuilt from its
        calibrated FITS (a frame from an older version, or one sampled at another factor)
        and saved beside it, so the next run finds it."""
        calibrated_path = _calibrated_path(prior)
        if calibrated_path is None:
            return None
        path = sample_path_for(calibrated_path)
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
                data = read_fits_data(calibrated_path)
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
        history: Sequence[Frame],
    ) -> Frame:
        """All products of one raw frame; ``history`` are earlier frames of its detector."""
        det = Detector(info.detector)
        now = info.observed_at
        paths = product_paths(self.out_root, det, now, name)
        sample_path = sample_path_for(paths[CALIBRATED])
        earlier = sorted(
            (
                p
                for p in history
                if p.observed_at < now and (c := _calibrated_path(p)) and c != paths[CALIBRATED]
            ),
            key=lambda p: p.observed_at,
        )
        geo = geometry(raw.shape, info.sun_x, info.sun_y)
        factor = sample_factor(det)
        chosen = background_history(
            now,
            earlier,
            lambda p: p.observed_at,
            history=self.history,
            window=self.background_window,
        )
        samples = [s for p in chosen if (s := self._sample(p, geo, factor)) is not None]
        inputs = ProductInputs(geometry=geo, roll_deg=info.roll_deg)
        history_of = "comet_pipeline imaging: {}".format

        # The products are encoded and written by two threads while this one computes:
        # zlib, file writes and numpy copies release the GIL, so writing (~40% of the work)
        # overlaps the background and difference arithmetic. Each file has one writer and
        # every write is atomic; process() returns only after all of them finished.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="imaging-write") as pool:
            jobs: dict[str, Future[object]] = {}

            def write(stage: Stage) -> None:
                for spec in PRODUCTS:
                    if spec.stage is stage:
                        jobs[spec.name] = pool.submit(spec.render, inputs, paths[spec.name])

            def on_calibrated(calibrated: Calibrated) -> None:
                inputs.calibrated = calibrated.data
                inputs.raw, inputs.mask = raw, calibrated.mask
                inputs.dn_offset = info.offset
                inputs.dn_scale = dn_scale(info.exptime, info.binning)
                inputs.calibrated_cards = (
                    product_cards(
                        raw_header,
                        observed_at=now,
                        wcs=wcs,
                        bunit="DN/s",
                        history=[history_of(s) for s in calibrated.steps],
                    )
                    + self._recipe_cards
                )  # every product's cards start from these
                write(Stage.CALIBRATED)

            # 1-3. calibrate and mask, sample, background (shared with in-memory callers)
            science = process_frame(
                raw,
                info,
                samples,
                min_history=self.min_history,
                fallback=self.fallback,
                on_calibrated=on_calibrated,
            )
            calibrated, sample, sub = science.calibrated, science.sample, science.subtracted
            cal = calibrated.data
            sample_job = pool.submit(save_npy_atomic, sample_path, sample)
            inputs.set_subtracted(
                sub.bgsub,
                with_cards(
                    inputs.calibrated_cards,
                    bunit="sigma",
                    history=[history_of(s) for s in sub.steps],
                ),
            )
            write(Stage.SUBTRACTED)

            # 4. running difference
            diff = None
            previous = earlier[-1] if earlier else None
            if previous is not None:
                prev = self._calibrated(Path(_calibrated_path(previous) or ""))
                if prev is not None:
                    diff = running_difference(
                        cal, prev, current_time=now, previous_time=previous.observed_at,
                        max_gap=self.max_gap,
                    )  # fmt: skip
            if diff is not None and previous is not None:  # a difference needs a previous
                gap_min = (now - previous.observed_at).total_seconds() / 60
                inputs.set_difference(
                    diff,
                    with_cards(
                        inputs.calibrated_cards,
                        history=[
                            history_of(f"running difference minus {previous.name}")
                            + f" ({gap_min:.1f} min earlier)"
                        ],
                    ),
                )
                write(Stage.DIFFERENCE)
            else:  # a stale product from an earlier run would lie
                for spec in PRODUCTS:
                    if spec.stage is Stage.DIFFERENCE:
                        paths[spec.name].unlink(missing_ok=True)
            for old in legacy_paths(self.out_root, det, now, name):  # replaced, or retired
                old.unlink(missing_ok=True)

            # 5. stats
            stats = frame_stats(
                cal,
                calibrated.mask,
                raw,
                missing_blocks=calibrated.missing_blocks,
                saturation_dn=self.saturation_dn * info.binning**2,
            )
            sample_job.result()
            for job in jobs.values():
                job.result()  # re-raise a failed write here

        self._frames.put(paths[CALIBRATED], cal)
        self._samples.put(sample_path, sample)
        return Frame(
            name=name,
            detector=det,
            observed_at=now,
            products={
                product: ProductFile(str(paths[product]), paths[product].stat().st_size)
                for product in jobs
            },
            stats=stats.as_dict(),
            background_kind=sub.kind,
            background_frames=sub.frames,
            roll_deg=info.roll_deg,
            naxis1=info.naxis1,
            naxis2=info.naxis2,
        )


def _calibrated_path(frame: Frame) -> Path | None:
    path = frame.path(CALIBRATED)
    return None if path is None else Path(path)
