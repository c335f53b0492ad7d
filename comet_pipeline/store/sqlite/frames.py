"""Frames: each processed file's statistics (``frames``) and product files (``products``).

A frame's products are rows (frame, product, path, bytes), so a new product is a registry
entry in ``imaging.products`` and no schema change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import sqlite_utils

from comet_pipeline.domain import Detector, FileState, Frame, ProductFile, from_iso, to_iso
from comet_pipeline.store.errors import UnknownFile
from comet_pipeline.store.sqlite.files import FileTables
from comet_pipeline.store.sqlite.rows import Row, json_list

# The chronological query; a test runs EXPLAIN QUERY PLAN on it to prove it is an index range scan.
CHRONOLOGICAL_FRAMES_SQL = (
    "SELECT * FROM frames WHERE detector = :detector"
    " AND observed_at >= :start AND observed_at < :end ORDER BY observed_at, name"
)

# Keyset pages: the row value continues strictly past the previous page's last key, so every
# page is a range scan of idx_frames_detector_observed_name, however deep (a test proves it).
FRAMES_PAGE_SQL = (
    "SELECT * FROM frames WHERE detector = :detector"
    " AND (observed_at, name) > (:key_at, :key_name) AND observed_at < :end"
    " ORDER BY observed_at, name LIMIT :limit"
)
FRAMES_PAGE_NEWEST_SQL = (
    "SELECT * FROM frames WHERE detector = :detector"
    " AND (observed_at, name) < (:key_at, :key_name) AND observed_at >= :start"
    " ORDER BY observed_at DESC, name DESC LIMIT :limit"
)

# Frame statistics that get their own column (queryable); anything else goes to stats_json.
FRAME_STAT_COLUMNS = ("median", "noise_sigma", "masked_fraction", "saturated_fraction")
_FRAME_INT_STATS = ("missing_blocks",)


def frame_record(row: Row, products: Iterable[Row]) -> Frame:
    kept = list(products)
    stats: dict[str, float] = dict(json.loads(row["stats_json"] or "{}"))
    for column in (*FRAME_STAT_COLUMNS, *_FRAME_INT_STATS):
        if row[column] is not None:
            stats[column] = row[column]
    return Frame(
        name=row["name"],
        detector=Detector(row["detector"]),
        observed_at=from_iso(row["observed_at"]),
        products={
            p["product"]: ProductFile(p["path"], p["bytes"]) for p in kept if not p["pruned_at"]
        },
        pruned={p["product"]: from_iso(p["pruned_at"]) for p in kept if p["pruned_at"]},
        stats=stats,
        background_kind=row["background_kind"],
        background_frames=row["background_frames"],
        roll_deg=row["roll_deg"],
        naxis1=row["naxis1"],
        naxis2=row["naxis2"],
    )


class FrameTables(FileTables):
    """``frames`` and ``products``; completing a file's processing writes both atomically."""

    def record_frame(self, frame: Frame, now: datetime) -> None:
        """Insert or replace the products and statistics of a processed file."""
        with self._write() as db:
            _upsert_frame(db, frame, now)

    def complete_processing(
        self,
        frame: Frame,
        *,
        owner: str,
        now: datetime,
        run_id: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """PROCESSING -> PROCESSED and the frame row, in one transaction, for the lease holder.

        A worker whose lease expired (and whose file another run may be processing) gets
        False and writes nothing, so a stale run never overwrites a newer frame row.
        """
        with self._write() as db:
            row = db.execute(
                "SELECT state, lease_owner FROM files WHERE name = ?", (frame.name,)
            ).fetchone()
            if row is None:
                raise UnknownFile(frame.name)
            if row["state"] != FileState.PROCESSING.value or row["lease_owner"] != owner:
                return False
            applied = self._apply(
                db, frame.name, FileState.PROCESSING, FileState.PROCESSED, now, run_id, reason, {}
            )
            if applied:
                _upsert_frame(db, frame, now)
            return applied

    def frames_between(
        self, detector: Detector | str, start: datetime, end: datetime
    ) -> list[Frame]:
        params = {"detector": str(detector), "start": to_iso(start), "end": to_iso(end)}
        with self._read() as db:
            rows = db.execute(CHRONOLOGICAL_FRAMES_SQL, params).fetchall()
            products = _products_of(db, [r["name"] for r in rows])
        return [frame_record(r, products.get(r["name"], ())) for r in rows]

    def frames_page(
        self,
        detector: Detector | str,
        start: datetime,
        end: datetime,
        *,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[Frame]:
        """One keyset page of the chronological list (see ``LifecycleStore.frames_page``)."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        # The window's edge as a key: (start, "") sorts before every frame at ``start`` (names
        # are never empty), (end, "") after every frame before ``end``. A key from outside the
        # window is clamped to it, so a cursor can never widen the range asked for.
        if newest_first:
            sql, key = FRAMES_PAGE_NEWEST_SQL, (to_iso(end), "")
            if after is not None:
                key = min(key, (to_iso(after[0]), after[1]))
        else:
            sql, key = FRAMES_PAGE_SQL, (to_iso(start), "")
            if after is not None:
                key = max(key, (to_iso(after[0]), after[1]))
        params = {
            "detector": str(detector),
            "start": to_iso(start),
            "end": to_iso(end),
            "key_at": key[0],
            "key_name": key[1],
            "limit": limit,
        }
        with self._read() as db:
            rows = db.execute(sql, params).fetchall()
            products = _products_of(db, [r["name"] for r in rows])
        return [frame_record(r, products.get(r["name"], ())) for r in rows]

    def frame(self, name: str) -> Frame | None:
        with self._read() as db:
            rows = list(db.table("frames").rows_where("name = ?", [name]))
            products = _products_of(db, [name])
        return frame_record(rows[0], products.get(name, ())) if rows else None


def _products_of(db: sqlite_utils.Database, names: list[str]) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = {}
    if not names:
        return found
    rows = db.table("products").rows_where(
        "frame IN (SELECT value FROM json_each(?))", [json_list(names)], order_by="frame, product"
    )
    for row in rows:
        found.setdefault(row["frame"], []).append(row)
    return found


def _upsert_frame(db: sqlite_utils.Database, frame: Frame, now: datetime) -> None:
    stats = dict(frame.stats)
    db.table("frames").upsert(
        {
            "name": frame.name,
            "detector": str(frame.detector),
            "observed_at": to_iso(frame.observed_at),
            **{c: stats.pop(c, None) for c in (*FRAME_STAT_COLUMNS, *_FRAME_INT_STATS)},
            "stats_json": json.dumps(stats, sort_keys=True),
            "background_kind": frame.background_kind,
            "background_frames": frame.background_frames,
            "roll_deg": frame.roll_deg,
            "naxis1": frame.naxis1,
            "naxis2": frame.naxis2,
            "processed_at": to_iso(now),
        },
        pk="name",
    )
    # the frame's products are exactly the ones given: a product it no longer has
    # (e.g. no running difference after a long gap) must not keep pointing at a stale file
    db.execute("DELETE FROM products WHERE frame = ?", (frame.name,))
    db.table("products").insert_all(
        {"frame": frame.name, "product": product, "path": item.path, "bytes": item.size_bytes}
        for product, item in frame.products.items()
    )
