"""Atomic file writes: a reader never sees a half-written product.

The temporary name carries the process and thread ids, so concurrent writers (the
processor's writer threads, two runs racing on one frame) never share a temporary file;
``os.replace`` makes the last complete write win.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path


def atomic_write(path: Path, parts: Sequence) -> Path:
    """Write the buffers ``parts`` (bytes, arrays…) to ``path`` via temp file + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            for part in parts:
                fh.write(part)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
