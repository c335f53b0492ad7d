"""A candidate's light curve: its flux and SNR frame by frame, measured on the products.

For every stored detection the processed (background-subtracted, sigma-normalised) frame is
read from disk and the source measured in a small aperture against an annulus around it
(``imaging.regions.aperture_photometry``). That is independent of the matched filter the
hunter used, so a track whose flux jumps about, or whose SNR is high only to the detector,
shows it. Written as an ECSV table with units and a small PNG drawn with PIL alone (the
project has no plotting library and does not need one for two panels of points).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Column, Table
from astropy.time import Time
from PIL import Image, ImageDraw, ImageFont

from comet_pipeline.domain import CandidateRecord, DetectionRecord
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.imaging.regions import (
    ANNULUS_PX,
    APERTURE_PX,
    NOISE_SIGMA,
    Photometry,
    aperture_photometry,
)
from comet_pipeline.ingest.analysis import AnalysisError, write_table
from comet_pipeline.store import LifecycleStore


@dataclass(frozen=True)
class LightCurvePoint:
    """One detection measured: ``photometry`` is None when its product is not on disk."""

    detection: DetectionRecord
    photometry: Photometry | None


@dataclass(frozen=True)
class LightCurve:
    candidate: CandidateRecord
    points: list[LightCurvePoint]
    radius: float
    annulus: tuple[float, float]

    def table(self) -> Table:
        """One row per detection, oldest first, with units (the frames' ``sigma``)."""
        nan = float("nan")
        rows = [
            (p.detection, p.photometry or Photometry(nan, nan, nan, nan, 0, 0)) for p in self.points
        ]
        times = [d.observed_at for d, _ in rows]
        hours = [(t - times[0]).total_seconds() / 3600.0 for t in times] if times else []

        def col(values: list[float], name: str, unit: u.UnitBase | None, doc: str) -> Column:
            return Column(np.array(values, dtype=float), name=name, unit=unit, description=doc)

        table = Table(
            [
                Column([d.file for d, _ in rows], name="file", dtype=str, description="frame"),
                Column(
                    Time(times).isot if times else np.array([], dtype=str),
                    name="observed_at",
                    dtype=str,
                    description="observation time (UTC, ISO)",
                ),
                col(hours, "hours", u.h, "since the first detection"),
                col([d.x for d, _ in rows], "x", u.pix, "FITS column (0-based)"),
                col([d.y for d, _ in rows], "y", u.pix, "FITS row (0-based)"),
                col([m.flux for _, m in rows], "flux", NOISE_SIGMA, "aperture sum - background"),
                col([m.flux_err for _, m in rows], "flux_err", NOISE_SIGMA, "1-sigma error"),
                col([m.snr for _, m in rows], "snr", u.dimensionless_unscaled, "flux / flux_err"),
                col(
                    [m.background for _, m in rows],
                    "background",
                    NOISE_SIGMA,
                    "local level per pixel (annulus median)",
                ),
                Column(
                    [m.n_aperture for _, m in rows],
                    name="n_aperture",
                    dtype=int,
                    description="finite pixels in the aperture",
                ),
                col(
                    [nan if d.snr is None else d.snr for d, _ in rows],
                    "detector_snr",
                    u.dimensionless_unscaled,
                    "the hunter's matched-filter SNR",
                ),
                Column(
                    [p.photometry is not None for p in self.points],
                    name="measured",
                    dtype=bool,
                    description="False: the processed product is not on disk",
                ),
            ]
        )
        c = self.candidate
        table.meta.update(
            {
                "candidate": c.id,
                "detector": c.detector,
                "product": PROCESSED,
                "aperture_px": self.radius,
                "annulus_px": list(self.annulus),
                "pixels": "FITS array, 0-based, (0,0) lower left",
            }
        )
        return table


def light_curve(
    store: LifecycleStore,
    candidate_id: str,
    *,
    radius: float = APERTURE_PX,
    annulus: tuple[float, float] = ANNULUS_PX,
) -> LightCurve:
    """Measure every detection of a stored candidate on its processed frame."""
    candidate = store.candidate(candidate_id)
    if candidate is None:
        raise AnalysisError(f"no candidate {candidate_id!r} in the store")
    points: list[LightCurvePoint] = []
    for det in sorted(store.detections_for(candidate_id), key=lambda d: d.observed_at):
        frame = store.frame(det.file)
        path = None if frame is None else frame.path(PROCESSED)
        if path is None or not Path(path).exists():
            points.append(LightCurvePoint(det, None))
            continue
        image, _ = read_image(Path(path))
        points.append(
            LightCurvePoint(
                det, aperture_photometry(image, det.x, det.y, radius=radius, annulus=annulus)
            )
        )
    return LightCurve(candidate, points, radius, annulus)


@dataclass(frozen=True)
class LightCurveFiles:
    table: Path
    plot: Path
    rows: int
    measured: int


def write_light_curve(curve: LightCurve, folder: Path) -> LightCurveFiles:
    """``<id>.lightcurve.ecsv`` and ``<id>.lightcurve.png`` in ``folder``."""
    table = curve.table()
    stem = f"{curve.candidate.id}.lightcurve"
    ecsv = write_table(table, folder / f"{stem}.ecsv")
    png = folder / f"{stem}.png"
    partial = png.with_name(png.name + ".part")
    plot_light_curve(
        table, title=f"{curve.candidate.id} ({curve.candidate.detector.upper()})"
    ).save(partial, format="PNG")
    partial.replace(png)
    return LightCurveFiles(ecsv, png, len(table), int(np.count_nonzero(table["measured"])))


# -- the plot: two panels (flux with error bars, SNR), drawn with PIL -----------------------

_W, _H = 640, 420
_LEFT, _RIGHT, _TOP, _GAP, _BOTTOM = 64, 16, 28, 26, 40
_INK, _GRID, _FLUX, _SNR, _DET = (
    (20, 20, 20),
    (215, 215, 215),
    (31, 90, 180),
    (200, 70, 30),
    (120, 120, 120),
)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 x 10^k steps)."""
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return [lo] if np.isfinite(lo) else []
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = np.ceil(lo / step) * step
    # rounded to the step, so 0 is 0 and not -0 or 1e-17
    return [round(float(v) / step) * step + 0.0 for v in np.arange(first, hi + step * 1e-9, step)]


def _limits(values: np.ndarray, *, zero: bool = True) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.5
    return lo - pad, hi + pad


def plot_light_curve(table: Table, *, title: str = "") -> Image.Image:
    """Flux (top, error bars) and SNR (bottom; aperture filled, the detector's hollow) against
    hours since the first detection. Rows not measured are left out."""
    font = ImageFont.load_default(size=12)
    img = Image.new("RGB", (_W, _H), "white")
    draw = ImageDraw.Draw(img)
    ok = np.asarray(table["measured"], dtype=bool) if len(table) else np.zeros(0, bool)
    t = np.asarray(table["hours"], dtype=float)[ok]
    flux = np.asarray(table["flux"], dtype=float)[ok]
    err = np.asarray(table["flux_err"], dtype=float)[ok]
    snr = np.asarray(table["snr"], dtype=float)[ok]
    det = np.asarray(table["detector_snr"], dtype=float)[ok]
    t0, t1 = _limits(t, zero=False)
    panel_h = (_H - _TOP - _GAP - _BOTTOM) // 2
    x_of = lambda v: _LEFT + (v - t0) / (t1 - t0) * (_W - _LEFT - _RIGHT)  # noqa: E731

    draw.text((_LEFT, 6), title or "light curve", fill=_INK, font=font)
    panels = (
        (_TOP, np.concatenate([flux - err, flux + err]), "flux [sigma]"),
        (_TOP + panel_h + _GAP, np.concatenate([snr, det]), "SNR"),
    )
    mappers = []
    for top, values, label in panels:
        lo, hi = _limits(values)
        bottom = top + panel_h

        def y_of(v: float, lo: float = lo, hi: float = hi, bottom: int = bottom) -> float:
            return bottom - (v - lo) / (hi - lo) * panel_h

        mappers.append(y_of)
        for tick in _ticks(lo, hi):
            y = y_of(tick)
            draw.line([(_LEFT, y), (_W - _RIGHT, y)], fill=_GRID)
            draw.text((_LEFT - 6, y), f"{tick:g}", fill=_INK, font=font, anchor="rm")
        draw.rectangle([_LEFT, top, _W - _RIGHT, bottom], outline=_INK)
        draw.text((_LEFT + 6, top + 4), label, fill=_INK, font=font)
        if lo < 0 < hi:
            draw.line([(_LEFT, y_of(0.0)), (_W - _RIGHT, y_of(0.0))], fill=_INK)
    bottom = _TOP + 2 * panel_h + _GAP
    for tick in _ticks(t0, t1):
        x = x_of(tick)
        draw.line([(x, bottom), (x, bottom + 4)], fill=_INK)
        draw.text((x, bottom + 6), f"{tick:g}", fill=_INK, font=font, anchor="ma")
    draw.text(
        ((_LEFT + _W - _RIGHT) / 2, _H - 14),
        "hours since first detection",
        fill=_INK,
        font=font,
        anchor="mm",
    )
    y_flux, y_snr = mappers
    for ti, fi, ei in zip(t, flux, err, strict=True):
        if not np.isfinite(fi):
            continue
        x = x_of(ti)
        if np.isfinite(ei):
            draw.line([(x, y_flux(fi - ei)), (x, y_flux(fi + ei))], fill=_FLUX, width=1)
        draw.ellipse([x - 3, y_flux(fi) - 3, x + 3, y_flux(fi) + 3], fill=_FLUX)
    for ti, si, di in zip(t, snr, det, strict=True):
        x = x_of(ti)
        if np.isfinite(di):
            draw.ellipse([x - 4, y_snr(di) - 4, x + 4, y_snr(di) + 4], outline=_DET)
        if np.isfinite(si):
            draw.ellipse([x - 3, y_snr(si) - 3, x + 3, y_snr(si) + 3], fill=_SNR)
    legend_y = 6  # on the title line, clear of the points
    draw.ellipse([_W - 250, legend_y + 2, _W - 244, legend_y + 8], fill=_SNR)
    draw.text((_W - 238, legend_y), "aperture SNR", fill=_INK, font=font)
    draw.ellipse([_W - 140, legend_y + 1, _W - 132, legend_y + 9], outline=_DET)
    draw.text((_W - 126, legend_y), "detector SNR", fill=_INK, font=font)
    return img
