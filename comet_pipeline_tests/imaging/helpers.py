"""Small readers the imaging tests share."""

from __future__ import annotations

from pathlib import Path

from comet_pipeline.domain import Frame


def product_path(frame: Frame, product: str) -> Path | None:
    """The file of ``product`` as a Path, or None when the frame has none."""
    path = frame.path(product)
    return None if path is None else Path(path)
