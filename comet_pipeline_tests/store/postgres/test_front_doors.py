"""With COMET_STORE_URL set, the front doors use PostgreSQL: the CLI, the Dagster resource
(and its home check, and a real hour ingested through it), and the viewer's openers, as
``comet-pipeline serve`` builds them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from functools import partial

import pytest
from dagster import DagsterInstance

from comet_pipeline import cli
from comet_pipeline.definitions import build_definitions
from comet_pipeline.defs.jobs import INGEST_HOUR_JOB
from comet_pipeline.defs.resources import (
    ArchiveResource,
    ClockResource,
    StoreResource,
    store_resource,
)
from comet_pipeline.domain import Detector, FileState
from comet_pipeline.ingest.home import HomeMismatch
from comet_pipeline.settings import Settings, get_settings
from comet_pipeline.store import open_store
from comet_pipeline.store.postgres import PostgresStore
from comet_pipeline.viewer import build_app
from comet_pipeline.viewer.auth import token_hash
from comet_pipeline_tests.shared import HOUR, NOW, SEED
from comet_pipeline_tests.store._helpers import T0, archive_file


@pytest.fixture
def home(tmp_path, monkeypatch, postgres_database) -> Iterator[Settings]:
    settings = Settings(home=tmp_path / "home", store_url=postgres_database)
    monkeypatch.setenv("COMET_HOME", str(settings.home))
    monkeypatch.setenv("COMET_STORE_URL", postgres_database)
    get_settings.cache_clear()  # the CLI reads the environment once per process
    yield settings
    get_settings.cache_clear()


def test_the_cli_keeps_its_store_in_the_database(home, capsys):
    assert cli.main(["init"]) == 0
    out = capsys.readouterr().out
    assert f"created COMET_HOME {home.home}" in out and "(lifecycle store: postgresql://" in out
    assert not home.layout.lifecycle_db.exists()  # no SQLite file beside the raw files
    assert cli.main(["token", "create", "ada"]) == 0
    token = capsys.readouterr().out.strip()
    assert cli.main(["token", "list"]) == 0
    assert capsys.readouterr().out.split() == ["ada"]
    assert cli.main(["status"]) == 0
    assert f"lifecycle store at {home.store_url} is empty" in capsys.readouterr().out
    reader = PostgresStore(home.store_url, read_only=True)
    assert reader.token_name(token_hash(token)) == "ada"
    reader.close()


def test_rebuild_new_cannot_set_a_database_aside_but_sets_files_aside_over_an_empty_one(
    home, capsys
):
    assert cli.main(["init"]) == 0
    (home.layout.raw_dir / "c2").mkdir(parents=True)
    (home.layout.raw_dir / "c2" / "22000001.fts").write_bytes(b"x")
    assert cli.main(["store", "rebuild", "--new"]) == 0  # the database is empty
    assert "moved to" in capsys.readouterr().out and not home.layout.raw_dir.exists()
    store = open_store(home)
    store.register_files([archive_file("a.fts")], now=T0)
    assert cli.main(["store", "rebuild", "--new"]) == 2
    assert "cannot be set aside like a file" in capsys.readouterr().err
    assert store.known_names(["a.fts"]) == {"a.fts"}  # nothing lost
    store.close()


def test_the_dagster_resource_opens_the_database_and_checks_the_home(home):
    home.home.mkdir()
    resource = store_resource(home)
    assert resource.url == home.store_url
    store = resource.get()
    assert isinstance(store, PostgresStore) and store.max_attempts == resource.max_attempts
    store.close()
    # an empty database over a home full of files is refused, as an emptied file would be
    (home.layout.raw_dir / "c2").mkdir(parents=True)
    (home.layout.raw_dir / "c2" / "22000001.fts").write_bytes(b"x")
    with pytest.raises(HomeMismatch, match="store rebuild"):
        StoreResource(db_path=str(home.layout.lifecycle_db), url=home.store_url).get()


def test_an_hour_ingested_through_dagster_lands_in_the_database(home):
    """The whole pipeline on PostgreSQL: registered, claimed, downloaded, processed (frame
    and products with the state, in one transaction), and hunted."""
    home.home.mkdir()
    clock = ClockResource(frozen_at=NOW.isoformat())
    archive = ArchiveResource(
        archive_url=home.archive_url,
        schedule_url=home.schedule_url,
        sim_seed=SEED,
        backoff_seconds=0.0,
        clock=clock,
    )
    defs = build_definitions(home, clock=clock, archive=archive, store=store_resource(home))
    with DagsterInstance.ephemeral() as instance:
        run = defs.resolve_job_def(INGEST_HOUR_JOB).execute_in_process(
            partition_key=f"{HOUR:%Y-%m-%d-%H:%M}", instance=instance
        )
    assert run.success
    assert not home.layout.lifecycle_db.exists()
    store = PostgresStore(home.store_url, read_only=True)
    end = HOUR + timedelta(hours=1)
    records = [r for d in Detector for r in store.files_between(d, HOUR, end)]
    processed = [r for r in records if r.state is FileState.PROCESSED]
    assert processed and {r.state for r in records} <= {FileState.PROCESSED, FileState.SKIPPED}
    frames = [f for d in Detector for f in store.frames_between(d, HOUR, end)]
    assert {f.name for f in frames} == {r.name for r in processed}
    assert all(f.products and f.observed_at.utcoffset() == timedelta(0) for f in frames)
    trail = [t.to_state for t in store.transitions_for(processed[0].name)]
    assert trail[0] is FileState.DISCOVERED and trail[-1] is FileState.PROCESSED
    store.close()


def test_the_viewer_reads_through_a_read_only_session_and_writes_verdicts_writably(home):
    open_store(home).close()  # migrated, as `comet-pipeline init` does
    app = build_app(home, partial(open_store, read_only=True), open_writer=open_store)
    context = app.state.viewer
    reader, writer = context.store.get(), context.writer.get()
    assert isinstance(reader, PostgresStore) and reader.read_only
    assert isinstance(writer, PostgresStore) and not writer.read_only
    assert str(context.store.location) == home.store_url  # no password in it to hide
    context.store.close()
    context.writer.close()
