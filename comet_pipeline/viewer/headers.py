"""Responses default to ``Cache-Control: no-store``: a cached frame list would hide the frames
that arrived since. A route that knows better (the immutable products) sets its own. Every
response also says ``nosniff`` and carries the page's Content-Security-Policy."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE = "no-store"
#: The page loads only its own scripts, styles and images (blob: for images fetched with
#: the token), and no one may frame it: a note or a name from the store cannot become code.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
#: The OpenAPI page (/docs) loads Swagger UI from a CDN and runs an inline script.
DOCS_PATHS = ("/docs", "/redoc")


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
                headers = MutableHeaders(scope=message)
                headers.setdefault("cache-control", NO_STORE)
                headers.setdefault("x-content-type-options", "nosniff")
                if not str(scope.get("path", "")).startswith(DOCS_PATHS):
                    headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_default)
