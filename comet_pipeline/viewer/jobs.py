"""``/api/jobs``: the Dagster runs as the hunter sees them, and terminating one.

Dagster is the job system; this is a window onto it. Every request asks the webserver at
``settings.dagster_url`` over GraphQL (``dagster_graphql.py``), with that client's short
timeout: a webserver that is down or slow is a 503 naming its URL, never a hang or a 500.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BeforeValidator

from comet_pipeline.viewer.auth import Writer
from comet_pipeline.viewer.context import Context
from comet_pipeline.viewer.dagster_graphql import (
    FINISHED,
    DagsterGraphQL,
    DagsterRefused,
    DagsterUnreachable,
    NotTerminable,
    Run,
    RunNotFound,
    RunStatus,
    shown_tags,
)
from comet_pipeline.viewer.errors import (
    ERROR_RESPONSES,
    Conflict,
    Forbidden,
    NotFound,
    Unavailable,
    ViewerError,
    one_line,
)
from comet_pipeline.viewer.job_schemas import (
    DagsterHealth,
    InstigatorOut,
    Job,
    JobList,
    JobTermination,
    PartitionRange,
)
from comet_pipeline.viewer.schemas import Problem

log = logging.getLogger(__name__)

#: Dagster's rule for job names (dagster._core.definitions.utils.VALID_NAME_REGEX_STR).
JOB_NAME_PATTERN = r"^[A-Za-z0-9_]+$"
EXAMPLE_RUN_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


class BadGateway(ViewerError):
    """The Dagster webserver answered, but with an error of its own."""

    status = 502


def _problem(text: str) -> dict[str, Any]:
    return {"model": Problem, "description": text}


JOB_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    404: _problem("no run with that id in Dagster"),
    502: _problem("the Dagster webserver answered with an error of its own"),
    503: _problem("the Dagster webserver did not answer (down, or not within the timeout)"),
}

router = APIRouter(prefix="/api", responses=JOB_RESPONSES)


def _upper(value: object) -> object:
    """Statuses as Dagster spells them, whatever case the hunter typed."""
    return value.upper() if isinstance(value, str) else value


def _run_id(value: object) -> str:
    """A Dagster run id is a UUID; it is passed on in its canonical form."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"not a Dagster run id: a UUID like {EXAMPLE_RUN_ID}") from None


StatusParam = Annotated[RunStatus, BeforeValidator(_upper)]
RunId = Annotated[
    str,
    BeforeValidator(_run_id),
    Path(description=f"a Dagster run id (a UUID like {EXAMPLE_RUN_ID})"),
]


@contextmanager
def _asking_dagster() -> Iterator[None]:
    """The client's failures as Problem answers naming the webserver."""
    try:
        yield
    except DagsterUnreachable as err:
        log.warning("%s", one_line(str(err)))
        raise Unavailable(str(err)) from None
    except DagsterRefused as err:
        log.warning("%s", one_line(str(err)))
        if err.kind == "UnauthorizedError":  # e.g. a webserver started with --read-only
            raise Forbidden(str(err)) from None
        raise BadGateway(str(err)) from None


def _duration_s(run: Run, now: datetime) -> float | None:
    if run.started_at is None:
        return None
    end = run.ended_at or now
    return round(max(0.0, (end - run.started_at).total_seconds()), 3)


def job_out(run: Run, *, now: datetime, dagster_url: str) -> Job:
    span = run.partition_range
    return Job(
        run_id=run.run_id,
        job_name=run.job_name,
        status=run.status,
        partition=run.partition,
        partition_range=PartitionRange(start=span[0], end=span[1]) if span else None,
        created_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
        updated_at=run.updated_at,
        duration_seconds=_duration_s(run, now),
        can_terminate=run.can_terminate,
        tags=shown_tags(run.tags),
        dagster_ui_url=f"{dagster_url}/runs/{run.run_id}",
    )


@router.get("/jobs", summary="Recent Dagster runs, newest first")
def jobs(
    ctx: Context,
    limit: Annotated[int, Query(ge=1, le=200, description="runs to return")] = 25,
    status: Annotated[
        list[StatusParam] | None,
        Query(description="only runs in these statuses (repeat the parameter for several)"),
    ] = None,
    job: Annotated[
        str | None,
        Query(
            pattern=JOB_NAME_PATTERN,
            max_length=200,
            description="only runs of this Dagster job, e.g. ingest_hour",
        ),
    ] = None,
) -> JobList:
    """Read from the Dagster webserver each time (its run storage is the truth)."""
    client = DagsterGraphQL(ctx.settings.dagster_url)
    with _asking_dagster():
        found = client.runs(limit, statuses=tuple(dict.fromkeys(status or ())), job_name=job)
    now = ctx.clock()
    return JobList(
        items=[job_out(r, now=now, dagster_url=client.url) for r in found],
        dagster_url=client.url,
    )


@router.post(
    "/jobs/{run_id}/terminate",
    summary="Terminate a Dagster run (needs a token)",
    responses={
        403: _problem("the Dagster webserver does not allow terminating (started --read-only)"),
        409: _problem("the run has finished already, or Dagster cannot terminate it now"),
    },
)
def terminate(ctx: Context, caller: Writer, run_id: RunId) -> JobTermination:
    """A queued run is canceled at once; a started one is signalled (CANCELING, then
    CANCELED). A finished one is a 409: there is nothing left to stop."""
    client = DagsterGraphQL(ctx.settings.dagster_url)
    try:
        with _asking_dagster():
            done = client.terminate(run_id)
    except RunNotFound:
        raise NotFound(f"Dagster at {client.url} has no run {run_id}") from None
    except NotTerminable as err:
        if err.status in FINISHED:
            raise Conflict(
                f"run {run_id} has finished already ({err.status.value}): nothing to terminate"
            ) from None
        if err.status is RunStatus.CANCELING:
            raise Conflict(f"run {run_id} is being canceled already") from None
        if "permission" in err.message.lower():  # a webserver started with --read-only
            raise Forbidden(
                f"Dagster at {client.url} does not allow terminating runs: {err.message}"
            ) from None
        raise Conflict(
            f"Dagster would not terminate run {run_id} ({err.status.value}): {err.message}"
        ) from None
    log.info(
        "run %s terminated at the request of token %r: %s -> %s",
        run_id,
        caller,
        done.previous_status.value,
        done.status.value,
    )
    return JobTermination(
        run_id=run_id,
        previous_status=done.previous_status,
        status=done.status,
        requested_by=caller,
    )


def dagster_health(url: str) -> DagsterHealth:
    """The webserver's part of ``/api/health``: never raises, it reports. One GraphQL round
    trip, bounded by the client's timeout."""
    try:
        found = DagsterGraphQL(url).overview()
    except (DagsterUnreachable, DagsterRefused) as err:
        return DagsterHealth(
            reachable=False,
            url=url,
            version=None,
            error=one_line(str(err)),
            sensors=[],
            schedules=[],
        )
    return DagsterHealth(
        reachable=True,
        url=url,
        version=found.version,
        error="; ".join(found.problems) or None,
        sensors=[InstigatorOut(name=i.name, status=i.status) for i in found.sensors],
        schedules=[InstigatorOut(name=i.name, status=i.status) for i in found.schedules],
    )
