"""Typed archive errors the file lifecycle acts on.

The lifecycle only needs to know one thing about a failure: try again later (``Transient``)
or give up on this file with a reason (everything else). ``permanent`` carries that hint so
callers never have to enumerate exception classes.

Messages are bounded (:func:`~comet_pipeline.domain.text.bounded`): they often carry text a
server chose (a reason phrase, a redirect target, an exception quoting a response), and they
end up in the store, the logs and the UI.
"""

from __future__ import annotations

from comet_pipeline.domain.text import bounded


class ArchiveError(Exception):
    """Base class: something about talking to the archive went wrong."""

    permanent: bool = False

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        message = reason if url is None else f"{reason} ({url})"
        super().__init__(bounded(message))
        self.reason = bounded(reason)
        self.url = url


class NotFound(ArchiveError):
    """HTTP 404: the file (or index) is not there; listed-but-missing files end here."""

    permanent = True


class Transient(ArchiveError):
    """Timeouts, connection errors, 5xx after retries, truncated bodies, a transfer past its
    deadline: retry later."""

    permanent = False


class Corrupt(ArchiveError):
    """The bytes arrived but are not the file the index promised (won't open, mismatch,
    implausible header)."""

    permanent = True


class Rejected(ArchiveError):
    """We refuse to fetch or keep it: a hostile name, a body over the size cap."""

    permanent = True


class Redirected(Rejected):
    """A redirect the client will not follow: to another scheme, host or port than the
    configured archive (its content must never be used), or one hop too many (a loop).

    Permanent: the same server will send the same redirect next time.
    """

    def __init__(self, reason: str, *, url: str | None = None, target: str | None = None) -> None:
        super().__init__(reason, url=url)
        self.target = None if target is None else bounded(target)


class RejectedName(Rejected):
    """A file name from an index or listing that must never touch a URL or a path."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"rejected file name {name!r}: {reason}")
        self.name = name
        self.reason = reason
