"""Errors the lifecycle store raises; callers catch these, never sqlite3 errors."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every lifecycle-store error."""


class UnknownFile(StoreError, LookupError):
    """The named file was never registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown file {name!r}: it was never registered in the lifecycle store")
        self.name = name


class IllegalTransition(StoreError):
    """A move the state machine forbids (a programming error, not a lost race)."""

    def __init__(self, subject: str, current: str, attempted: str, detail: str = "") -> None:
        message = f"illegal transition for {subject}: {current} -> {attempted} is not allowed"
        if detail:
            message += f" ({detail})"
        super().__init__(message)
        self.subject = subject
        self.current = current
        self.attempted = attempted
