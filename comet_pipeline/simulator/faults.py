"""Fault injection shared by the ``sim://`` adapter and the loopback HTTP server.

:class:`Faults` is the frozen description; :class:`FaultInjector` holds the per-server state
(request counters, remaining flaky failures). Random decisions are a hash of
(seed, kind, path, n-th request of that path), so they do not depend on thread timing or on
requests to other paths: a test can predict them with :meth:`FaultInjector.would_fail`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

#: Names a hostile or broken index may carry; none of them may reach a URL or a path.
HOSTILE_NAMES: tuple[str, ...] = (
    "../../etc/passwd.fts",
    "/abs.fts",
    "2209x721.fts",
    "..%2F..%2Fescape.fts",
    "229327211.fts",
)


@dataclass(frozen=True)
class Faults:
    """What to break, and how often.

    error_rate: fraction of requests answered ``error_status`` (503 by default).
    latency_s: sleep before every answer.
    truncate_rate: fraction of 200 answers for ``.fts`` files whose body is cut short while
        Content-Length still claims the full size (the connection closes early).
    truncate_text: apply ``truncate_rate`` to listings, indexes and the schedule too.
    corrupt: file names whose FITS bytes are garbled (same length, header destroyed).
    missing: file names that are listed in the index but answered 404.
    malformed_index_lines: junk lines inserted into every ``img_hdr.txt``.
    hostile_names: add :data:`HOSTILE_NAMES` entries to ``img_hdr.txt`` and the listing.
    flaky: ``{name: n}``: the first n requests for that file fail (503), then it is served.
    """

    error_rate: float = 0.0
    error_status: int = 503
    latency_s: float = 0.0
    truncate_rate: float = 0.0
    truncate_text: bool = False
    corrupt: frozenset[str] = frozenset()
    missing: frozenset[str] = frozenset()
    malformed_index_lines: int = 0
    hostile_names: bool = False
    flaky: Mapping[str, int] = field(default_factory=dict, hash=False)
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "corrupt", frozenset(_names(self.corrupt)))
        object.__setattr__(self, "missing", frozenset(_names(self.missing)))
        object.__setattr__(self, "flaky", {k.lower(): int(v) for k, v in dict(self.flaky).items()})
        for name in ("error_rate", "truncate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


def _names(values: Iterable[str]) -> Iterable[str]:
    if isinstance(values, str):
        values = [values]
    return (v.lower() for v in values)


def _unit(seed: int, kind: str, path: str, n: int) -> float:
    digest = hashlib.blake2b(f"{seed}|{kind}|{path}|{n}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True)
class Decision:
    """What the injector wants done with one request."""

    status: int | None = None  # answer this status instead of serving (None = serve)
    truncate: bool = False
    corrupt: bool = False
    latency_s: float = 0.0


class FaultInjector:
    """Per-server fault state: counts requests per path and decides each one's fate."""

    def __init__(self, faults: Faults | None) -> None:
        self.faults = faults or Faults()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._flaky_seen: dict[str, int] = {}

    @property
    def counts(self) -> dict[str, int]:
        """Requests seen per path (a copy)."""
        with self._lock:
            return dict(self._counts)

    def would_fail(self, path: str, n: int) -> bool:
        """Whether the ``n``-th (1-based) request of ``path`` gets the error status."""
        return _unit(self.faults.seed, "error", path, n) < self.faults.error_rate

    def decide(self, path: str, file_name: str | None) -> Decision:
        f = self.faults
        with self._lock:
            n = self._counts.get(path, 0) + 1
            self._counts[path] = n
            flaky_fail = False
            if file_name is not None and file_name.lower() in f.flaky:
                seen = self._flaky_seen.get(file_name.lower(), 0)
                self._flaky_seen[file_name.lower()] = seen + 1
                flaky_fail = seen < f.flaky[file_name.lower()]
        if flaky_fail or self.would_fail(path, n):
            return Decision(status=f.error_status, latency_s=f.latency_s)
        if file_name is not None and file_name.lower() in f.missing:
            return Decision(status=404, latency_s=f.latency_s)
        is_file = file_name is not None and file_name.lower().endswith(".fts")
        return Decision(
            truncate=(is_file or f.truncate_text)
            and _unit(f.seed, "truncate", path, n) < f.truncate_rate,
            corrupt=file_name is not None and file_name.lower() in f.corrupt,
            latency_s=f.latency_s,
        )


def truncate_body(body: bytes) -> bytes:
    """Keep the first part of a body (at least one byte short, at most ~60 %)."""
    if len(body) <= 1:
        return b""
    return body[: max(0, min(len(body) - 1, int(len(body) * 0.6)))]


def corrupt_fits(body: bytes) -> bytes:
    """Garble a FITS file while keeping its length: the first header cards become noise."""
    junk = hashlib.sha256(body[:2880]).digest() * 40  # 1280 deterministic bytes
    garbled = bytearray(body)
    garbled[: len(junk)] = junk[: len(garbled)]
    return bytes(garbled)


def malformed_lines(day: date, detector_label: str, count: int) -> list[str]:
    """``count`` junk ``img_hdr.txt`` lines of the kinds real mirrors produce."""
    stamp = day.strftime("%Y/%m/%d")
    other = "C3" if detector_label == "C2" else "C2"
    digit = detector_label[1]
    kinds = [
        "%%% record lost in transfer %%%",
        f"{digit}9999901.fts    {stamp}  00:00:05   {detector_label}",  # too few fields
        f"{digit}9999902.fts    {day.year}/13/45  00:00:05   {detector_label}    25.1"
        "   1024   1024     20      1  Orange  Clear   Normal       0.0000  4179",  # bad date
        f"{digit}9999903.fts    {stamp}  00:00:05   {detector_label}    xx.x"
        "   1024   1024     20      1  Orange  Clear   Normal       0.0000  4179",  # bad number
        f"{digit}9999904.fts    {stamp}  00:00:05   {other}    25.1"
        "   1024   1024     20      1  Orange  Clear   Normal       0.0000  4179",  # wrong camera
        "\t \x7f\x1b[0m  ??",
    ]
    return [kinds[i % len(kinds)] for i in range(count)]


def insert_lines(text: str, extra: list[str]) -> str:
    """Spread ``extra`` lines through ``text`` at fixed positions (deterministic)."""
    if not extra:
        return text
    lines = text.splitlines()
    step = max(1, len(lines) // (len(extra) + 1))
    for i, line in enumerate(extra):
        lines.insert(min(len(lines), (i + 1) * step + i), line)
    return "\n".join(lines) + "\n"
