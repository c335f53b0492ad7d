"""Frames: each processed file's statistics (``frames``) and product files (``products``).

A frame's products are rows (frame, product, path, bytes, pruned_at), so a new product is a
registry entry in ``imaging.products`` and no schema change; retention marks a removed file
``pruned_at`` and keeps the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from psycopg.types.json import Jsonb

from comet_pipeline.domain import Detector, FileState, Frame, ProductFile, utc
from comet_pipeline.store.errors import UnknownFile
from comet_pipeline.store.postgres.connection import Conn
from comet_pipeline.store.postgres.files import FileTables
from comet_pipeline.store.postgres.rows import Row, ts

# The chronological query; a test runs EXPLAIN on it to prove it is an index range scan.
CHRONOLOGICAL_FRAMES_SQL = (
    "SELECT * FROM frames WHERE detector = %(detector)s"
    " AND observed_at >= %(start)s AND observed_at < %(end)s ORDER BY observed_at, name"
)

# Keyset pages: the row value continues strictly past the previous page's last key, so every
# page is a range scan of idx_frames_detector_observed_name, however deep.
FRAMES_PAGE_SQL = (
    "SELECT * FROM frames WHERE detector = %(detector)s"
    " AND (observed_at, name) > (%(key_at)s, %(key_name)s) AND observed_at < %(end)s"
    " ORDER BY observed_at, name LIMIT %(limit)s"
)
FRAMES_PAGE_NEWEST_SQL = (
    "SELECT * FROM frames WHERE detector = %(detector)s"
    " AND (observed_at, name) < (%(key_at)s, %(key_name)s) AND observed_at >= %(start)s"
    " ORDER BY observed_at DESC, name DESC LIMIT %(limit)s"
)

# Frame statistics that get their own column (queryable); anything else goes to stats_json.
FRAME_STAT_COLUMNS = ("median", "noise_sigma", "masked_fraction", "saturated_fraction")
_FRAME_INT_STATS = ("missing_blocks",)
_STAT_COLUMNS = (*FRAME_STAT_COLUMNS, *_FRAME_INT_STATS)
_FRAME_COLUMNS = (
    "name",
    "detector",
    "observed_at",
    *_STAT_COLUMNS,
    "stats_json",
    "background_kind",
    "background_frames",
    "roll_deg",
    "naxis1",
    "naxis2",
    "processed_at",
)
_UPSERT_FRAME_SQL = (
    f"INSERT INTO frames ({', '.join(_FRAME_COLUMNS)})"
    f" VALUES ({', '.join(f'%({c})s' for c in _FRAME_COLUMNS)})"
    " ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _FRAME_COLUMNS if c != "name")
)


def frame_record(row: Row, products: Iterable[Row]) -> Frame:
    kept = list(products)
    stats: dict[str, float] = dict(row["stats_json"] or {})
    for column in _STAT_COLUMNS:
        if row[column] is not None:
            stats[column] = row[column]
    return Frame(
        name=row["name"],
        detector=Detector(row["detector"]),
        observed_at=row["observed_at"],
        products={
            p["product"]: ProductFile(p["path"], p["bytes"]) for p in kept if not p["pruned_at"]
        },
        pruned={p["product"]: p["pruned_at"] for p in kept if p["pruned_at"]},
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
        with self._write() as conn:
            _upsert_frame(conn, frame, now)

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
        with self._write() as conn:
            row = conn.execute(
                "SELECT state, lease_owner FROM files WHERE name = %s FOR UPDATE", (frame.name,)
            ).fetchone()
            if row is None:
                raise UnknownFile(frame.name)
            if row["state"] != FileState.PROCESSING.value or row["lease_owner"] != owner:
                return False
            applied = self._apply(
                conn,
                frame.name,
                FileState.PROCESSING,
                FileState.PROCESSED,
                now,
                run_id,
                reason,
                {},
            )
            if applied:
                _upsert_frame(conn, frame, now)
            return applied

    def frames_between(
        self, detector: Detector | str, start: datetime, end: datetime
    ) -> list[Frame]:
        params = {"detector": str(detector), "start": ts(start), "end": ts(end)}
        with self._read() as conn:
            rows = conn.execute(CHRONOLOGICAL_FRAMES_SQL, params).fetchall()
            products = _products_of(conn, [r["name"] for r in rows])
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
        start, end = utc(start), utc(end)
        # The window's edge as a key: (start, "") sorts before every frame at ``start`` (names
        # are never empty), (end, "") after every frame before ``end``. A key from outside the
        # window is clamped to it, so a cursor can never widen the range asked for.
        if newest_first:
            sql, key = FRAMES_PAGE_NEWEST_SQL, (end, "")
            if after is not None:
                key = min(key, (utc(after[0]), after[1]))
        else:
            sql, key = FRAMES_PAGE_SQL, (start, "")
            if after is not None:
                key = max(key, (utc(after[0]), after[1]))
        params = {
            "detector": str(detector),
            "start": start,
            "end": end,
            "key_at": key[0],
            "key_name": key[1],
            "limit": limit,
        }
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
            products = _products_of(conn, [r["name"] for r in rows])
        return [frame_record(r, products.get(r["name"], ())) for r in rows]

    def frame(self, name: str) -> Frame | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM frames WHERE name = %s", (name,)).fetchone()
            products = _products_of(conn, [name]) if row is not None else {}
        return None if row is None else frame_record(row, products.get(name, ()))


def _products_of(conn: Conn, names: list[str]) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = {}
    if not names:
        return found
    rows = conn.execute(
        "SELECT * FROM products WHERE frame = ANY(%s) ORDER BY frame, product", (names,)
    ).fetchall()
    for row in rows:
        found.setdefault(row["frame"], []).append(row)
    return found


def _upsert_frame(conn: Conn, frame: Frame, now: datetime) -> None:
    stats = dict(frame.stats)
    conn.execute(
        _UPSERT_FRAME_SQL,
        {
            "name": frame.name,
            "detector": str(frame.detector),
            "observed_at": utc(frame.observed_at),
            **{c: stats.pop(c, None) for c in _STAT_COLUMNS},
            "stats_json": Jsonb(stats),
            "background_kind": frame.background_kind,
            "background_frames": frame.background_frames,
            "roll_deg": frame.roll_deg,
            "naxis1": frame.naxis1,
            "naxis2": frame.naxis2,
            "processed_at": utc(now),
        },
    )
    # the frame's products are exactly the ones given: a product it no longer has
    # (e.g. no running difference after a long gap) must not keep pointing at a stale file
    conn.execute("DELETE FROM products WHERE frame = %s", (frame.name,))
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO products (frame, product, path, bytes) VALUES (%s, %s, %s, %s)",
            [
                (frame.name, product, item.path, item.size_bytes)
                for product, item in frame.products.items()
            ],
        )
