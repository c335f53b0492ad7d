"""Bearer tokens: what a write (a verdict, a terminate) must carry, and every read too when
the viewer listens beyond loopback.

A token is 32 random bytes shown once by ``comet-pipeline token create``; the store keeps
only its SHA-256 (a token that long needs no slow hash: it cannot be guessed, only stolen).
Wrong tokens are answered 401 and, after a few from one address, ever more slowly.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from comet_pipeline.viewer.context import Context, ViewerContext
from comet_pipeline.viewer.errors import ViewerError
from comet_pipeline.viewer.throttle import FailureThrottle

__all__ = [
    "FailureThrottle",
    "ReadAccess",
    "Unauthorized",
    "Writer",
    "new_token",
    "token_hash",
]

TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh token: 43 URL-safe characters, 256 bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Unauthorized(ViewerError):
    status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="comet_pipeline"'}


#: Reads the header and documents the scheme on the OpenAPI page; errors are ours (401).
_BEARER = HTTPBearer(auto_error=False, description="a token from `comet-pipeline token create`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]


def _token_owner(ctx: ViewerContext, token: str) -> str | None:
    store = ctx.store.get()
    return None if store is None else store.token_name(token_hash(token))


async def require_token(request: Request, ctx: Context, credentials: Credentials) -> str:
    """The name of the token the request carries; 401 without a valid one."""
    token = credentials.credentials.strip() if credentials is not None else ""
    return await _check(request, ctx, token)


async def _check(request: Request, ctx: Context, token: str) -> str:
    """Checked once per request (a write behind the read gate would otherwise count a bad
    token twice), after the throttle's wait for this address."""
    known = getattr(request.state, "token_owner", None)
    if isinstance(known, str):
        return known
    address = request.client.host if request.client else "unknown"
    wait = ctx.throttle.delay_s(address)
    if wait > 0:
        await asyncio.sleep(wait)
    if not token:
        raise Unauthorized(
            "this needs a token: send 'Authorization: Bearer <token>' "
            "(create one with `comet-pipeline token create NAME`)"
        )
    owner = await run_in_threadpool(_token_owner, ctx, token)
    if owner is None:
        ctx.throttle.failed(address)
        raise Unauthorized("unknown or revoked token")
    ctx.throttle.succeeded(address)
    request.state.token_owner = owner
    return owner


async def require_read_access(request: Request, ctx: Context) -> None:
    """Reads are open on loopback; a viewer bound to another address wants the token. The
    header is read here by hand, not through the HTTPBearer scheme, so the OpenAPI page
    marks only the writes as needing a token."""
    if ctx.reads_need_token:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        await _check(request, ctx, value.strip() if scheme.lower() == "bearer" else "")


#: A route parameter: the token's name, for routes that change something.
Writer = Annotated[str, Depends(require_token)]
#: A router dependency: reads, gated when the viewer is reachable beyond this machine.
ReadAccess = Depends(require_read_access)
