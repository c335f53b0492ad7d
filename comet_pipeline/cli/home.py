"""``comet-pipeline init`` and ``comet-pipeline store rebuild [--new]``: the only places a
home or a store is created on purpose, each saying what it did."""

from __future__ import annotations

import sys

from comet_pipeline.domain import utcnow
from comet_pipeline.ingest.home import HomeMismatch, check_home, home_contents, set_aside
from comet_pipeline.ingest.rebuild import rebuild_from_disk
from comet_pipeline.settings import Settings
from comet_pipeline.store import SQLiteStore, StoreError


def init_home(settings: Settings, *, quiet: bool = False) -> int:
    """Create COMET_HOME and its store when missing; refuse a store that lost its files."""
    layout = settings.layout
    created = not settings.home.exists()
    settings.home.mkdir(parents=True, exist_ok=True)
    new_store = not layout.lifecycle_db.exists()
    try:
        store = SQLiteStore(layout.lifecycle_db)
        check_home(store, layout)
    except (StoreError, HomeMismatch) as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    if not quiet or created or new_store:
        what = "created" if created else ("created the store in" if new_store else "using")
        print(f"comet-pipeline: {what} COMET_HOME {settings.home}")
    return 0


def rebuild_store(settings: Settings, *, new: bool) -> int:
    """Re-register the raw files of the home, or (``new``) set the files aside first."""
    layout = settings.layout
    if not settings.home.is_dir():
        print(f"comet-pipeline: COMET_HOME {settings.home} does not exist", file=sys.stderr)
        return 2
    now = utcnow()
    if new:
        if layout.lifecycle_db.exists():
            moved = layout.home / f"lifecycle-{now:%Y%m%dT%H%M%SZ}.db"
            for suffix in ("", "-wal", "-shm"):
                old = layout.lifecycle_db.with_name(layout.lifecycle_db.name + suffix)
                if old.exists():
                    old.rename(moved.with_name(moved.name + suffix))
            print(f"old database kept as {moved}")
        aside = set_aside(layout, now)
        if aside is not None:
            print(f"raw/, frames/ and products/ moved to {aside} (nothing deleted)")
        SQLiteStore(layout.lifecycle_db)
        print(f"new, empty lifecycle store at {layout.lifecycle_db}")
        return 0
    try:
        store = SQLiteStore(layout.lifecycle_db)
    except StoreError as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    contents = home_contents(layout)
    print(f"re-registering {contents.raw_files} raw files under {layout.raw_dir} ...")
    result = rebuild_from_disk(store, layout, now=now)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items())) or "nothing"
    print(f"done in {result.elapsed_s:.1f} s: {counts}")
    for error in result.errors[:20]:
        print(f"  {error}")
    print("the READY files are processed again by the next run (products are rewritten)")
    return 0 if not result.errors else 1
