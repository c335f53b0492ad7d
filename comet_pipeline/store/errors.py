"""Errors the lifecycle store raises; callers catch these, never sqlite3 errors."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every lifecycle-store error."""


class UnknownFile(StoreError, LookupError):
    """The named file was never registered."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown file {name!r}: it was never registered in the lifecycle store")
        self.name = name


class UnknownCandidate(StoreError, LookupError):
    """No candidate has that id (never found, or merged into another)."""

    def __init__(self, candidate_id: str) -> None:
        super().__init__(f"no candidate with id {candidate_id!r}")
        self.candidate_id = candidate_id


class VerdictChanged(StoreError):
    """A verdict given only "if the candidate is still X" found it was not (someone gave
    another meanwhile): nothing was written."""

    def __init__(self, candidate_id: str, expected: str, found: str) -> None:
        super().__init__(
            f"candidate {candidate_id!r} is {found} now, not {expected}: verdict not written"
        )
        self.candidate_id = candidate_id


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


class DamagedStore(StoreError):
    """The database file cannot be used: not a database, malformed, unreadable. Permanent:
    retrying the step will not repair it."""

    def __init__(self, path: str, problem: str, hint: str = "") -> None:
        message = f"lifecycle store {path}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.path = path
        self.problem = problem
