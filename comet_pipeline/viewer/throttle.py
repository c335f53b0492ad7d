"""Slowing down a client that keeps sending wrong tokens."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last: float


@dataclass
class FailureThrottle:
    """Per client address: the first ``free`` wrong tokens cost nothing, each later one waits
    twice as long as the one before (from ``base_s``, at most ``max_s``) before it is even
    checked. ``window_s`` after an address's last failure it starts afresh; a right token
    clears it at once. At most ``max_addresses`` are remembered (the least recently failing
    go first), so a flood of addresses costs bounded memory."""

    free: int = 3
    base_s: float = 0.25
    max_s: float = 8.0
    window_s: float = 900.0
    max_addresses: int = 10_000
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._failures: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def delay_s(self, address: str) -> float:
        """How long a request from ``address`` waits before its token is looked at."""
        with self._lock:
            count = self._count(address)
        if count == 0 or count < self.free:
            return 0.0
        return min(self.base_s * 2.0 ** (count - self.free), self.max_s)

    def failed(self, address: str) -> None:
        with self._lock:
            count = self._count(address)
            self._failures[address] = _Failures(count + 1, self.clock())
            self._failures.move_to_end(address)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def remembered(self) -> int:
        """How many addresses are held (for tests and the curious)."""
        with self._lock:
            return len(self._failures)

    def _count(self, address: str) -> int:
        found = self._failures.get(address)
        if found is None:
            return 0
        if self.clock() - found.last > self.window_s:
            del self._failures[address]
            return 0
        return found.count
