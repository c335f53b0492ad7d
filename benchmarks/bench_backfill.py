"""Backfill a simulated week of C2+C3 the way a user does, and extrapolate to a year.

What a deployment runs: a ``dagster-webserver`` and a ``dagster-daemon`` over the repo's
``workspace.yaml``, on a fresh ``DAGSTER_HOME`` holding the repo's real ``dagster.yaml``
(queued run coordinator: at most 4 runs, 2 tagged ``comet/archive``; pools of one step;
run monitoring and retries) and a fresh ``COMET_HOME`` with the default settings (SQLite
store, ``sim://`` archive). The sensors and schedules, which run by default, are stopped
over GraphQL before the daemon starts (they would ingest the wall clock's today), then one
asset backfill is launched over GraphQL, as the UI's "Materialize..." dialog does: the
days of ``downlink_slots`` and the hours of the four hourly assets (the ``ingest_hour``
job's). The daemon launches the runs (``BackfillPolicy.multi_run(12)``: ranges of at most
12 hours per run), each run worker runs its steps with Dagster's default executor
(multiprocess, one spawned process per step, at most 2 at once).

The clock is the wall clock (no setting freezes it in a deployed code location): the week
is in 2025, long past, so every file has arrived and the simulated archive is the same
at every run.

Figures: wall seconds from the backfill's launch to the end of its last run; frames (C2,
C3) and frames/s; the year this extrapolates to (210 frames a day x 365) against the 1 h
target; per-stage seconds from the event log (step durations), from the assets'
``elapsed_s`` metadata (the service alone) and in CPU (each step's process, matched to the
event log); the cost of run and step start-ups; the time no run was executing
(orchestration latency) and the gaps in the chain of ``processed_frames`` runs; peak RSS
per process role (VmHWM, sampled); CPU seconds per role, how busy the two cores were
(the pipeline's processes, and the whole machine: others share it) and the load average.
Every frame of the week must be PROCESSED (the store against the simulator's listing),
or the bench fails.

Environment:

* ``COMET_BENCH_BACKFILL_DAYS`` (default 7): the length; 1 for a quick look (~4 min).
* ``COMET_BENCH_BACKFILL_KEEP=<dir>``: work there and keep it (homes, logs,
  ``timeline.txt`` of the runs, ``processes.tsv`` of every process seen).
* What-ifs, to measure a change before making it (the default is the project as it is):
  ``COMET_BENCH_BACKFILL_RUN_CONFIG=<json>``, the backfill's run config, e.g.
  ``{"execution": {"config": {"in_process": {}}}}``; ``COMET_BENCH_BACKFILL_MODE=ranged``,
  the hours as one run (what ``BackfillPolicy.single_run()`` would launch).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import psutil
import requests

if TYPE_CHECKING:
    from dagster import DagsterInstance

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCATION = "comet_pipeline"
REPOSITORY = "__repository__"
START = datetime(2025, 6, 10, tzinfo=UTC)
DAYS = int(os.environ.get("COMET_BENCH_BACKFILL_DAYS", "7"))
HOURLY_FORMAT = "%Y-%m-%d-%H:%M"  # defs/partitions.py's (not imported: it reads settings)
HOURLY_ASSETS = ["discovered_files", "downloaded_files", "processed_frames", "comet_candidates"]
DAILY_ASSETS = ["downlink_slots"]
#: What the year extrapolation assumes (C2+C3 synoptic frames a day) and the target.
FRAMES_PER_DAY = 210
YEAR_TARGET_HOURS = 1.0
TARGET_FRAMES_PER_S = FRAMES_PER_DAY * 365 / (YEAR_TARGET_HOURS * 3600)
PEAK_RSS_TARGET_MB = 800
SAMPLE_S = 0.2
#: "backfill" (what a user does; the default) or "ranged" (a what-if: see _ranged)
MODE = os.environ.get("COMET_BENCH_BACKFILL_MODE", "backfill")
METHODS = {
    "backfill": "dagster-webserver + dagster-daemon; one asset backfill launched over GraphQL",
    "ranged": "dagster-webserver + dagster-daemon; slots backfill, then one ranged run",
}
TIMEOUT_S = 3 * 3600

SENSORS_AND_SCHEDULES = """
query Instigators($repo: RepositorySelector!) {
  sensorsOrError(repositorySelector: $repo) {
    __typename ... on Sensors { results { id name sensorState { status } } }
  }
  schedulesOrError(repositorySelector: $repo) {
    __typename ... on Schedules { results { id name scheduleState { status } } }
  }
}
"""
STOP_SENSOR = "mutation Stop($id: String) { stopSensor(id: $id) { __typename } }"
STOP_SCHEDULE = "mutation Stop($id: String) { stopRunningSchedule(id: $id) { __typename } }"
DAEMONS = """
query Daemons { instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }
"""
LAUNCH_BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on InvalidSubsetError { message }
    ... on PartitionSetNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename ... on PartitionBackfill { status } ... on PythonError { message }
  }
}
"""
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN_STATUS = """
query Status($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run { status } } }
"""
#: Backfill statuses that mean it is over.
FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


# ------------------------------------------------------------------------ processes


def _role(cmdline: list[str], parent: str) -> str:
    """What a process is, from its command line and its parent's role: a code server
    spawns run workers (multiprocessing), a run worker spawns one step worker per step."""
    text = " ".join(cmdline)
    if "multiprocessing.spawn" in text:
        return "run_worker" if parent == "code_server" else "step_worker"
    if "multiprocessing.forkserver" in text:  # the forkserver start method's server, forks
        return "step_worker"
    if "multiprocessing.resource_tracker" in text:
        return "mp_resource_tracker"
    if "execute_run" in text or "execute_step" in text:
        return "run_worker"
    if "watch_orphans" in text or (cmdline and Path(cmdline[0]).name == "tail"):
        return "compute_log_tail"
    if "dagster-webserver" in text:
        return "webserver"
    if "dagster-daemon" in text:
        return "daemon"
    if "grpc" in text or "code-server" in text or "code_server" in text:
        return "code_server"
    return "other:" + (Path(cmdline[0]).name if cmdline else "?")


@dataclass
class _Proc:
    role: str
    cmd: str
    first: float
    last: float
    pid: int = 0
    ppid: int = 0
    hwm_kb: int = 0
    cpu_start: float | None = None  # CPU seconds when the window opened (None: born in it)
    cpu_last: float = 0.0

    @property
    def cpu_s(self) -> float:
        return self.cpu_last - (self.cpu_start or 0.0)


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


class ProcessSampler:
    """Every ``SAMPLE_S``: the process trees under ``roots``: peak RSS (VmHWM, the kernel's
    own high-water mark, so a peak between samples is not missed), CPU seconds, role.

    A process that exits between two samples loses its CPU of that last interval (< 0.2 s
    each): the CPU figures are a slight underestimate; system-wide CPU is reported too.
    """

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.procs: dict[tuple[int, float], _Proc] = {}
        self.window_open: float | None = None
        self.window_close: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._sys_cpu: list[tuple[float, float, float]] = []  # (t, busy_s, total_s)

    def start(self) -> None:
        self._thread.start()

    def open_window(self) -> None:
        self._sample()
        self.window_open = time.time()
        for p in self.procs.values():
            p.cpu_start = p.cpu_last
        self._sys_cpu = [self._system_cpu()]

    def close_window(self) -> None:
        self._sample()
        self.window_close = time.time()
        self._sys_cpu.append(self._system_cpu())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @staticmethod
    def _system_cpu() -> tuple[float, float, float]:
        t = psutil.cpu_times()
        total = sum(t)
        return time.time(), total - t.idle - getattr(t, "iowait", 0.0), total

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(SAMPLE_S)

    def _sample(self) -> None:
        now = time.time()
        for root in self.roots:
            try:
                top = psutil.Process(root)
                tree = [top, *top.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            roles: dict[int, str] = {}
            for proc in tree:  # parents before children
                try:
                    key = (proc.pid, proc.create_time())
                    entry = self.procs.get(key)
                    if entry is None:
                        cmdline = proc.cmdline()
                        role = _role(cmdline, roles.get(proc.ppid(), ""))
                        entry = _Proc(
                            role, " ".join(cmdline)[:300], now, now, proc.pid, proc.ppid()
                        )
                        self.procs[key] = entry
                    roles[proc.pid] = entry.role
                    cpu = proc.cpu_times()
                    entry.cpu_last = cpu.user + cpu.system
                    entry.hwm_kb = max(entry.hwm_kb, _status_kb(proc.pid, "VmHWM:"))
                    entry.last = now
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    continue

    def figures(self) -> dict:
        start, end = self.window_open or 0.0, self.window_close or time.time()
        by_role: dict[str, dict] = defaultdict(lambda: {"count": 0, "cpu_s": 0.0, "peak_mb": 0})
        for p in self.procs.values():
            if p.last < start or p.first > end:
                continue
            row = by_role[p.role]
            row["count"] += 1
            row["cpu_s"] += p.cpu_s
            row["peak_mb"] = max(row["peak_mb"], round(p.hwm_kb / 1024))
        roles = {k: {**v, "cpu_s": round(v["cpu_s"], 1)} for k, v in sorted(by_role.items())}
        wall = max(end - start, 1e-9)
        ours = sum(v["cpu_s"] for v in roles.values())
        (_, busy0, total0), (_, busy1, total1) = self._sys_cpu[0], self._sys_cpu[-1]
        ncpu = psutil.cpu_count() or 1
        return {
            "processes": roles,
            "peak_rss_mb_max": max((v["peak_mb"] for v in roles.values()), default=0),
            "cpu_s_pipeline": round(ours, 1),
            "cores_busy_pipeline": round(ours / wall, 2),
            "cores_busy_machine": round((busy1 - busy0) / max(total1 - total0, 1e-9) * ncpu, 2),
            "cores": ncpu,
        }


# ------------------------------------------------------------------------ deployment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    response = requests.post(url, json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def _wait(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    procs: list[subprocess.Popen],
    every: float = 0.5,
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited while waiting for {what}")
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _env(dagster_home: Path, comet_home: Path) -> dict[str, str]:
    """The environment of a default deployment: nothing of the caller's COMET_* settings
    but the partitions' start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMET_")}
    # what a user backfilling an old range sets: partitions from its month on
    env.update(
        DAGSTER_HOME=str(dagster_home),
        COMET_HOME=str(comet_home),
        COMET_PARTITIONS_START=f"{START:%Y-%m}-01",
    )
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@contextmanager
def _deployment(tmp: Path) -> Iterator[tuple[str, Path, Path, list[subprocess.Popen]]]:
    """A fresh deployment: webserver first, sensors and schedules stopped, then the daemon."""
    dagster_home, comet_home = tmp / "dagster_home", tmp / "comet_home"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    from comet_pipeline.cli.home import init_home
    from comet_pipeline.settings import Settings

    with redirect_stdout(io.StringIO()):  # it says "created COMET_HOME"; stdout is JSON
        assert init_home(Settings(home=comet_home), quiet=True) == 0  # `comet-pipeline init`
    env = _env(dagster_home, comet_home)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    procs: list[subprocess.Popen] = []
    try:
        web = _spawn(
            [str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1"]
            + ["-p", str(port)],
            env,
            tmp / "webserver.log",
        )
        procs.append(web)
        repo = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}

        def instigators() -> dict[str, Any] | None:
            try:
                data = _graphql(url, SENSORS_AND_SCHEDULES, {"repo": repo})
            except (requests.ConnectionError, RuntimeError):
                return None
            ok = data["sensorsOrError"]["__typename"] == "Sensors"
            return data if ok and data["schedulesOrError"]["__typename"] == "Schedules" else None

        data = _wait(instigators, timeout=300, what="the code location", procs=procs)
        for s in data["sensorsOrError"]["results"]:
            _graphql(url, STOP_SENSOR, {"id": s["id"]})
        for s in data["schedulesOrError"]["results"]:
            _graphql(url, STOP_SCHEDULE, {"id": s["id"]})
        data = _graphql(url, SENSORS_AND_SCHEDULES, {"repo": repo})
        running = [
            s["name"]
            for kind, state in (
                ("sensorsOrError", "sensorState"),
                ("schedulesOrError", "scheduleState"),
            )
            for s in data[kind]["results"]
            if s[state]["status"] != "STOPPED"
        ]
        assert not running, f"still running: {running}"
        daemon = _spawn(
            [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], env, tmp / "daemon.log"
        )
        procs.append(daemon)

        def daemons_healthy() -> bool:
            statuses = _graphql(url, DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
            healthy = {d["daemonType"] for d in statuses if d["healthy"]}
            return {"BACKFILL", "QUEUED_RUN_COORDINATOR"} <= healthy

        _wait(daemons_healthy, timeout=300, what="the daemon", procs=procs, every=1.0)
        yield url, dagster_home, comet_home, procs
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _partitions(start: datetime, days: int) -> list[dict]:
    end = start + timedelta(days=days)
    last_hour = end - timedelta(hours=1)
    last_day = (end - timedelta(days=1)).date()
    hourly = {
        "range": {"start": start.strftime(HOURLY_FORMAT), "end": last_hour.strftime(HOURLY_FORMAT)}
    }
    daily = {"range": {"start": f"{start:%Y-%m-%d}", "end": f"{last_day:%Y-%m-%d}"}}
    return [{"assetKey": {"path": [a]}, "partitions": daily} for a in DAILY_ASSETS] + [
        {"assetKey": {"path": [a]}, "partitions": hourly} for a in HOURLY_ASSETS
    ]


def _launch_backfill(url: str, partitions_by_assets: list[dict], run_config: dict | None) -> str:
    """An asset backfill, as the UI's "Materialize..." dialog launches it; its id."""
    params: dict[str, Any] = {"partitionsByAssets": partitions_by_assets, "title": "bench"}
    if run_config:
        params["runConfigData"] = run_config
    answer = _graphql(url, LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"backfill refused: {answer}")
    return answer["backfillId"]


def _await_backfill(url: str, backfill_id: str, procs: list[subprocess.Popen]) -> str:
    def finished() -> str | None:
        data = _graphql(url, BACKFILL_STATUS, {"id": backfill_id})
        status = data["partitionBackfillOrError"].get("status")
        return status if status in FINISHED else None

    return _wait(finished, timeout=TIMEOUT_S, what="the backfill", procs=procs, every=2.0)


def _ranged(
    url: str, start: datetime, days: int, run_config: dict | None, procs: list[subprocess.Popen]
) -> str:
    """What-if (COMET_BENCH_BACKFILL_MODE=ranged): the days of ``downlink_slots`` as an
    asset backfill, then all the hours as ONE run of ``ingest_hour`` (the partition range
    in its tags, as ``cli/runner.py`` does in process): what the daemon would launch if the
    hourly assets had ``BackfillPolicy.single_run()``."""
    status = _await_backfill(
        url, _launch_backfill(url, _partitions(start, days)[:1], run_config), procs
    )
    if status != "COMPLETED_SUCCESS":
        return status
    last_hour = start + timedelta(days=days) - timedelta(hours=1)
    params: dict[str, Any] = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": "ingest_hour",
        },
        "executionMetadata": {
            "tags": [
                {
                    "key": "dagster/asset_partition_range_start",
                    "value": start.strftime(HOURLY_FORMAT),
                },
                {
                    "key": "dagster/asset_partition_range_end",
                    "value": last_hour.strftime(HOURLY_FORMAT),
                },
            ]
        },
    }
    if run_config:
        params["runConfigData"] = run_config
    answer = _graphql(url, LAUNCH_RUN, {"params": params})["launchRun"]
    if answer["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"run refused: {answer}")
    run_id = answer["run"]["runId"]

    def finished() -> str | None:
        status = _graphql(url, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        return status if status in {"SUCCESS", "FAILURE", "CANCELED"} else None

    return _wait(finished, timeout=TIMEOUT_S, what="the run", procs=procs, every=2.0)


# ------------------------------------------------------------------------ the event log


@dataclass
class _RunFacts:
    run_id: str
    assets: list[str]
    partitions: int
    created: float
    events: dict[str, float] = field(default_factory=dict)  # first timestamp per event type
    steps: dict[str, dict[str, float]] = field(default_factory=dict)
    elapsed: dict[str, float] = field(default_factory=dict)  # asset -> service elapsed_s


def _run_facts(instance: DagsterInstance, run_ids: list[str]) -> list[_RunFacts]:
    from dagster import DagsterEventType

    wanted = {
        DagsterEventType.RUN_ENQUEUED,
        DagsterEventType.RUN_DEQUEUED,
        DagsterEventType.RUN_STARTING,
        DagsterEventType.RUN_START,
        DagsterEventType.RUN_SUCCESS,
        DagsterEventType.RUN_FAILURE,
        DagsterEventType.STEP_WORKER_STARTING,
        DagsterEventType.STEP_WORKER_STARTED,
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.ASSET_MATERIALIZATION,
    }
    facts = []
    for run_id in run_ids:
        record = instance.get_run_record_by_id(run_id)
        run = record.dagster_run
        tags = run.tags
        # a job's run (the ranged what-if) has no asset selection: its job's assets ran
        selection = run.asset_selection or ()
        keys = sorted(k.to_user_string() for k in selection) or [run.job_name]
        n = 1
        if "dagster/asset_partition_range_start" in tags:
            start = tags["dagster/asset_partition_range_start"]
            end = tags["dagster/asset_partition_range_end"]
            n = _count_partitions(start, end)
        f = _RunFacts(run_id, keys, n, record.create_timestamp.timestamp())
        for entry in instance.all_logs(run_id, of_type=wanted):
            event = entry.dagster_event
            kind = event.event_type.name  # RUN_START, not its stored value PIPELINE_START
            if event.step_key:
                step = f.steps.setdefault(event.step_key, {})
                step.setdefault(kind, entry.timestamp)
                if kind == "ASSET_MATERIALIZATION":
                    mat = event.event_specific_data.materialization
                    value = mat.metadata.get("elapsed_s")
                    if value is not None:
                        f.elapsed.setdefault(mat.asset_key.to_user_string(), float(value.value))
            else:
                f.events.setdefault(kind, entry.timestamp)
        facts.append(f)
    return facts


def _count_partitions(start: str, end: str) -> int:
    if len(start) == 10:
        a, b = date.fromisoformat(start), date.fromisoformat(end)
        return (b - a).days + 1
    a, b = (datetime.strptime(k, HOURLY_FORMAT).replace(tzinfo=UTC) for k in (start, end))
    return int((b - a) / timedelta(hours=1)) + 1


def _union(intervals: list[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, None, None
    for a, b in sorted(intervals):
        if cur_end is None or a > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def _stage(step_key: str) -> str:
    return {
        "downlink_slots": "slots",
        "discovered_files": "discovery",
        "downloaded_files": "download",
        "processed_frames": "imaging",
        "comet_candidates": "hunting",
    }.get(step_key, step_key)


def _event_figures(facts: list[_RunFacts], t0: float) -> dict:
    stage_step_s: dict[str, float] = defaultdict(float)
    stage_service_s: dict[str, float] = defaultdict(float)
    step_startup: list[float] = []
    run_startup: list[float] = []
    queue_wait: list[float] = []
    run_spans: list[tuple[float, float]] = []
    step_spans: list[tuple[float, float]] = []
    runs_by_kind: dict[str, int] = defaultdict(int)
    timeline = []
    for f in sorted(facts, key=lambda f: f.created):
        ev = f.events
        end = ev.get("RUN_SUCCESS") or ev.get("RUN_FAILURE")
        kind = "+".join(_stage(a) for a in f.assets) + f" x{f.partitions}"
        timeline.append(
            f"{f.created - t0:7.1f} queued {ev.get('RUN_START', t0) - t0:7.1f} start "
            f"{(end or t0) - t0:7.1f} end  {kind}"
        )
        if "RUN_START" in ev and end:
            run_spans.append((ev["RUN_START"], end))
        if "RUN_STARTING" in ev and "RUN_START" in ev:
            run_startup.append(ev["RUN_START"] - ev["RUN_STARTING"])
        if "RUN_ENQUEUED" in ev and "RUN_STARTING" in ev:  # no RUN_DEQUEUED is logged
            queue_wait.append(ev["RUN_STARTING"] - ev["RUN_ENQUEUED"])
        runs_by_kind[kind] += 1
        for key, step in f.steps.items():
            done = step.get("STEP_SUCCESS") or step.get("STEP_FAILURE")
            if "STEP_START" in step and done:
                stage_step_s[_stage(key)] += done - step["STEP_START"]
                step_spans.append((step["STEP_START"], done))
            if "STEP_WORKER_STARTING" in step and "STEP_START" in step:
                step_startup.append(step["STEP_START"] - step["STEP_WORKER_STARTING"])
        for asset, seconds in f.elapsed.items():
            stage_service_s[_stage(asset)] += seconds
    # processed_frames depends on its own previous hour: its runs form a chain, each one
    # requested only once the one before has materialized (at a backfill daemon tick)
    chain = sorted(
        (f.events["RUN_START"], f.events.get("RUN_SUCCESS") or f.events.get("RUN_FAILURE") or 0.0)
        for f in facts
        if "processed_frames" in f.assets and "RUN_START" in f.events
    )
    gaps = [b[0] - a[1] for a, b in zip(chain, chain[1:], strict=False)]
    return {
        "imaging_chain": {
            "runs": len(chain),
            "executing_s": round(sum(b - a for a, b in chain), 1),
            "between_runs_s": round(sum(gaps), 1),
            "between_runs_s_median": round(_median(gaps), 1),
        },
        "stage_step_s": {k: round(v, 1) for k, v in sorted(stage_step_s.items())},
        "stage_service_s": {k: round(v, 1) for k, v in sorted(stage_service_s.items())},
        "runs": len(facts),
        "runs_by_kind": dict(sorted(runs_by_kind.items())),
        "run_startup_s_total": round(sum(run_startup), 1),
        "run_startup_s_median": round(_median(run_startup), 2),
        "step_startups": len(step_startup),
        "step_startup_s_total": round(sum(step_startup), 1),
        "step_startup_s_median": round(_median(step_startup), 2),
        "queue_wait_s_total": round(sum(queue_wait), 1),
        "run_executing_s_union": round(_union(run_spans), 1),
        "step_executing_s_union": round(_union(step_spans), 1),
        "step_executing_s_sum": round(sum(b - a for a, b in step_spans), 1),
        "_run_spans": run_spans,
        "_timeline": timeline,
    }


def _cpu_by_stage(facts: list[_RunFacts], procs: list[_Proc]) -> dict:
    """CPU seconds of each stage's step workers, and of the run workers, by matching the
    sampled processes to the event log: a run worker is spawned by a code server when its
    run is STARTING, a step worker by its run worker at the step's STEP_WORKER_STARTING.

    CPU, unlike step durations, does not grow when other work shares the cores. A step
    worker's CPU includes its start-up (an interpreter importing the definitions): the
    asset check's step does nearly nothing else, so its median is that start-up's cost.
    """
    run_workers = [p for p in procs if p.role == "run_worker"]
    step_workers = [p for p in procs if p.role == "step_worker"]
    used: set[int] = set()

    def nearest(candidates: list[_Proc], ts: float) -> _Proc | None:
        fresh = [p for p in candidates if id(p) not in used and p.first >= ts - 1.0]
        best = min(fresh, key=lambda p: p.first - ts, default=None)
        if best is None or best.first - ts > 10.0:
            return None
        used.add(id(best))
        return best

    stage_cpu: dict[str, float] = defaultdict(float)
    check_cpu: list[float] = []
    run_cpu, unmatched, steps = 0.0, 0, 0
    for f in sorted(facts, key=lambda f: f.events.get("RUN_STARTING", f.created)):
        starting = f.events.get("RUN_STARTING")
        worker = nearest(run_workers, starting) if starting else None
        if worker is None:
            unmatched += 1 + len(f.steps)
            continue
        run_cpu += worker.cpu_s
        children = [p for p in step_workers if p.ppid == worker.pid]
        order = sorted(f.steps.items(), key=lambda kv: kv[1].get("STEP_WORKER_STARTING", 0.0))
        for key, step in order:
            ts = step.get("STEP_WORKER_STARTING")
            if ts is None:  # the step ran in its run worker (in-process executor)
                continue
            proc = nearest(children, ts)
            if proc is None:
                unmatched += 1
                continue
            steps += 1
            stage_cpu[_stage(key)] += proc.cpu_s
            if key.endswith("no_stuck_files"):
                check_cpu.append(proc.cpu_s)
    startup = _median(check_cpu)
    return {
        "stage_cpu_s": {k: round(v, 1) for k, v in sorted(stage_cpu.items())},
        "run_worker_cpu_s": round(run_cpu, 1),
        "step_startup_cpu_s_each": round(startup, 2),
        "step_startup_cpu_s_total": round(startup * steps, 1),
        "unmatched_processes": unmatched,
    }


def _median(values: list[float]) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


# ------------------------------------------------------------------------ verification


def _verify(comet_home: Path, start: datetime, days: int) -> dict[str, int]:
    """Every synoptic, non-duplicate file the simulator lists for the week is PROCESSED."""
    from comet_pipeline.domain import Detector, FileState
    from comet_pipeline.simulator.archive import SimArchive
    from comet_pipeline.simulator.profiles import profile_config
    from comet_pipeline.store import SQLiteStore

    end = start + timedelta(days=days)
    sim = SimArchive(config=profile_config("nominal", seed=0))
    store = SQLiteStore(comet_home / "lifecycle.db")
    counts: dict[str, int] = {}
    for detector in Detector:
        expected = {
            obs.name.lower()
            for day in (start.date() + timedelta(days=i) for i in range(-1, days + 1))
            for obs in sim.observations(day, detector)
            if obs.synoptic and not obs.duplicate_of and start <= obs.observed_at < end
        }
        records = store.files_between(detector, start, end)
        processed = {r.name.lower() for r in records if r.state is FileState.PROCESSED}
        frames = {f.name.lower() for f in store.frames_between(detector, start, end)}
        missing = expected - processed
        assert not missing, f"{detector.value}: {len(missing)} files not PROCESSED"
        assert expected <= frames, f"{detector.value}: frames missing from the store"
        assert len(processed) == len(expected), f"{detector.value}: files the archive never listed"
        counts[detector.value] = len(processed)
    return counts


# ------------------------------------------------------------------------ the bench


@contextmanager
def _workdir() -> Iterator[Path]:
    """A temporary folder, or COMET_BENCH_BACKFILL_KEEP (kept: logs, homes, timeline)."""
    keep = os.environ.get("COMET_BENCH_BACKFILL_KEEP")
    if keep:
        path = Path(keep)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="comet-backfill-") as tmp:
        yield Path(tmp)


def backfill(days: int = DAYS, start: datetime = START, run_config: dict | None = None) -> dict:
    """``run_config``: the backfill's run config (None: the project's own, as a user's
    backfill has), e.g. ``{"execution": {"config": {"in_process": {}}}}`` to measure an
    executor the project might choose."""
    from dagster import DagsterInstance

    load_before = os.getloadavg()
    with _workdir() as tmp:
        setup_t0 = time.perf_counter()
        with _deployment(tmp) as (url, dagster_home, comet_home, procs):
            setup_s = time.perf_counter() - setup_t0
            sampler = ProcessSampler([p.pid for p in procs])
            sampler.start()
            sampler.open_window()
            t0 = time.time()
            if MODE == "ranged":
                status = _ranged(url, start, days, run_config, procs)
            else:
                backfill_id = _launch_backfill(url, _partitions(start, days), run_config)
                status = _await_backfill(url, backfill_id, procs)
            t_status = time.time()
            sampler.close_window()
            sampler.stop()
            load_after = os.getloadavg()
            instance = DagsterInstance.from_config(str(dagster_home))
            # a fresh instance, its sensors and schedules stopped: every run is the bench's
            facts = _run_facts(instance, [r.run_id for r in instance.get_runs()])
            events = _event_figures(facts, t0)
            proc_figures = sampler.figures()
            cpu_figures = _cpu_by_stage(facts, list(sampler.procs.values()))
            (tmp / "timeline.txt").write_text("\n".join(events.pop("_timeline")) + "\n")
            (tmp / "processes.tsv").write_text(
                "".join(
                    f"{p.role}\t{p.first - t0:.1f}\t{p.last - t0:.1f}\t{p.hwm_kb // 1024}"
                    f"\t{p.cpu_s:.2f}\t{p.pid}\t{p.ppid}\t{p.cmd}\n"
                    for p in sampler.procs.values()
                )
            )
            if status not in ("COMPLETED_SUCCESS", "SUCCESS"):
                raise RuntimeError(f"backfill ended {status}")
            counts = _verify(comet_home, start, days)
    run_spans = events.pop("_run_spans")
    t_end = max((b for _, b in run_spans), default=t_status)
    wall = t_end - t0
    frames = sum(counts.values())
    fps = frames / wall
    stage_service = events["stage_service_s"]
    # Dagster's share inside the steps: step time that is not the services' own
    overhead_in_steps = events["step_executing_s_sum"] - sum(stage_service.values())
    return {
        "method": METHODS[MODE],
        "days": days,
        "run_config": run_config or "the project's",
        "frames": {**counts, "total": frames},
        "wall_s": round(wall, 1),
        "backfill_status_seen_after_s": round(t_status - t0, 1),
        "frames_per_s": round(fps, 2),
        "target_frames_per_s": round(TARGET_FRAMES_PER_S, 1),
        "year_hours_extrapolated": round(FRAMES_PER_DAY * 365 / fps / 3600, 2),
        "year_target_hours": YEAR_TARGET_HOURS,
        "dagster_overhead": {
            "in_steps_s": round(overhead_in_steps, 1),
            "step_startup_s": events["step_startup_s_total"],
            "run_startup_s": events["run_startup_s_total"],
            "no_run_executing_s": round(wall - events["run_executing_s_union"], 1),
            "no_step_executing_s": round(wall - events["step_executing_s_union"], 1),
        },
        **events,
        **cpu_figures,
        **proc_figures,
        "peak_rss_target_mb": PEAK_RSS_TARGET_MB,
        "setup_s": round(setup_s, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
    }


def run() -> dict:
    extra = os.environ.get("COMET_BENCH_BACKFILL_RUN_CONFIG")  # JSON, for experiments
    return backfill(run_config=json.loads(extra) if extra else None)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
