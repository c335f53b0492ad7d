"""C2 + C3 mosaic speed on real processed frames of the simulated archive.

* ``hourly_ms_median``: one ``build_hourly_mosaic`` (store query, both background-subtracted
  products read and RICE-decoded, C2 box-averaged and reprojected into C3's grid, feathered,
  the FITS written compressed and the 1024² PNG written), median over every processed hour
  x ``REPEAT``. Target: <= 250 ms on 2 cores.
* ``build_ms_median``: :func:`imaging.mosaic.build_mosaic` alone on arrays already read.
* ``daily_ms``: the day's median mosaic from the hourly ones already on disk.
* ``mosaic_fits_bytes`` / ``mosaic_png_bytes``: one hourly mosaic's files.

The frames (``HOURS`` hours of both detectors) are ingested and processed first, untimed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from comet_pipeline.domain import Detector
from comet_pipeline.imaging.fitsio import read_image
from comet_pipeline.imaging.mosaic import build_mosaic, celestial_wcs
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.imaging.products import PROCESSED
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.mosaics import build_daily_mosaic, build_hourly_mosaic, pick_pair
from comet_pipeline.ingest.process import process_window
from comet_pipeline.settings import Settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore

START = datetime(2025, 6, 10, 3, tzinfo=UTC)
NOW = datetime(2025, 6, 11, 12, tzinfo=UTC)
HOURS = 3
REPEAT = 3
DETECTORS = (Detector.C2, Detector.C3)


def run() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        settings.home.mkdir(parents=True)
        store = SQLiteStore(settings.layout.lifecycle_db)
        client = simulated_client(
            "sim://lasco",
            "sim://schedule",
            sim_archive=SimArchive(SimConfig(seed=7), clock=lambda: NOW),
        )
        end = START + timedelta(hours=HOURS)
        discover_window(store, client, DETECTORS, START, end, now=NOW, run_id="bench")
        download_window(
            store, client, settings.layout.raw_dir, START, end, clock=lambda: NOW, owner="b"
        )
        process_window(
            store,
            FrameProcessor(settings.layout.frames_dir),
            START,
            end,
            clock=lambda: NOW,
            owner="b",
        )
        products = settings.layout.products_dir
        hours = [START + timedelta(hours=h) for h in range(HOURS)]

        build_hourly_mosaic(store, products, hours[0])  # warm-up (imports, caches)
        samples = []
        last = None
        for _ in range(REPEAT):
            for hour in hours:
                started = time.perf_counter()
                last = build_hourly_mosaic(store, products, hour)
                samples.append((time.perf_counter() - started) * 1000.0)
                assert last.files is not None, last.reason

        builds = []
        for hour in hours:
            c2, c3 = pick_pair(
                store.frames_between(Detector.C2, hour, hour + timedelta(hours=1)),
                store.frames_between(Detector.C3, hour, hour + timedelta(hours=1)),
                hour,
            )
            assert c2 is not None
            assert c3 is not None
            a, ha = read_image(Path(str(c2.path(PROCESSED))))
            b, hb = read_image(Path(str(c3.path(PROCESSED))))
            wa, wb = celestial_wcs(ha), celestial_wcs(hb)
            for _ in range(REPEAT):
                started = time.perf_counter()
                build_mosaic(a, wa, b, wb)
                builds.append((time.perf_counter() - started) * 1000.0)

        started = time.perf_counter()
        daily = build_daily_mosaic(store, products, START.date())
        daily_ms = (time.perf_counter() - started) * 1000.0
        assert last is not None
        assert last.files is not None
        assert daily.built_hours == 0
        return {
            "hourly_ms_median": round(statistics.median(samples), 1),
            "hourly_ms_max": round(max(samples), 1),
            "hourly_samples": len(samples),
            "build_ms_median": round(statistics.median(builds), 1),
            "daily_ms": round(daily_ms, 1),
            "daily_hours": len(daily.hours),
            "mosaic_fits_bytes": last.files.fits.stat().st_size,
            "mosaic_png_bytes": last.files.png.stat().st_size,
        }
