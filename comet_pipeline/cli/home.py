"""``comet-pipeline init`` and ``comet-pipeline store rebuild [--new]``: the only places a
home or a store is created on purpose, each saying what it did."""

from __future__ import annotations

import sys
from datetime import datetime

from comet_pipeline.domain import utcnow
from comet_pipeline.ingest.home import HomeMismatch, check_home, home_contents, set_aside
from comet_pipeline.ingest.rebuild import rebuild_from_disk
from comet_pipeline.settings import Settings
from comet_pipeline.store import StoreError, StoreLocation, open_store, store_location


def init_home(settings: Settings, *, quiet: bool = False) -> int:
    """Create COMET_HOME and its store when missing; refuse a store that lost its files."""
    layout = settings.layout
    location = store_location(settings)
    created = not settings.home.exists()
    settings.home.mkdir(parents=True, exist_ok=True)
    new_store = not location.exists()
    try:
        store = open_store(location)  # a PostgreSQL database is migrated here
        check_home(store, layout)
    except (StoreError, HomeMismatch) as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    if not quiet or created or new_store:
        what = "created" if created else ("created the store in" if new_store else "using")
        elsewhere = "" if location.path is not None else f" (lifecycle store: {location})"
        print(f"comet-pipeline: {what} COMET_HOME {settings.home}{elsewhere}")
    return 0


def rebuild_store(settings: Settings, *, new: bool) -> int:
    """Re-register the raw files of the home, or (``new``) set the files aside first."""
    layout = settings.layout
    if not settings.home.is_dir():
        print(f"comet-pipeline: COMET_HOME {settings.home} does not exist", file=sys.stderr)
        return 2
    now = utcnow()
    location = store_location(settings)
    if new and location.path is None:
        return _new_database_store(settings, location, now)
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
        open_store(location)
        print(f"new, empty lifecycle store at {layout.lifecycle_db}")
        return 0
    try:
        store = open_store(location)
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


def _new_database_store(settings: Settings, location: StoreLocation, now: datetime) -> int:
    """``store rebuild --new`` when the store is a PostgreSQL database: a database is not a
    file to move aside, so it must already be empty (a new one, made by whoever runs the
    server); then only the files are set aside."""
    try:
        store = open_store(location)
    except StoreError as err:
        print(f"comet-pipeline: {err}", file=sys.stderr)
        return 2
    if not store.summary().empty:
        print(
            f"comet-pipeline: the lifecycle store {location} is a PostgreSQL database that "
            "holds data, and a database cannot be set aside like a file: create a new, empty "
            "database, point COMET_STORE_URL at it, and run `store rebuild --new` again",
            file=sys.stderr,
        )
        return 2
    aside = set_aside(settings.layout, now)
    if aside is not None:
        print(f"raw/, frames/ and products/ moved to {aside} (nothing deleted)")
    print(f"new, empty lifecycle store at {location}")
    return 0
