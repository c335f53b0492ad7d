"""Keep the lifecycle store and the files of a home in step.

An emptied or lost ``lifecycle.db`` beside ``raw/`` and ``frames/`` full of files would
otherwise be taken for a new store: everything fetched again and the audit trail gone
without a word. So a store that is empty over a home that holds files is refused, with the
two ways out: re-register what is on disk (``store rebuild``) or set the files aside and
start anew (``store rebuild --new``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from comet_pipeline.settings import HomeLayout
from comet_pipeline.store import LifecycleStore

#: The folders whose files only make sense with their store rows.
KEPT_DIRS = ("raw", "frames", "products")


class HomeMismatch(Exception):
    """The store does not describe the home it sits in. Permanent: a retry changes nothing."""


@dataclass(frozen=True)
class HomeContents:
    raw_files: int
    frame_files: int

    @property
    def any(self) -> bool:
        return bool(self.raw_files or self.frame_files)


def _files(folder: Path, limit: int) -> int:
    """Regular files under ``folder``, counted up to ``limit`` (enough to say "some")."""
    count = 0
    for _root, _dirs, names in os.walk(folder):
        count += len(names)
        if count >= limit:
            return count
    return count


def home_contents(layout: HomeLayout, *, limit: int = 1000) -> HomeContents:
    return HomeContents(_files(layout.raw_dir, limit), _files(layout.frames_dir, limit))


def check_home(store: LifecycleStore, layout: HomeLayout) -> None:
    """Raise HomeMismatch when the store is empty but the home holds files."""
    summary = store.summary()
    if not summary.empty:
        return
    contents = home_contents(layout)
    if contents.any:
        raise HomeMismatch(
            f"the lifecycle store {summary.location} is empty, but {layout.home} holds "
            f"{contents.raw_files} raw and {contents.frame_files} frame files: was the "
            "database emptied or replaced? Run `comet-pipeline store rebuild` to re-register "
            "the raw files, or `comet-pipeline store rebuild --new` to set them aside and "
            "start a new store"
        )


def set_aside(layout: HomeLayout, now: datetime) -> Path | None:
    """Move raw/, frames/ and products/ into ``orphaned-<UTC time>/`` (nothing deleted)."""
    present = [layout.home / name for name in KEPT_DIRS if (layout.home / name).exists()]
    if not present:
        return None
    target = layout.home / f"orphaned-{now:%Y%m%dT%H%M%SZ}"
    target.mkdir(parents=True, exist_ok=False)
    for folder in present:
        shutil.move(str(folder), str(target / folder.name))
    return target


def raw_files(layout: HomeLayout) -> Iterator[Path]:
    """Downloaded FITS files under raw/ (any case of ``.fts``), never temp files."""
    for path in sorted(layout.raw_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() == ".fts":
            yield path
