"""``sim://`` for requests: the simulated archive served in process through a transport adapter.

``sim://lasco/YYMMDD/c2/`` (listing), ``.../img_hdr.txt``, ``.../NNNNNNNN.fts`` (the
near-real-time tree), ``sim://lasco/longterm/YYMMDD/c2/...`` (the long-term tree) and
``sim://schedule`` answer like the real servers (status, headers, streamed body), so the real
client code — retries, size caps, Content-Length checks, verification — runs unchanged.

``sim://lasco-<profile>/...`` (e.g. ``sim://lasco-rolled/250101/c2/``) names a sky profile
(:mod:`comet_pipeline.simulator.profiles`); the adapter serves whatever archive it was
mounted with, and :meth:`ArchiveClient.create` builds that archive from the URL's profile.
"""

from __future__ import annotations

import io
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.response import HTTPResponse

from comet_pipeline.archive.layout import LONGTERM_ROOT, SIM_LONGTERM_PATH
from comet_pipeline.simulator.archive import LEVEL05_ROOT, SimArchive
from comet_pipeline.simulator.faults import Faults
from comet_pipeline.simulator.profiles import ARCHIVE_HOST
from comet_pipeline.simulator.routes import _REASONS, SCHEDULE_PATH, Reply, Router, error_page

SIM_PREFIX = "sim://"


class SimAdapter(BaseAdapter):
    """A requests transport adapter answering ``sim://lasco[-<profile>]/...`` and
    ``sim://schedule``."""

    def __init__(self, archive: SimArchive, faults: Faults | None = None) -> None:
        super().__init__()
        self.archive = archive
        self.router = Router(archive, faults)

    @property
    def counts(self) -> dict[str, int]:
        """Requests seen per server path."""
        return self.router.counts

    @staticmethod
    def server_path(url: str) -> str | None:
        """The real-server path a ``sim://`` URL stands for (None if it names nothing)."""
        parts = urlsplit(url)
        if parts.netloc == "schedule" and parts.path in ("", "/"):
            return SCHEDULE_PATH
        host = parts.netloc.lower()
        if not (host == ARCHIVE_HOST or host.startswith(ARCHIVE_HOST + "-")):
            return None
        root, path = LEVEL05_ROOT, parts.path
        if path == SIM_LONGTERM_PATH or path.startswith(SIM_LONGTERM_PATH + "/"):
            root, path = LONGTERM_ROOT, path[len(SIM_LONGTERM_PATH) :]
        return root + (path if path not in ("", "/") else "/")

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        # requests passes these by keyword; an in-process transport has no use for them.
        timeout: object = None,  # noqa: ARG002
        verify: object = True,  # noqa: ARG002
        cert: object = None,  # noqa: ARG002
        proxies: object = None,  # noqa: ARG002
    ) -> requests.Response:
        url = request.url or ""
        path = self.server_path(url)
        if path is None:
            reply = Reply(404, error_page(404), {"Content-Type": "text/html"})
            reply.headers["Content-Length"] = str(len(reply.body))
        else:
            reply = self.router.handle(path)
        if reply.latency_s:
            time.sleep(reply.latency_s)
        headers = dict(reply.headers)
        if reply.redirect_slash:
            headers["Location"] = url.split("?", 1)[0] + "/"
        body = b"" if request.method == "HEAD" else reply.sent_body
        if request.method == "HEAD":
            headers["Content-Length"] = reply.headers.get("Content-Length", "0")
        reason = _REASONS.get(reply.status, "OK")
        raw = HTTPResponse(
            body=io.BytesIO(body),
            headers=headers,
            status=reply.status,
            reason=reason,
            preload_content=False,
            decode_content=False,
            enforce_content_length=request.method != "HEAD",
            request_method=request.method,
            request_url=url,
        )
        response = requests.Response()
        response.status_code = reply.status
        response.headers = CaseInsensitiveDict(headers)
        response.raw = raw
        response.reason = reason
        response.url = url
        response.request = request
        response.encoding = get_encoding_from_headers(response.headers)
        # requests annotates this HTTPAdapter, but only uses the BaseAdapter interface.
        response.connection = self  # type: ignore[assignment]
        if not stream:
            _ = response.content  # like HTTPAdapter: read now unless streaming
        return response

    def close(self) -> None:
        pass


def mount_sim(
    session: requests.Session, archive: SimArchive, faults: Faults | None = None
) -> SimAdapter:
    """Mount the simulated archive on ``sim://`` of ``session``; returns the adapter."""
    adapter = SimAdapter(archive, faults)
    session.mount(SIM_PREFIX, adapter)
    return adapter
