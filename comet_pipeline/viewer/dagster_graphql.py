"""A small typed client for the Dagster webserver's GraphQL API (``POST <url>/graphql``).

Dagster is the job system: the viewer only reads its runs, sensors and schedules and asks it
to terminate a run. Plain ``requests`` rather than ``dagster_graphql.DagsterGraphQLClient``,
because that client has no runs listing and no sensors or schedules, its ``terminate_run``
returns nothing (not the run's new status), every failure is one ``DagsterGraphQLClientError``
holding text, its default timeout is 300 s, and importing it loads all of Dagster into the
viewer (seconds at start-up; ARCHITECTURE.md keeps Dagster in ``defs/``).

The queries are written against the Dagster 1.13 schema (``dagster_graphql/schema/``). What
comes back is validated by private pydantic models and handed out as frozen dataclasses, so
a webserver of another shape is one :class:`DagsterUnreachable`, not a ``KeyError``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import Annotated, Literal, TypeVar

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from comet_pipeline.archive.deadline import Deadline, DeadlineAdapter

#: Seconds to connect, to wait for each read, and for the body as a whole: the viewer's own
#: request (``/api/health`` included) waits on it, and a local webserver answers in ms.
TIMEOUT_S = 3.0
#: The largest answer read (200 runs with their tags are ~100 kB).
MAX_BODY_BYTES = 8 * 1024 * 1024
_CHUNK = 64 * 1024

#: Tags of a run worth showing: ours, and the Dagster ones saying what it covers and who
#: launched it (the rest are internal: code location, snapshot ids, op selections).
SHOWN_DAGSTER_TAGS = frozenset(
    f"dagster/{name}"
    for name in (
        "partition",
        "partition_set",
        "asset_partition_range_start",
        "asset_partition_range_end",
        "backfill",
        "schedule_name",
        "sensor_name",
        "retry_number",
        "parent_run_id",
        "root_run_id",
    )
)
SHOWN_TAG_PREFIXES = ("comet/",)
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


class RunStatus(StrEnum):
    """Dagster's ``RunStatus`` enum, value for value."""

    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    MANAGED = "MANAGED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"


#: Statuses a run never leaves (Dagster's FINISHED_STATUSES).
FINISHED = frozenset({RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED})


class InstigatorStatus(StrEnum):
    """Whether a sensor or schedule is turned on (ticks only while a daemon runs)."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


# ---------------------------------------------------------------------------------------
# What the client hands out


@dataclass(frozen=True)
class Run:
    """One Dagster run; times are UTC, ``None`` until they happen."""

    run_id: str
    job_name: str
    status: RunStatus
    can_terminate: bool
    tags: Mapping[str, str]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime | None

    @property
    def partition(self) -> str | None:
        """The partition key of a one-partition run."""
        return self.tags.get(PARTITION_TAG)

    @property
    def partition_range(self) -> tuple[str, str] | None:
        """First and last key of a run over a range of partitions (a backfill's chunk)."""
        start, end = self.tags.get(RANGE_START_TAG), self.tags.get(RANGE_END_TAG)
        return (start, end) if start is not None and end is not None else None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class Instigator:
    """A sensor or a schedule and whether it is on."""

    name: str
    status: InstigatorStatus


@dataclass(frozen=True)
class Overview:
    """What ``/api/health`` shows of the webserver, read in one round trip."""

    version: str
    sensors: tuple[Instigator, ...]
    schedules: tuple[Instigator, ...]
    #: code locations that failed to load (their sensors and schedules are missing above)
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Termination:
    """A run Dagster agreed to terminate: its status before and after. ``run`` is the run
    read again, or None when that read failed (the terminate itself went through: Dagster
    marks a run CANCELING first, so that is its status then)."""

    previous_status: RunStatus
    status: RunStatus
    run: Run | None


class DagsterError(Exception):
    """Anything this client cannot do; the subclasses say which."""


class DagsterUnreachable(DagsterError):
    """The webserver did not answer usably: refused, timed out, an HTTP error, GraphQL
    errors, or an answer not of the 1.13 schema's shape."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"the Dagster webserver at {url} {reason}")
        self.url = url
        self.reason = reason


class DagsterRefused(DagsterError):
    """The webserver answered with an error of its own (PythonError, UnauthorizedError)."""

    def __init__(self, url: str, kind: str, message: str) -> None:
        super().__init__(f"the Dagster webserver at {url} answered {kind}: {message}")
        self.url = url
        self.kind = kind
        self.message = message


class RunNotFound(DagsterError):
    def __init__(self, url: str, run_id: str) -> None:
        super().__init__(f"the Dagster webserver at {url} has no run {run_id}")
        self.run_id = run_id


class NotTerminable(DagsterError):
    """Dagster would not terminate the run (finished already, or not in a state it can
    cancel); ``message`` is Dagster's own."""

    def __init__(self, run_id: str, status: RunStatus, message: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------
# The queries (Dagster 1.13 schema)

_RUN_FIELDS = """
fragment CometRun on Run {
  runId jobName status canTerminate
  tags { key value }
  creationTime startTime endTime updateTime
}
"""

RUNS_QUERY = (
    """
query CometRuns($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) {
    __typename
    ... on Runs { results { ...CometRun } }
    ... on InvalidPipelineRunsFilterError { message }
    ... on PythonError { message }
  }
}
"""
    + _RUN_FIELDS
)

RUN_QUERY = (
    """
query CometRun($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { ...CometRun }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""
    + _RUN_FIELDS
)

TERMINATE_MUTATION = """
mutation CometTerminate($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunSuccess { run { status } }
    ... on TerminateRunFailure { message run { status } }
    ... on RunNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

VERSION_QUERY = "query CometVersion { version }"

OVERVIEW_QUERY = """
query CometOverview {
  version
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation {
            repositories {
              sensors { name sensorState { status } }
              schedules { name scheduleState { status } }
            }
          }
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


# ---------------------------------------------------------------------------------------
# The answers' shapes (private: validated here, converted to the dataclasses above)


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, frozen=True)


class _Tag(_Wire):
    key: str
    value: str


class _Run(_Wire):
    typename: Literal["Run"] = Field("Run", alias="__typename")
    run_id: str
    job_name: str
    status: RunStatus
    can_terminate: bool
    tags: list[_Tag]
    creation_time: float
    start_time: float | None
    end_time: float | None
    update_time: float | None


class _Runs(_Wire):
    typename: Literal["Runs"] = Field(alias="__typename")
    results: list[_Run]


class _Error(_Wire):
    """Every error type of the schema has a message; the typename says which it is."""

    typename: Literal[
        "PythonError",
        "InvalidPipelineRunsFilterError",
        "RunNotFoundError",
        "UnauthorizedError",
    ] = Field(alias="__typename")
    message: str


class _RunsAnswer(_Wire):
    runs_or_error: Annotated[_Runs | _Error, Field(discriminator="typename")]


class _RunAnswer(_Wire):
    run_or_error: Annotated[_Run | _Error, Field(discriminator="typename")]


class _StatusOnly(_Wire):
    status: RunStatus


class _TerminateSuccess(_Wire):
    typename: Literal["TerminateRunSuccess"] = Field(alias="__typename")
    run: _StatusOnly


class _TerminateFailure(_Wire):
    typename: Literal["TerminateRunFailure"] = Field(alias="__typename")
    message: str
    run: _StatusOnly


class _TerminateAnswer(_Wire):
    terminate_run: Annotated[
        _TerminateSuccess | _TerminateFailure | _Error, Field(discriminator="typename")
    ]


class _VersionAnswer(_Wire):
    version: str


class _State(_Wire):
    status: InstigatorStatus


class _Sensor(_Wire):
    name: str
    sensor_state: _State


class _Schedule(_Wire):
    name: str
    schedule_state: _State


class _Repository(_Wire):
    sensors: list[_Sensor]
    schedules: list[_Schedule]


class _Location(_Wire):
    typename: Literal["RepositoryLocation"] = Field(alias="__typename")
    repositories: list[_Repository]


class _LoadError(_Wire):
    typename: Literal["PythonError"] = Field(alias="__typename")
    message: str


class _LocationEntry(_Wire):
    name: str
    load_status: Literal["LOADING", "LOADED"]
    location_or_load_error: Annotated[
        _Location | _LoadError | None, Field(discriminator="typename")
    ]


class _Workspace(_Wire):
    typename: Literal["Workspace"] = Field(alias="__typename")
    location_entries: list[_LocationEntry]


class _OverviewAnswer(_Wire):
    version: str
    workspace_or_error: Annotated[_Workspace | _LoadError, Field(discriminator="typename")]


class _Envelope(BaseModel):
    """A GraphQL response body: data, or errors (or both, when a field failed)."""

    data: dict[str, object] | None = None
    errors: list[dict[str, object]] | None = None


_Answer = TypeVar("_Answer", bound=BaseModel)


def _utc(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _run(wire: _Run) -> Run:
    return Run(
        run_id=wire.run_id,
        job_name=wire.job_name,
        status=wire.status,
        can_terminate=wire.can_terminate,
        tags={t.key: t.value for t in wire.tags},
        created_at=datetime.fromtimestamp(wire.creation_time, UTC),
        started_at=_utc(wire.start_time),
        ended_at=_utc(wire.end_time),
        updated_at=_utc(wire.update_time),
    )


def shown_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags a person looking at runs cares about (see ``SHOWN_DAGSTER_TAGS``)."""
    return {
        k: v for k, v in tags.items() if k in SHOWN_DAGSTER_TAGS or k.startswith(SHOWN_TAG_PREFIXES)
    }


def _first_error(errors: list[dict[str, object]]) -> str:
    message = str(errors[0].get("message", "unknown error")) if errors else "unknown error"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return " ".join(message.split())[:300] + more


class DagsterGraphQL:
    """The webserver at ``url`` (e.g. ``http://127.0.0.1:3000``, no ``/graphql``).

    One instance per viewer request: it holds nothing but the URL and the timeout.
    """

    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.endpoint = f"{self.url}/graphql"
        self.timeout_s = timeout_s

    # -- the operations ------------------------------------------------------------------

    def ping(self) -> str:
        """The webserver's Dagster version: it answers GraphQL."""
        return self._ask(VERSION_QUERY, {}, _VersionAnswer).version

    def runs(
        self,
        limit: int,
        *,
        statuses: tuple[RunStatus, ...] = (),
        job_name: str | None = None,
    ) -> list[Run]:
        """The newest ``limit`` runs (newest first), of those statuses and that job."""
        run_filter: dict[str, object] = {}
        if statuses:
            run_filter["statuses"] = [s.value for s in statuses]
        if job_name is not None:
            run_filter["pipelineName"] = job_name
        answer = self._ask(RUNS_QUERY, {"filter": run_filter, "limit": limit}, _RunsAnswer)
        found = answer.runs_or_error
        if isinstance(found, _Error):
            raise DagsterRefused(self.url, found.typename, found.message)
        return [_run(r) for r in found.results]

    def run(self, run_id: str) -> Run:
        found = self._ask(RUN_QUERY, {"runId": run_id}, _RunAnswer).run_or_error
        if isinstance(found, _Error):
            if found.typename == "RunNotFoundError":
                raise RunNotFound(self.url, run_id)
            raise DagsterRefused(self.url, found.typename, found.message)
        return _run(found)

    def terminate(self, run_id: str) -> Termination:
        """Ask Dagster to terminate the run (a queued one is canceled at once, a started one
        is signalled and becomes CANCELING). Dagster's success answer carries the run as it
        was before, so the run is read again for its new status."""
        result = self._ask(TERMINATE_MUTATION, {"runId": run_id}, _TerminateAnswer).terminate_run
        if isinstance(result, _TerminateFailure):
            raise NotTerminable(run_id, result.run.status, result.message)
        if isinstance(result, _Error):
            if result.typename == "RunNotFoundError":
                raise RunNotFound(self.url, run_id)
            raise DagsterRefused(self.url, result.typename, result.message)
        try:
            after: Run | None = self.run(run_id)
        except DagsterError:
            after = None
        return Termination(
            previous_status=result.run.status,
            status=after.status if after is not None else RunStatus.CANCELING,
            run=after,
        )

    def overview(self) -> Overview:
        """Version, and every sensor and schedule of the workspace with its status."""
        answer = self._ask(OVERVIEW_QUERY, {}, _OverviewAnswer)
        workspace = answer.workspace_or_error
        if isinstance(workspace, _LoadError):
            raise DagsterRefused(self.url, workspace.typename, workspace.message)
        sensors: list[Instigator] = []
        schedules: list[Instigator] = []
        problems: list[str] = []
        for entry in workspace.location_entries:
            location = entry.location_or_load_error
            if isinstance(location, _LoadError):
                message = " ".join(location.message.split())[:300]
                problems.append(f"code location {entry.name} did not load: {message}")
            elif location is None:
                problems.append(f"code location {entry.name} is still {entry.load_status}")
            else:
                for repo in location.repositories:
                    sensors += [Instigator(s.name, s.sensor_state.status) for s in repo.sensors]
                    schedules += [
                        Instigator(s.name, s.schedule_state.status) for s in repo.schedules
                    ]
        by_name = attrgetter("name")
        return Overview(
            version=answer.version,
            sensors=tuple(sorted(sensors, key=by_name)),
            schedules=tuple(sorted(schedules, key=by_name)),
            problems=tuple(problems),
        )

    def instigators(self) -> tuple[tuple[Instigator, ...], tuple[Instigator, ...]]:
        """(sensors, schedules) of the workspace."""
        found = self.overview()
        return found.sensors, found.schedules

    # -- the transport -------------------------------------------------------------------

    def _ask(self, query: str, variables: dict[str, object], shape: type[_Answer]) -> _Answer:
        """POST the query; the ``data`` validated as ``shape``. Every way of not getting
        that is a DagsterUnreachable naming the URL."""
        envelope = self._post({"query": query, "variables": variables})
        if envelope.errors:
            raise DagsterUnreachable(
                self.url, f"answered with GraphQL errors: {_first_error(envelope.errors)}"
            )
        if envelope.data is None:
            raise DagsterUnreachable(self.url, "answered without data")
        try:
            return shape.model_validate(envelope.data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise DagsterUnreachable(
                self.url, f"answered in a shape this viewer does not know ({where}: {first['msg']})"
            ) from None

    def _post(self, body: dict[str, object]) -> _Envelope:
        # The archive client's deadline: a timer shuts the sockets when it passes, so a
        # webserver that drips bytes (headers or body) cannot hold a request for longer.
        with Deadline(self.timeout_s) as cutoff, requests.Session() as session:
            session.mount("http://", DeadlineAdapter())
            session.mount("https://", DeadlineAdapter())
            try:
                return self._post_within(session, body, time.monotonic() + self.timeout_s)
            except DagsterUnreachable:
                if cutoff.expired:
                    raise DagsterUnreachable(
                        self.url, f"did not answer within {self.timeout_s:g} s"
                    ) from None
                raise

    def _post_within(
        self, session: requests.Session, body: dict[str, object], deadline: float
    ) -> _Envelope:
        try:
            with session.post(
                self.endpoint,
                data=json.dumps(body).encode("utf-8"),
                headers={"Accept": "application/json", "Content-Type": "application/json"},
                timeout=(self.timeout_s, self.timeout_s),
                allow_redirects=False,
                stream=True,
            ) as response:
                raw = self._read(response, deadline)
                status = response.status_code
        except requests.Timeout:
            raise DagsterUnreachable(
                self.url, f"did not answer within {self.timeout_s:g} s"
            ) from None
        except requests.ConnectionError as err:
            raise DagsterUnreachable(self.url, f"did not answer ({_reason(err)})") from None
        except requests.RequestException as err:
            raise DagsterUnreachable(self.url, f"could not be asked ({_reason(err)})") from None
        try:
            envelope = _Envelope.model_validate_json(raw)
        except ValidationError:
            envelope = None
        if status == 200 and envelope is not None:
            return envelope
        if envelope is not None and envelope.errors:  # a bad query is a 400 with its errors
            detail = f"HTTP {status}: {_first_error(envelope.errors)}"
        else:
            detail = f"HTTP {status}" if status != 200 else "a body that is not GraphQL JSON"
        raise DagsterUnreachable(self.url, f"answered {detail}")

    def _read(self, response: requests.Response, deadline: float) -> bytes:
        """The body, at most MAX_BODY_BYTES, by the overall deadline (per-read timeouts
        alone let a server that drips bytes hold the request for ever)."""
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise DagsterUnreachable(self.url, f"answered more than {MAX_BODY_BYTES} bytes")
            if time.monotonic() > deadline:
                raise requests.Timeout()
            chunks.append(chunk)
        return b"".join(chunks)


def _reason(err: Exception) -> str:
    """The innermost cause's words, e.g. 'Connection refused', without urllib3's wrapping."""
    inner: BaseException = err
    while True:
        nxt = inner.__cause__ or inner.__context__
        if nxt is None or nxt is inner:
            break
        inner = nxt
        if len(inner.args) == 1 and isinstance(inner.args[0], BaseException):
            inner = inner.args[0]
    text = str(inner)
    # urllib3 says "<Connection object at 0x...>: Failed to establish a new connection: [Errno
    # 111] Connection refused": the tail is what a person needs.
    text = text.rsplit("] ", 1)[-1] if "] " in text else text.rsplit(": ", 1)[-1]
    return " ".join(text.split())[:200] or type(err).__name__
