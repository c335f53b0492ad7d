"""A damaged, read-only, missing or emptied home: one line that names the file and the way
out, never a traceback; and `store rebuild` brings an emptied store back from disk."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from comet_pipeline import cli
from comet_pipeline.domain import FileState
from comet_pipeline.imaging.pipeline import FrameProcessor
from comet_pipeline.ingest.discover import discover_window
from comet_pipeline.ingest.download import download_window
from comet_pipeline.ingest.process import process_window
from comet_pipeline.settings import Settings, get_settings
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig
from comet_pipeline.store import SQLiteStore, StoreError
from comet_pipeline_tests.shared import HOUR, NOW, SEED

END = HOUR + timedelta(hours=1)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Iterator[Settings]:
    settings = Settings(home=tmp_path / "home")
    monkeypatch.setenv("COMET_HOME", str(settings.home))
    get_settings.cache_clear()  # the CLI reads the environment once per process
    yield settings
    get_settings.cache_clear()


def _ingest_hour(settings: Settings) -> SQLiteStore:
    """One real hour on disk: discovered, downloaded, processed."""
    settings.home.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.layout.lifecycle_db)
    sim = SimArchive(SimConfig(seed=SEED), clock=lambda: NOW)
    client = simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)
    detectors = settings.detectors
    discover_window(store, client, detectors, HOUR, END, now=NOW)
    download_window(store, client, settings.layout.raw_dir, HOUR, END, clock=lambda: NOW, owner="a")
    processor = FrameProcessor(settings.layout.frames_dir)
    process_window(store, processor, HOUR, END, clock=lambda: NOW, owner="b")
    return store


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def _forget(store: SQLiteStore) -> None:
    """Empty the database as an accident would (the file stays, its rows are gone)."""
    db = store.path
    store.close()
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    db.write_bytes(b"")


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"hello" * 1000, "file is not a database"), (None, "malformed")],
)
def test_status_on_a_damaged_database_is_one_line(home, capsys, content, problem):
    store = _ingest_hour(home)
    db = store.path
    store.close()
    if content is None:  # half of a real database
        size = db.stat().st_size
        with db.open("r+b") as f:
            f.truncate(size // 2)
    else:
        db.write_bytes(content)
    assert cli.main(["status"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(db) in err and problem in err, err
    assert "Traceback" not in err


def test_status_and_frames_read_a_home_opened_read_only(home, capsys):
    store = _ingest_hour(home)
    store.close()
    before = _digests(home.home)
    ro = SQLiteStore(home.layout.lifecycle_db, read_only=True)
    assert ro.summary().totals["frames"] > 0
    with pytest.raises(StoreError, match="read-only"):
        ro.upsert_slots([], NOW)
    assert cli.main(["status"]) == 0
    assert "PROCESSED" in capsys.readouterr().out
    assert (
        cli.main(["frames", "--detector", "c3", "--since", "2025-06-10", "--until", "2025-06-11"])
        == 0
    )
    assert ".png" in capsys.readouterr().out
    lifecycle = {"lifecycle.db", "lifecycle.db-wal", "lifecycle.db-shm"}
    assert {k: v for k, v in _digests(home.home).items() if k not in lifecycle} == {
        k: v for k, v in before.items() if k not in lifecycle
    }


def test_status_on_a_missing_store_says_so_and_creates_nothing(home, capsys):
    assert cli.main(["status"]) == 2
    assert "no lifecycle store" in capsys.readouterr().err
    assert not home.home.exists()


def test_init_creates_the_home_and_says_so(home, capsys):
    assert cli.main(["init"]) == 0
    assert "created COMET_HOME" in capsys.readouterr().out
    assert home.layout.lifecycle_db.is_file()


def test_an_emptied_store_is_refused_then_rebuilt_from_disk(home, capsys):
    store = _ingest_hour(home)
    ready = {
        r.name: r.sha256
        for d in home.detectors
        for r in store.files_between(d, HOUR, END)
        if r.state is FileState.PROCESSED
    }
    assert ready
    frames_before = _digests(home.layout.frames_dir)
    _forget(store)

    assert cli.main(["init"]) == 2  # refuses to call an empty store over files "new"
    err = capsys.readouterr().err
    assert "is empty" in err and "store rebuild" in err and len(err.strip().splitlines()) == 1
    assert cli.main(["status"]) == 1
    assert "store rebuild" in capsys.readouterr().out

    assert cli.main(["store", "rebuild"]) == 0
    assert f"rebuilt {len(ready)}" in capsys.readouterr().out.replace(",", "")
    rebuilt = SQLiteStore(home.layout.lifecycle_db)
    records = {r.name: r for d in home.detectors for r in rebuilt.files_between(d, HOUR, END)}
    assert {n: r.sha256 for n, r in records.items()} == ready
    assert all(r.state is FileState.READY for r in records.values())
    assert all("rebuilt from disk" in (rebuilt.transitions_for(n)[-1].reason or "") for n in ready)
    # processing again writes the same products, byte for byte
    process_window(
        rebuilt, FrameProcessor(home.layout.frames_dir), HOUR, END, clock=lambda: NOW, owner="c"
    )
    assert _digests(home.layout.frames_dir) == frames_before
    assert cli.main(["store", "rebuild"]) == 0  # again: everything already known
    assert f"already_known {len(ready)}" in capsys.readouterr().out


def test_rebuild_new_sets_everything_aside_and_loses_nothing(home, capsys):
    store = _ingest_hour(home)
    raw_before = _digests(home.layout.raw_dir)
    _forget(store)
    assert cli.main(["store", "rebuild", "--new"]) == 0
    out = capsys.readouterr().out
    assert "moved to" in out and "nothing deleted" in out
    [aside] = [p for p in home.home.iterdir() if p.name.startswith("orphaned-")]
    assert _digests(aside / "raw") == raw_before
    assert cli.main(["init"]) == 0  # a consistent, empty home now
    assert SQLiteStore(home.layout.lifecycle_db).summary().empty
    shutil.rmtree(aside)


def test_token_create_prints_it_once_and_keeps_only_its_hash(tmp_path, capsys, monkeypatch):
    from comet_pipeline.cli.main import main
    from comet_pipeline.settings import get_settings
    from comet_pipeline.store import SQLiteStore
    from comet_pipeline.viewer.auth import token_hash

    home = tmp_path / "home"
    monkeypatch.setenv("COMET_HOME", str(home))
    get_settings.cache_clear()
    try:
        assert main(["token", "create", "ada"]) == 2  # no home yet: says to init first
        assert "comet-pipeline init" in capsys.readouterr().err
        assert main(["init"]) == 0
        capsys.readouterr()
        assert main(["token", "create", "ada"]) == 0
        out, err = capsys.readouterr()
        token = out.strip()
        assert len(token) >= 43 and "\n" not in token and "shown only this once" in err
        store = SQLiteStore(home / "lifecycle.db")
        assert store.token_name(token_hash(token)) == "ada"
        assert token not in (home / "lifecycle.db").read_bytes().decode("latin-1")
        assert main(["token", "create", "ada"]) == 2 and "exists already" in capsys.readouterr().err
        assert main(["token", "create", "no spaces"]) == 2
        assert main(["token", "create", "Hunt"]) == 2  # the audit's name for merges
        assert "reserved" in capsys.readouterr().err
        capsys.readouterr()
        assert main(["token", "list"]) == 0 and capsys.readouterr().out == "ada\n"
        assert main(["token", "revoke", "ada"]) == 0
        assert store.token_name(token_hash(token)) is None
        assert main(["token", "revoke", "ada"]) == 2
    finally:
        get_settings.cache_clear()
