"""What both engines decide the same way: which moves a guarded transition accepts, the
retry backoff, the columns of a candidate. Pure; the engines only run the SQL."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import timedelta

from comet_pipeline.domain import FILE_TRANSITIONS, FileState
from comet_pipeline.domain.states import RESET_TRANSITIONS, sources_of
from comet_pipeline.store.errors import IllegalTransition

#: Keyword fields ``transition`` may set alongside the state.
TRANSITION_FIELDS = frozenset(
    {
        "sha256",
        "raw_path",
        "last_error",
        "lease_owner",
        "lease_expires_at",
        "next_attempt_at",
        "attempts",
    }
)
#: Of those, the ones holding times (each engine stores times its own way).
TIME_FIELDS = frozenset({"lease_expires_at", "next_attempt_at"})

CANDIDATE_COLUMNS = (
    "id",
    "detector",
    "first_seen_at",
    "last_seen_at",
    "n_frames",
    "score",
    "snr",
    "speed_px_per_hour",
    "direction_deg",
    "status",
    "report_text",
    "cutout_path",
    "updated_at",
    "known",
)
CANDIDATE_TIMES = ("first_seen_at", "last_seen_at", "updated_at")
#: The columns a hunt rewrites on an existing candidate: everything but the verdict.
HUNT_COLUMNS = tuple(c for c in CANDIDATE_COLUMNS if c not in ("id", "status"))


def transition_sources(
    name: str, target: FileState, expected: FileState | None, fields: Iterable[str]
) -> frozenset[FileState]:
    """The states ``name`` may move to ``target`` from, checked before any row is read."""
    unknown = set(fields) - TRANSITION_FIELDS
    if unknown:
        raise TypeError(f"transition() got unsupported fields: {sorted(unknown)}")
    if expected is not None and target not in FILE_TRANSITIONS[expected]:
        raise IllegalTransition(f"file {name!r}", expected, target, "expected source")
    return frozenset({expected}) if expected is not None else sources_of(target)


def reset_sources(
    name: str, target: FileState, expected: FileState, reason: str
) -> frozenset[FileState]:
    """Check a reset (``reset_file``) before any row is read: the pair must be in
    RESET_TRANSITIONS and the reason non-empty (a reset is always explained in the audit)."""
    if not reason.strip():
        raise ValueError(f"resetting {name!r} needs a reason for the audit trail")
    if expected not in RESET_TRANSITIONS.get(target, frozenset()):
        raise IllegalTransition(f"file {name!r}", expected, target, "reset")
    return frozenset({expected})


#: Columns a reset clears: the new phase starts with a fresh retry budget.
RESET_FIELDS: dict[str, None | int] = {
    "attempts": 0,
    "next_attempt_at": None,
    "last_error": None,
    "lease_owner": None,
    "lease_expires_at": None,
}


def may_apply(
    name: str,
    target: FileState,
    current: FileState,
    sources: frozenset[FileState],
    *,
    expected: FileState | None,
    owner: str | None,
    lease_owner: str | None,
) -> bool:
    """Whether the compare-and-swap applies to the row as read under the write lock: False
    when the caller's belief is stale (the file moved on, another worker holds the lease);
    IllegalTransition when, without ``expected``, the move is forbidden from ``current``."""
    if current not in sources:
        if expected is None:
            raise IllegalTransition(f"file {name!r}", current, target)
        return False  # the file moved on since the caller looked: lost the race
    return owner is None or lease_owner == owner  # else someone else holds the lease now


def backoff_delay(
    attempts: int, base: timedelta, cap: timedelta, jitter: float, rng: random.Random
) -> timedelta:
    """Delay before retry number ``attempts`` (1-based): base * 2**(n-1), capped, then
    scaled by a random factor in [1 - jitter, 1 + jitter] so retries do not stampede."""
    exponent = max(attempts - 1, 0)
    nominal = min(cap, base * (2 ** min(exponent, 62)))
    return nominal * (1.0 + rng.uniform(-jitter, jitter))
