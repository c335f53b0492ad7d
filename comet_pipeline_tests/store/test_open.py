"""One setting chooses the engine: COMET_STORE_URL unset is the SQLite file in COMET_HOME,
postgresql://... a PostgreSQL database; ``open_store`` is the one place that maps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from comet_pipeline.settings import Settings, SettingsError
from comet_pipeline.store import SQLiteStore, StoreError, StoreLocation, open_store, store_location
from comet_pipeline.store.location import redact
from comet_pipeline.store.postgres import PostgresStore
from comet_pipeline_tests.store._helpers import T0, archive_file


def test_the_setting_is_read_once_and_checked():
    assert Settings.from_env({"COMET_HOME": "/h"}).store_url is None
    assert Settings.from_env({"COMET_HOME": "/h", "COMET_STORE_URL": " "}).store_url is None
    url = "postgresql://comet@db.example:5432/comet"
    assert Settings.from_env({"COMET_HOME": "/h", "COMET_STORE_URL": url}).store_url == url
    with pytest.raises(SettingsError, match="PostgreSQL URL") as err:
        Settings.from_env({"COMET_HOME": "/h", "COMET_STORE_URL": "mysql://u:hunter2@h/db"})
    assert "hunter2" not in str(err.value)  # the value may hold a password: never echoed


def test_a_location_names_its_engine_and_hides_the_password(tmp_path):
    home = Settings(home=tmp_path / "home")
    here = store_location(home)
    assert (here.engine, here.path, str(here)) == (
        "sqlite",
        home.layout.lifecycle_db,
        str(here.path),
    )
    assert here.exists() is False
    remote = store_location(Settings(home=tmp_path, store_url="postgresql://u:pw@h:5/db"))
    assert remote.engine == "postgresql" and remote.exists() is True
    assert str(remote) == "postgresql://u@h:5/db" and remote.target == "postgresql://u:pw@h:5/db"
    assert store_location("postgres://h/db").engine == "postgresql"
    assert store_location(tmp_path / "x.db") == StoreLocation(path=tmp_path / "x.db")
    assert redact("postgresql://h/db?password=pw&sslmode=require") == (
        "postgresql://h/db?sslmode=require"
    )
    with pytest.raises(ValueError, match="not both"):
        StoreLocation(path=Path("a"), url="postgresql://h/db")


def test_open_store_opens_the_engine_the_setting_names(tmp_path, postgres_database):
    home = Settings(home=tmp_path / "home")
    home.home.mkdir()
    local = open_store(home, max_attempts=2)
    assert isinstance(local, SQLiteStore) and local.path == home.layout.lifecycle_db
    assert local.max_attempts == 2
    remote = open_store(Settings(home=home.home, store_url=postgres_database), max_attempts=3)
    assert isinstance(remote, PostgresStore) and remote.max_attempts == 3
    assert isinstance(open_store(postgres_database), PostgresStore)
    for store in (local, remote):
        store.register_files([archive_file("a.fts")], now=T0)
        reader = open_store(
            store_location(home if store is local else postgres_database), read_only=True
        )
        assert reader.known_names(["a.fts"]) == {"a.fts"}
        with pytest.raises(StoreError, match="read-only"):
            reader.register_files([archive_file("b.fts")], now=T0)
        reader.close()
        store.close()
