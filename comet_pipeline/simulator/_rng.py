"""Seeded random generators keyed by what they describe, so every draw is a pure function.

``rng_for(seed, "obs", day.toordinal(), "c2")`` always yields the same stream, whatever else
was computed before: no generator is shared between days, detectors or frames.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _as_int(key: object) -> int:
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, int):
        return key & 0xFFFFFFFF_FFFFFFFF
    digest = hashlib.blake2b(str(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A generator for one named purpose; strings are hashed stably (not Python's hash())."""
    entropy = [_as_int(seed), *(_as_int(k) for k in keys)]
    return np.random.default_rng(np.random.SeedSequence(entropy))
