"""Which archive images feed the synoptic movie (the rest are SKIPPED with the reason).

Comet hunting compares consecutive frames, so it only works on one homogeneous series:
full-resolution, program ``Normal``, the detector's nominal filter and polarizer.
"""

from __future__ import annotations

from comet_pipeline.domain.models import ArchiveFile, Detector

SYNOPTIC_SIZE = 1024
SYNOPTIC_PROGRAM = "Normal"
NOMINAL_FILTERS: dict[Detector, tuple[str, str]] = {
    Detector.C2: ("Orange", "Clear"),
    Detector.C3: ("Clear", "Clear"),
}


def synoptic_reason(f: ArchiveFile) -> str | None:
    """``None`` if ``f`` is a synoptic science image, else a short reason why not."""
    if (f.naxis1, f.naxis2) != (SYNOPTIC_SIZE, SYNOPTIC_SIZE):
        if f.naxis1 < SYNOPTIC_SIZE and f.naxis2 < SYNOPTIC_SIZE and f.naxis1 == f.naxis2:
            return f"{f.naxis1}x{f.naxis2} binned image"
        return f"{f.naxis1}x{f.naxis2} image, not {SYNOPTIC_SIZE}x{SYNOPTIC_SIZE}"
    if f.program.strip().lower() != SYNOPTIC_PROGRAM.lower():
        return f"program {f.program!r} not {SYNOPTIC_PROGRAM}"
    want_filter, want_polar = NOMINAL_FILTERS[Detector(f.detector)]
    if (f.filter.strip().lower(), f.polarizer.strip().lower()) != (
        want_filter.lower(),
        want_polar.lower(),
    ):
        return (
            f"filter {f.filter}/{f.polarizer} not nominal {want_filter}/{want_polar} "
            f"for {Detector(f.detector).label}"
        )
    return None
