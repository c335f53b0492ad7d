"""One request router behind both front ends (the ``sim://`` adapter and the HTTP server).

It maps a server path (the real layout: ``/pub/lasco/lastimage/level_05/YYMMDD/c2/...``, the
long-term ``/pub/lasco_level05/YYMMDD/c2/...`` and ``/operations/schedule/schedule.html``) to
a :class:`Reply`, applying the configured faults, so the two front ends cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from email.utils import format_datetime

from comet_pipeline.archive.layout import LONGTERM_ROOT, ArchiveTree
from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator.archive import LEVEL05_ROOT, SimArchive
from comet_pipeline.simulator.faults import (
    HOSTILE_NAMES,
    Decision,
    FaultInjector,
    Faults,
    corrupt_fits,
    insert_lines,
    malformed_lines,
    truncate_body,
)
from comet_pipeline.simulator.formats import img_hdr_line

SCHEDULE_PATH = "/operations/schedule/schedule.html"
_DAY_PATH = re.compile(r"(\d{6})/(c2|c3)(/.*)?")
_FTS = re.compile(r"[0-9]{8}\.fts")
_ROOTS = {ArchiveTree.NEAR_REAL_TIME: LEVEL05_ROOT, ArchiveTree.LONG_TERM: LONGTERM_ROOT}


def _tree_of(path: str) -> ArchiveTree | None:
    """The level-0.5 tree a server path is under (None: neither)."""
    for tree, root in _ROOTS.items():
        if path.startswith(root + "/"):
            return tree
    return None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate: bool = False  # send only part of the body, Content-Length stays full
    redirect_slash: bool = False  # 301 to the same URL with a trailing slash
    latency_s: float = 0.0

    @property
    def sent_body(self) -> bytes:
        return truncate_body(self.body) if self.truncate else self.body


_REASONS = {
    301: "Moved Permanently",
    404: "Not Found",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def error_page(status: int) -> bytes:
    reason = _REASONS.get(status, "Error")
    text = (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
        f"<html><head>\n<title>{status} {reason}</title>\n</head><body>\n<h1>{reason}</h1>\n"
    )
    if status == 404:
        text += "<p>The requested URL was not found on this server.</p>\n"
    else:
        text += "<p>The server is temporarily unable to service your request.</p>\n"
    return (text + "</body></html>\n").encode()


def _parse_day(text: str) -> date | None:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


class Router:
    """Answers GET/HEAD for server paths from a :class:`SimArchive`, with faults."""

    def __init__(self, archive: SimArchive, faults: Faults | None = None) -> None:
        self.archive = archive
        self.injector = FaultInjector(faults if faults is not None else archive.config.faults)

    @property
    def faults(self) -> Faults:
        return self.injector.faults

    @property
    def counts(self) -> dict[str, int]:
        return self.injector.counts

    def handle(self, path: str) -> Reply:
        path = path.split("?", 1)[0].split("#", 1)[0]
        last = path.rsplit("/", 1)[-1]
        decision = self.injector.decide(path, last or None)
        reply = self._route(path, decision)
        reply.latency_s = decision.latency_s
        if reply.status == 200 and decision.truncate:
            reply.truncate = True
        reply.headers.setdefault("Content-Length", str(len(reply.body)))
        return reply

    def _route(self, path: str, decision: Decision) -> Reply:
        if decision.status is not None:
            return self._error(decision.status)
        if path == SCHEDULE_PATH:
            return self._ok(self.archive.schedule_html().encode(), "text/html; charset=UTF-8")
        tree = _tree_of(path)
        if tree is None:
            return self._error(404)
        m = _DAY_PATH.fullmatch(path[len(_ROOTS[tree]) + 1 :])
        day = _parse_day(m.group(1)) if m else None
        if m is None or day is None:
            return self._error(404)
        detector = Detector(m.group(2))
        rest = m.group(3)
        if not self.archive.has_directory(day, detector, tree):
            return self._error(404)
        if rest is None:
            return Reply(301, error_page(301), redirect_slash=True)
        if rest == "/":
            extra = HOSTILE_NAMES if self.faults.hostile_names else ()
            page = self.archive.listing_html(day, detector, directory=path, extra_names=extra)
            return self._ok(page.encode(), "text/html;charset=UTF-8")
        name = rest[1:]
        if name == "img_hdr.txt":
            return self._ok(self._img_hdr(day, detector).encode(), "text/plain; charset=UTF-8")
        if not _FTS.fullmatch(name):
            return self._error(404)
        obs = self.archive.observation(day, detector, name)
        body = self.archive.fits_bytes(day, detector, name)
        if obs is None or body is None:
            return self._error(404)
        if decision.corrupt:
            body = corrupt_fits(body)
        reply = self._ok(body, "application/fits")
        reply.headers["Last-Modified"] = format_datetime(obs.arrived_at, usegmt=True)
        return reply

    def _img_hdr(self, day: date, detector: Detector) -> str:
        text = self.archive.img_hdr_text(day, detector)
        extra = malformed_lines(day, detector.label, self.faults.malformed_index_lines)
        if self.faults.hostile_names:
            arrived = self.archive.arrived(day, detector)
            extra += [img_hdr_line(arrived[0], name=n) for n in HOSTILE_NAMES]
        return insert_lines(text, extra)

    @staticmethod
    def _ok(body: bytes, content_type: str) -> Reply:
        return Reply(200, body, {"Content-Type": content_type})

    @staticmethod
    def _error(status: int) -> Reply:
        return Reply(status, error_page(status), {"Content-Type": "text/html; charset=iso-8859-1"})
