"""Text that crosses into the store, the logs and the UI stays small."""

from __future__ import annotations

#: Characters kept of an error or problem text (a server can send megabytes of it).
MAX_TEXT = 300


def bounded(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to about ``limit`` characters, saying how long the original was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"
