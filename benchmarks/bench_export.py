"""Export throughput: rows per second of ``comet-pipeline export detections`` per format.

A SQLite store with ``N_CANDIDATES`` candidates of ``TRACK`` detections each (100k rows) on
``TRACK`` files in one day; each format is written to a file in a temporary directory, in
the export's chunks of 5,000 rows, and timed end to end (store reads included). ``read_only``
times the store read and row building alone, without a writer. Median of ``REPEATS`` runs;
noisy on a shared 2-core machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from comet_pipeline.domain import (
    ArchiveFile,
    CandidateRecord,
    CandidateStatus,
    DetectionRecord,
    Detector,
)
from comet_pipeline.ingest.export import FORMATS, ExportQuery, export, query_rows
from comet_pipeline.store import LifecycleStore, open_store

N_CANDIDATES = 1_000
TRACK = 100
REPEATS = 3
T0 = datetime(2025, 6, 10, tzinfo=UTC)
STEP = timedelta(minutes=12)


def _fill(store: LifecycleStore) -> None:
    files = [
        ArchiveFile(f"3{i:07d}.fts", Detector.C3, T0 + i * STEP, 18.0, 1024, 1024)
        for i in range(TRACK)
    ]
    store.register_files(files, now=T0)
    for c in range(N_CANDIDATES):
        cid = f"c3-20250610-{c:04d}"
        store.upsert_candidate(
            CandidateRecord(
                cid,
                "c3",
                T0,
                T0 + (TRACK - 1) * STEP,
                TRACK,
                0.5,
                6.0,
                4.0,
                200.0,
                CandidateStatus.NEW,
                None,
                None,
            ),
            now=T0,
        )
        store.replace_detections(
            cid,
            [
                DetectionRecord(f.name, f.observed_at, 100.0 + i, 200.0 + c % 500, 40.0, 6.5)
                for i, f in enumerate(files)
            ],
        )


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "lifecycle.db")
        started = time.perf_counter()
        _fill(store)
        fill_s = time.perf_counter() - started
        query = ExportQuery("detections", T0, T0 + timedelta(days=1), (Detector.C3,))
        figures: dict[str, object] = {
            "rows": N_CANDIDATES * TRACK,
            "fill_seconds": round(fill_s, 1),
        }
        samples = []
        for _ in range(REPEATS):
            t = time.perf_counter()
            n = sum(1 for _ in query_rows(store, query))
            samples.append(time.perf_counter() - t)
        figures["read_only_rows_per_s"] = round(n / statistics.median(samples))
        for fmt in FORMATS:
            times, size = [], 0
            for _ in range(REPEATS):
                path = Path(tmp) / f"detections.{fmt}"
                with path.open("w", encoding="utf-8", newline="") as out:
                    result = export(store, query, fmt, out)
                times.append(result.elapsed_s)
                size = path.stat().st_size
            assert result.rows == N_CANDIDATES * TRACK
            figures[f"{fmt}_rows_per_s"] = round(result.rows / statistics.median(times))
            figures[f"{fmt}_mb"] = round(size / 1e6, 1)
        store.close()
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
