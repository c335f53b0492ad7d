"""The PostgreSQL engine's connections: a pool per store and process, reopened after
``close()``, and a session the server ended is one StoreError, not a psycopg error."""

from __future__ import annotations

import pytest

from comet_pipeline.store import StoreError
from comet_pipeline.store.postgres import PostgresStore
from comet_pipeline_tests.store._helpers import T0, archive_file


def test_a_closed_store_opens_a_new_pool_on_next_use(postgres_database):
    store = PostgresStore(postgres_database)
    store.register_files([archive_file("a.fts")], now=T0)
    store.close()
    store.close()  # twice is harmless
    assert store.known_names(["a.fts"]) == {"a.fts"}
    store.close()


def test_a_session_the_server_ended_is_one_store_error_then_a_new_session(
    postgres_server, postgres_database
):
    store = PostgresStore(postgres_database, pool_size=1)
    store.register_files([archive_file("a.fts")], now=T0)
    name = postgres_database.rsplit("/", 1)[1]
    with postgres_server.admin() as admin:
        ended = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'comet_pipeline') AS t",
            (name,),
        ).fetchone()[0]
    assert ended == 1
    with pytest.raises(StoreError, match=f"lifecycle store {postgres_database}"):
        store.get_file("a.fts")
    assert store.get_file("a.fts").name == "a.fts"  # the broken connection was replaced
    store.close()
