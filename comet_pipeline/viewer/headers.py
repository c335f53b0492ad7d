"""Responses default to ``Cache-Control: no-store``: a cached frame list would hide the frames
that arrived since. A route that knows better (the immutable products) sets its own."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE = "no-store"


class DefaultNoStore:
    """Pure ASGI (no BaseHTTPMiddleware): it touches only the response's first message."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_default(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("cache-control", NO_STORE)
            await send(message)

        await self.app(scope, receive, send_with_default)
