"""Typed archive errors the file lifecycle acts on.

The lifecycle only needs to know one thing about a failure: try again later (``Transient``)
or give up on this file with a reason (everything else). ``permanent`` carries that hint so
callers never have to enumerate exception classes.
"""

from __future__ import annotations


class ArchiveError(Exception):
    """Base class: something about talking to the archive went wrong."""

    permanent: bool = False

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        super().__init__(reason if url is None else f"{reason} ({url})")
        self.reason = reason
        self.url = url


class NotFound(ArchiveError):
    """HTTP 404: the file (or index) is not there; listed-but-missing files end here."""

    permanent = True


class Transient(ArchiveError):
    """Timeouts, connection errors, 5xx after retries, truncated bodies: retry later."""

    permanent = False


class Corrupt(ArchiveError):
    """The bytes arrived but are not the file the index promised (won't open, mismatch)."""

    permanent = True


class Rejected(ArchiveError):
    """We refuse to fetch or keep it: a hostile name, a body over the size cap."""

    permanent = True


class RejectedName(Rejected):
    """A file name from an index or listing that must never touch a URL or a path."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"rejected file name {name!r}: {reason}")
        self.name = name
        self.reason = reason
