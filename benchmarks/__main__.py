"""Run every ``benchmarks/bench_*.py`` (or those named on the command line); print JSON.

python -m benchmarks            # all
python -m benchmarks store      # only bench_store.py
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time

import benchmarks


def main(argv: list[str]) -> int:
    wanted = set(argv)
    names = sorted(
        m.name
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_") and (not wanted or m.name.removeprefix("bench_") in wanted)
    )
    results: dict[str, object] = {}
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        start = time.perf_counter()
        figures = module.run()
        figures["wall_seconds"] = round(time.perf_counter() - start, 1)
        results[name.removeprefix("bench_")] = figures
        print(json.dumps({name.removeprefix("bench_"): figures}), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
