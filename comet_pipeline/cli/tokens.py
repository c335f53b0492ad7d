"""``comet-pipeline token create|list|revoke``: the viewer's bearer tokens.

``create`` prints the token once, alone on stdout (so ``TOKEN=$(comet-pipeline token create
me)`` works); the store keeps only its SHA-256. Explanations go to stderr.
"""

from __future__ import annotations

import re
import sys

from comet_pipeline.domain import HUNT_REVIEWER, utcnow
from comet_pipeline.settings import Settings
from comet_pipeline.store import LifecycleStore, StoreError, open_store, store_location
from comet_pipeline.viewer.auth import new_token, token_hash

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def _store(settings: Settings) -> LifecycleStore | None:
    location = store_location(settings)
    if not location.exists():
        print(
            f"comet-pipeline: no lifecycle store at {location}: run `comet-pipeline init` first",
            file=sys.stderr,
        )
        return None
    return open_store(location)


def create_token(settings: Settings, name: str) -> int:
    if name.lower() == HUNT_REVIEWER:
        print(
            f"comet-pipeline: {name!r} is reserved: the audit uses it for verdicts the hunt "
            "carries over in a merge",
            file=sys.stderr,
        )
        return 2
    if not NAME.fullmatch(name):
        print(
            f"comet-pipeline: a token name is 1-64 letters, digits, '_', '.', '@' or '-', "
            f"got {name!r}",
            file=sys.stderr,
        )
        return 2
    try:
        store = _store(settings)
        if store is None:
            return 2
        token = new_token()
        store.create_token(name, token_hash(token), now=utcnow())
    except StoreError as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    print(token)
    print(
        f"comet-pipeline: token {name!r} created. It is shown only this once; send it as "
        "'Authorization: Bearer <token>' (the viewer's settings panel keeps it for you).",
        file=sys.stderr,
    )
    return 0


def list_tokens(settings: Settings) -> int:
    try:
        store = _store(settings)
        if store is None:
            return 2
        names = store.token_names()
    except StoreError as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    for name in names:
        print(name)
    if not names:
        print("comet-pipeline: no tokens; create one with `token create NAME`", file=sys.stderr)
    return 0


def revoke_token(settings: Settings, name: str) -> int:
    try:
        store = _store(settings)
        if store is None:
            return 2
        revoked = store.revoke_token(name, now=utcnow())
    except StoreError as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    if not revoked:
        print(f"comet-pipeline: no live token named {name!r}", file=sys.stderr)
        return 2
    print(f"comet-pipeline: token {name!r} revoked", file=sys.stderr)
    return 0
