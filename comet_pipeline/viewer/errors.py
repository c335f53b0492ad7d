"""Every failure becomes a ``Problem`` body with one line: bad input a 4xx naming the parameter,
an unreadable store a 503, never a traceback on the wire (the server log keeps that)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from comet_pipeline.store import StoreError
from comet_pipeline.viewer.schemas import FieldProblem, Problem

log = logging.getLogger(__name__)


class ViewerError(Exception):
    """A request the API refuses, with the status it gets and one line saying why."""

    status: ClassVar[int] = 400
    headers: ClassVar[dict[str, str]] = {}


class BadRequest(ViewerError):
    status = 400


class Forbidden(ViewerError):
    status = 403


class NotFound(ViewerError):
    status = 404


class Conflict(ViewerError):
    status = 409


class Unavailable(ViewerError):
    """Something the request needs is down (the Dagster webserver, a writable store)."""

    status = 503


#: The error bodies every route may answer with, for the OpenAPI page.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (400, "a parameter that parses but makes no sense (since > until, a bad cursor)"),
        (401, "a missing or wrong bearer token (writes; reads off loopback)"),
        (404, "no such frame, candidate or product"),
        (422, "a parameter of the wrong type or out of range"),
        (503, "the lifecycle store cannot be read"),
    )
}


#: What a store read can raise: the protocol's errors, and a SQLite error the engine let
#: through mid-read (a page damaged after the integrity check at open).
STORE_ERRORS: tuple[type[Exception], ...] = (StoreError, sqlite3.DatabaseError)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def problem(status: int, message: str, fields: Sequence[FieldProblem] = ()) -> JSONResponse:
    body = Problem(status=status, message=one_line(message), fields=list(fields))
    # no-store here too: a 500 is sent past the middleware that sets it on everything else
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, headers={"Cache-Control": "no-store"}
    )


def _field_problem(error: Any) -> FieldProblem:  # noqa: ANN401  one pydantic error dict
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    given = error.get("input")
    if isinstance(given, str):
        message += f" (got {given[:80]!r})"
    return FieldProblem(where=where, message=message)


async def _viewer_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, ViewerError):
        return problem(400, str(exc))
    response = problem(exc.status, str(exc))
    response.headers.update(exc.headers)
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    fields = [_field_problem(e) for e in errors]
    message = "; ".join(f"{f.where}: {f.message}" for f in fields) or "invalid request"
    return problem(422, message, fields)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return problem(500, "internal error")
    response = problem(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})  # e.g. Allow on a 405
    return response


async def _store_error(_request: Request, exc: Exception) -> JSONResponse:
    # A damaged or vanished database is the operator's to repair; the client can only retry.
    log.warning("lifecycle store unreadable: %s", one_line(str(exc)))
    return problem(503, f"the lifecycle store cannot be read: {exc}")


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=exc)
    return problem(500, f"internal error ({type(exc).__name__}); the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ViewerError, _viewer_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for kind in STORE_ERRORS:
        app.add_exception_handler(kind, _store_error)
    app.add_exception_handler(Exception, _unexpected)
