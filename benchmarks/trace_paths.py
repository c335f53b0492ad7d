"""Which of our modules one frame and one candidate pass through, on a real two-hour run.

``python -m benchmarks.trace_paths`` runs the ingest job in process on the simulator and
records every module of ours whose functions run while a frame's services (discover,
download, process) or the hunt are under way. Modules of the simulator behind ``sim://``
are counted apart: against the real archive they are not there.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

PHASES = {
    "comet_pipeline.ingest.discover": "frame",
    "comet_pipeline.ingest.download": "frame",
    "comet_pipeline.ingest.process": "frame",
    "comet_pipeline.ingest.hunt": "candidate",
}
ENTRIES = {"discover_window", "download_window", "process_window", "hunt_window"}


class _Tracer:
    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {"frame": set(), "candidate": set()}
        self.phase: str | None = None
        self.entry: FrameType | None = None

    def __call__(self, frame: FrameType, event: str, _arg: object) -> None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("comet_pipeline"):
            return
        if event == "return" and frame is self.entry:
            self.phase = self.entry = None
        elif event == "call":
            if self.phase is None and module in PHASES and frame.f_code.co_name in ENTRIES:
                self.phase, self.entry = PHASES[module], frame
            if self.phase is not None:
                self.seen[self.phase].add(module)


def main() -> int:
    from dagster import DagsterInstance

    from comet_pipeline.cli.runner import ingest_range
    from comet_pipeline.defs.resources import ClockResource
    from comet_pipeline.settings import Settings

    tracer = _Tracer()
    start = datetime(2025, 6, 10, 3, tzinfo=UTC)
    settings = Settings(home=Path(tempfile.mkdtemp()) / "home")
    settings.home.mkdir()
    clock = ClockResource(frozen_at=(start + timedelta(days=1)).isoformat())
    sys.setprofile(tracer)
    threading.setprofile(tracer)
    try:
        with DagsterInstance.ephemeral() as instance:
            ok = ingest_range(
                settings, start, start + timedelta(hours=2), instance=instance, clock=clock
            )
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]  # None clears it
    print(f"runs succeeded: {ok}")
    for phase, modules in tracer.seen.items():
        ours = sorted(m for m in modules if not m.endswith("__init__"))
        simulated = [m for m in ours if ".simulator" in m]
        ours = [m for m in ours if ".simulator" not in m]
        print(f"{phase}: {len(ours)} modules (+{len(simulated)} of the simulator behind sim://)")
        for module in ours:
            print(f"    {module}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
