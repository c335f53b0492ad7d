"""Worker for the multi-process claim race (a module so ``spawn`` children can import it)."""

from __future__ import annotations

from comet_pipeline.domain import FileState
from comet_pipeline.store.postgres import PostgresStore
from comet_pipeline_tests.store._helpers import T0


def claim_all(url: str, owner: str, barrier, out_path: str, batch: int) -> None:
    """Claim in small batches until nothing is left; write the names claimed, one a line."""
    store = PostgresStore(url)
    barrier.wait(timeout=60)
    names: list[str] = []
    while True:
        got = store.claim(target=FileState.DOWNLOADING, owner=owner, now=T0, limit=batch)
        if not got:
            break
        assert all(r.lease_owner == owner for r in got)
        names.extend(r.name for r in got)
    store.close()
    with open(out_path, "w") as fh:
        fh.write("\n".join(names))
