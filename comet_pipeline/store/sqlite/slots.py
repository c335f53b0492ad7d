"""Downlink slots and their audited state changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlite_utils

from comet_pipeline.domain import Slot, SlotState, SlotTransition, from_iso, to_iso
from comet_pipeline.domain.states import SLOT_TRANSITIONS
from comet_pipeline.store.errors import IllegalTransition, StoreError
from comet_pipeline.store.sqlite.connection import SQLiteConnection
from comet_pipeline.store.sqlite.rows import Row


def slot_record(row: Row) -> Slot:
    return Slot(
        bot=from_iso(row["bot"]),
        eot=from_iso(row["eot"]),
        antenna=row["antenna"],
        state=SlotState(row["state"]),
        source=row["source"],
    )


def slot_row_for_arrival(
    db: sqlite_utils.Database, arrived_at: datetime, grace: timedelta
) -> Row | None:
    """The slot whose window [bot, eot + grace] holds ``arrived_at`` (latest bot wins)."""
    rows = db.table("slots").rows_where(
        "bot <= ? AND eot >= ?",
        [to_iso(arrived_at), to_iso(arrived_at - grace)],
        order_by="bot DESC",
        limit=1,
    )
    return next(iter(rows), None)


class SlotTables(SQLiteConnection):
    """``slots`` and ``slot_transitions``."""

    def upsert_slots(self, slots: Iterable[Slot], now: datetime) -> int:
        """Insert new slots (in their given state); refresh eot/antenna/source of known ones
        without touching their state. Returns the number of new slots."""
        stamp = to_iso(now)
        new = 0
        with self._write() as db:
            for slot in slots:
                bot, eot = to_iso(slot.bot), to_iso(slot.eot)
                values = (eot, slot.antenna, slot.source)
                cursor = db.execute(
                    "INSERT OR IGNORE INTO slots (bot, eot, antenna, source, state, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (bot, *values, str(slot.state), stamp),
                )
                if cursor.rowcount:
                    new += 1
                    _audit(db, bot, None, slot.state, stamp, "registered")
                else:
                    db.execute(
                        "UPDATE slots SET eot = ?, antenna = ?, source = ?, updated_at = ?"
                        " WHERE bot = ? AND (eot != ? OR antenna != ? OR source != ?)",
                        (*values, stamp, bot, *values),
                    )
        return new

    def slots_between(self, start: datetime, end: datetime) -> list[Slot]:
        """Slots whose begin-of-track lies in [start, end), in time order."""
        with self._read() as db:
            rows = list(
                db.table("slots").rows_where(
                    "bot >= ? AND bot < ?", [to_iso(start), to_iso(end)], order_by="bot"
                )
            )
        return [slot_record(r) for r in rows]

    def get_slot(self, bot: datetime) -> Slot | None:
        with self._read() as db:
            rows = list(db.table("slots").rows_where("bot = ?", [to_iso(bot)]))
        return slot_record(rows[0]) if rows else None

    def set_slot_state(
        self, bot: datetime, target: SlotState, *, reason: str, now: datetime
    ) -> bool:
        """Move a slot along SLOT_TRANSITIONS. False when it is already in ``target``."""
        key = to_iso(bot)
        with self._write() as db:
            row = db.execute("SELECT state FROM slots WHERE bot = ?", (key,)).fetchone()
            if row is None:
                raise StoreError(f"unknown slot with begin-of-track {key}")
            current = SlotState(row["state"])
            if current == target:
                return False
            if target not in SLOT_TRANSITIONS[current]:
                raise IllegalTransition(f"slot {key}", current, target)
            cursor = db.execute(
                "UPDATE slots SET state = ?, updated_at = ? WHERE bot = ? AND state = ?",
                (str(target), to_iso(now), key, str(current)),
            )
            if cursor.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; be explicit anyway
                return False
            _audit(db, key, current, target, to_iso(now), reason)
        return True

    def slot_for_arrival(self, arrived_at: datetime, grace: timedelta) -> Slot | None:
        """The slot whose window [bot, eot + grace] holds ``arrived_at`` (latest bot wins)."""
        with self._read() as db:
            row = slot_row_for_arrival(db, arrived_at, grace)
        return None if row is None else slot_record(row)

    def slot_transitions_for(self, bot: datetime) -> list[SlotTransition]:
        with self._read() as db:
            rows = list(
                db.table("slot_transitions").rows_where("bot = ?", [to_iso(bot)], order_by="id")
            )
        return [
            SlotTransition(
                bot=from_iso(r["bot"]),
                from_state=None if r["from_state"] is None else SlotState(r["from_state"]),
                to_state=SlotState(r["to_state"]),
                at=from_iso(r["at"]),
                reason=r["reason"],
            )
            for r in rows
        ]


def _audit(
    db: sqlite_utils.Database,
    bot: str,
    source: SlotState | None,
    target: SlotState,
    stamp: str,
    reason: str,
) -> None:
    db.table("slot_transitions").insert(
        {
            "bot": bot,
            "from_state": None if source is None else str(source),
            "to_state": str(target),
            "at": stamp,
            "reason": reason,
        }
    )
