"""Benchmarks: each ``bench_*.py`` module exposes ``run() -> dict`` of JSON-able figures."""

import os

# The benchmarks' simulated days lie in 2025, before the default partitions start (the
# month before last); a deployment that backfills them sets this too.
os.environ.setdefault("COMET_PARTITIONS_START", "2025-01-01")
