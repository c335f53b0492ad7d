"""What retention may remove, what it did remove, and what is left on disk.

Files go; rows stay, marked ``pruned_at``: the store keeps knowing a frame was processed
and which products it had, so re-processing (raw fetched again from the archive) can make
them again. A frame on the track of a candidate nobody rejected is never offered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from comet_pipeline.domain import (
    CandidateStatus,
    Detector,
    DiskUsage,
    FileState,
    StoredProduct,
    StoredRaw,
    from_iso,
    to_iso,
)
from comet_pipeline.store.sqlite.connection import SQLiteConnection
from comet_pipeline.store.sqlite.rows import json_list

#: Frames a candidate still needs: on the track of any candidate not rejected.
_KEPT_FOR_CANDIDATES = (
    "SELECT d.file FROM detections d JOIN candidates c ON c.id = d.candidate_id"
    f" WHERE c.status != '{CandidateStatus.REJECTED.value}'"
)


class RetentionQueries(SQLiteConnection):
    def prunable_products(
        self, products: Sequence[str], before: datetime, *, limit: int = 10_000
    ) -> list[StoredProduct]:
        """Up to ``limit`` unpruned files of ``products`` of frames observed and processed
        before ``before`` (a backfill of old days keeps what it just made, which the next
        hours' backgrounds read), oldest first, leaving out every frame a candidate needs."""
        sql = (
            "SELECT p.frame, f.detector, f.observed_at, p.product, p.path, p.bytes"
            " FROM products p JOIN frames f ON f.name = p.frame"
            " WHERE p.pruned_at IS NULL AND f.observed_at < ? AND f.processed_at < ?"
            " AND p.product IN (SELECT value FROM json_each(?))"
            f" AND p.frame NOT IN ({_KEPT_FOR_CANDIDATES})"
            " ORDER BY f.observed_at, p.frame, p.product LIMIT ?"
        )
        with self._read() as db:
            rows = db.execute(
                sql, (to_iso(before), to_iso(before), json_list(list(products)), limit)
            ).fetchall()
        return [
            StoredProduct(
                frame=r["frame"],
                detector=Detector(r["detector"]),
                observed_at=from_iso(r["observed_at"]),
                product=r["product"],
                path=r["path"],
                size_bytes=r["bytes"],
            )
            for r in rows
        ]

    def mark_products_pruned(self, items: Iterable[tuple[str, str]], *, now: datetime) -> int:
        """Mark (frame, product) files as removed from disk; returns how many rows changed."""
        pairs = [list(p) for p in items]
        if not pairs:
            return 0
        with self._write() as db:
            cursor = db.execute(
                "UPDATE products SET pruned_at = ? WHERE pruned_at IS NULL AND (frame, product)"
                " IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))",
                (to_iso(now), json.dumps(pairs)),
            )
            return int(cursor.rowcount)

    def prunable_raw(self, before: datetime, *, limit: int = 10_000) -> list[StoredRaw]:
        """Raw files of files observed before ``before`` and PROCESSED before it too, still
        on disk and needed by no candidate, oldest first (a file not yet processed keeps its
        raw)."""
        sql = (
            "SELECT name, detector, observed_at, raw_path FROM files"
            " WHERE state = ? AND raw_path IS NOT NULL AND raw_pruned_at IS NULL"
            f" AND observed_at < ? AND updated_at < ? AND name NOT IN ({_KEPT_FOR_CANDIDATES})"
            " ORDER BY observed_at, name LIMIT ?"
        )
        with self._read() as db:
            rows = db.execute(
                sql, (FileState.PROCESSED.value, to_iso(before), to_iso(before), limit)
            ).fetchall()
        return [
            StoredRaw(
                name=r["name"],
                detector=Detector(r["detector"]),
                observed_at=from_iso(r["observed_at"]),
                path=r["raw_path"],
            )
            for r in rows
        ]

    def mark_raw_pruned(self, names: Iterable[str], *, now: datetime) -> int:
        listed = list(names)
        if not listed:
            return 0
        with self._write() as db:
            cursor = db.execute(
                "UPDATE files SET raw_pruned_at = ? WHERE raw_pruned_at IS NULL"
                " AND name IN (SELECT value FROM json_each(?))",
                (to_iso(now), json_list(listed)),
            )
            return int(cursor.rowcount)

    def disk_usage(self) -> list[DiskUsage]:
        """Per detector and product, the files still on disk as the store recorded them
        (``raw`` from the files' recorded paths is sized by the caller: the store keeps no
        raw size)."""
        sql = (
            "SELECT f.detector, p.product, count(*) AS n, coalesce(sum(p.bytes), 0) AS bytes"
            " FROM products p JOIN frames f ON f.name = p.frame WHERE p.pruned_at IS NULL"
            " GROUP BY f.detector, p.product ORDER BY f.detector, p.product"
        )
        with self._read() as db:
            rows = db.execute(sql).fetchall()
        return [
            DiskUsage(Detector(r["detector"]), r["product"], int(r["n"]), int(r["bytes"]))
            for r in rows
        ]

    def raw_on_disk(self) -> list[StoredRaw]:
        """Every raw file the store believes is on disk (for sizing the raw tree)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT name, detector, observed_at, raw_path FROM files"
                " WHERE raw_path IS NOT NULL AND raw_pruned_at IS NULL"
            ).fetchall()
        return [
            StoredRaw(r["name"], Detector(r["detector"]), from_iso(r["observed_at"]), r["raw_path"])
            for r in rows
        ]
