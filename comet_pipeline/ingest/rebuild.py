"""Re-register the raw files on disk in a store that lost them.

Each raw FITS is read (header only), registered as the archive would have listed it, and
walked through the lifecycle to READY with its path and checksum, every step audited as a
rebuild; processing then writes its frame products again, byte for byte as before.
A file that cannot be read is reported and left where it is.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from astropy.io import fits

from comet_pipeline.archive.fits_header import parse_fits_header
from comet_pipeline.domain import ArchiveFile, FileState
from comet_pipeline.ingest.home import raw_files
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.settings import HomeLayout
from comet_pipeline.store import LifecycleStore

Progress = Callable[[int, int], None]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _archive_file(path: Path) -> ArchiveFile:
    with fits.open(path, memmap=False) as hdul:
        info = parse_fits_header(hdul[0].header)
    return ArchiveFile(
        name=path.name,
        detector=info.detector,
        observed_at=info.observed_at,
        exptime=info.exptime,
        naxis1=info.naxis1,
        naxis2=info.naxis2,
        filter=info.filter,
        polarizer=info.polarizer,
        program=info.program,
    )


def rebuild_from_disk(
    store: LifecycleStore,
    layout: HomeLayout,
    *,
    now: datetime,
    run_id: str = "store-rebuild",
    progress: Progress | None = None,
) -> StepResult:
    started = time.perf_counter()
    result = StepResult()
    paths = list(raw_files(layout))
    for done, path in enumerate(paths):
        if progress is not None:
            progress(done, len(paths))
        try:
            entry = _archive_file(path)
        except Exception as err:  # noqa: BLE001 - one unreadable file must not stop the rest
            result.count("unreadable")
            result.add_error(f"{path}: {type(err).__name__}: {err}")
            continue
        if not store.register_files([entry], now=now, run_id=run_id):
            result.count("already_known", entry.detector.value)
            continue
        why = "rebuilt from disk"
        store.transition(entry.name, FileState.DOWNLOADING, now=now, run_id=run_id, reason=why)
        store.transition(
            entry.name,
            FileState.DOWNLOADED,
            now=now,
            run_id=run_id,
            reason=why,
            raw_path=str(path),
            sha256=_sha256(path),
        )
        store.transition(entry.name, FileState.READY, now=now, run_id=run_id, reason=why)
        result.count("rebuilt", entry.detector.value)
    result.elapsed_s = time.perf_counter() - started
    return result
