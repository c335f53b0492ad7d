"""Benchmarks: each ``bench_*.py`` module exposes ``run() -> dict`` of JSON-able figures."""
