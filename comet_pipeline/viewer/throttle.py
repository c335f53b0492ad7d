"""Slowing down a client that keeps sending wrong tokens."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class FailureThrottle:
    """Per client address: the first ``free`` wrong tokens within ``window_s`` cost nothing,
    each later one waits twice as long as the one before (from ``base_s``, at most
    ``max_s``) before it is even checked. A right token clears the address."""

    free: int = 3
    base_s: float = 0.25
    max_s: float = 8.0
    window_s: float = 900.0
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def delay_s(self, address: str) -> float:
        """How long a request from ``address`` waits before its token is looked at."""
        with self._lock:
            recent = self._recent(address)
        over = len(recent) - self.free
        return 0.0 if over < 0 else min(self.base_s * 2.0**over, self.max_s)

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures[address] = [*self._recent(address), self.clock()]

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> list[float]:
        cutoff = self.clock() - self.window_s
        return [t for t in self._failures.get(address, []) if t >= cutoff]
