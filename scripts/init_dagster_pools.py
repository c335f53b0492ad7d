"""Give every concurrency pool of the definitions its row in the Dagster instance, at the
instance's default limit, before a run claims a slot. Run with the instance's environment
(DAGSTER_HOME, and DAGSTER_PG_URL for dagster.postgres.yaml) before the daemon starts.

Why: dagster 1.13.27 creates a pool's row when a step first claims it, by an INSERT whose
IntegrityError it catches and follows with an UPDATE in the same transaction. SQLite lets
that pass; PostgreSQL has aborted the transaction, so the UPDATE fails
(InFailedSqlTransaction). Two runs that first claim a new pool at once (seen on the first
start of `make dev-postgres`: the downlink sensor's runs, four at a time) then fail one of
them, and a default limit changed in dagster.postgres.yaml would fail every claim. Rows
made here, one process, nothing else running, meet neither case. Idempotent: a row at the
default stays, a limit set by hand (`dagster instance concurrency set`) is left alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dagster import DagsterInstance  # noqa: E402

from comet_pipeline.definitions import defs  # noqa: E402


def main() -> int:
    pools = sorted({p for node in defs.resolve_asset_graph().asset_nodes for p in node.pools or ()})
    with DagsterInstance.get() as instance:
        default = instance.global_op_concurrency_default_limit
        storage = instance.event_log_storage
        if default is None or not storage.supports_global_concurrency_limits:
            return 0
        limits = {p.name: p for p in storage.get_pool_limits()}
        for pool in pools:
            have = limits.get(pool)
            if have is not None and (not have.from_default or have.limit == default):
                continue  # at the default already, or set by hand
            if have is not None:  # an old default: made again, not updated (see above)
                storage.delete_concurrency_limit(pool)
            storage.initialize_concurrency_limit_to_default(pool)
            print(f"dagster pool {pool}: limit {default} (the instance default)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
