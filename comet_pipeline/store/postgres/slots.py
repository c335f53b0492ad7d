"""Downlink slots and their audited state changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from comet_pipeline.domain import Slot, SlotState, SlotTransition, to_iso, utc
from comet_pipeline.domain.states import SLOT_TRANSITIONS
from comet_pipeline.store.errors import IllegalTransition, StoreError
from comet_pipeline.store.postgres.connection import Conn, PostgresConnection
from comet_pipeline.store.postgres.rows import Row, ts


def slot_record(row: Row) -> Slot:
    return Slot(
        bot=row["bot"],
        eot=row["eot"],
        antenna=row["antenna"],
        state=SlotState(row["state"]),
        source=row["source"],
    )


def slot_row_for_arrival(conn: Conn, arrived_at: datetime, grace: timedelta) -> Row | None:
    """The slot whose window [bot, eot + grace] holds ``arrived_at`` (latest bot wins)."""
    return conn.execute(
        "SELECT * FROM slots WHERE bot <= %s AND eot >= %s ORDER BY bot DESC LIMIT 1",
        (utc(arrived_at), utc(arrived_at) - grace),
    ).fetchone()


class SlotTables(PostgresConnection):
    """``slots`` and ``slot_transitions``."""

    def upsert_slots(self, slots: Iterable[Slot], now: datetime) -> int:
        """Insert new slots (in their given state); refresh eot/antenna/source of known ones
        without touching their state. Returns the number of new slots."""
        stamp = utc(now)
        new = 0
        with self._write() as conn:
            for slot in slots:
                bot, eot = utc(slot.bot), utc(slot.eot)
                inserted = conn.execute(
                    "INSERT INTO slots (bot, eot, antenna, source, state, updated_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (bot) DO NOTHING",
                    (bot, eot, slot.antenna, slot.source, str(slot.state), stamp),
                ).rowcount
                if inserted:
                    new += 1
                    _audit(conn, bot, None, slot.state, stamp, "registered")
                else:
                    conn.execute(
                        "UPDATE slots SET eot = %(eot)s, antenna = %(antenna)s,"
                        " source = %(source)s, updated_at = %(stamp)s WHERE bot = %(bot)s"
                        " AND (eot, antenna, source) IS DISTINCT FROM"
                        " (%(eot)s, %(antenna)s, %(source)s)",
                        {
                            "eot": eot,
                            "antenna": slot.antenna,
                            "source": slot.source,
                            "stamp": stamp,
                            "bot": bot,
                        },
                    )
        return new

    def slots_between(self, start: datetime, end: datetime) -> list[Slot]:
        """Slots whose begin-of-track lies in [start, end), in time order."""
        with self._read_one() as conn:
            rows = conn.execute(
                "SELECT * FROM slots WHERE bot >= %s AND bot < %s ORDER BY bot",
                (ts(start), ts(end)),
            ).fetchall()
        return [slot_record(r) for r in rows]

    def get_slot(self, bot: datetime) -> Slot | None:
        with self._read_one() as conn:
            row = conn.execute("SELECT * FROM slots WHERE bot = %s", (ts(bot),)).fetchone()
        return None if row is None else slot_record(row)

    def set_slot_state(
        self, bot: datetime, target: SlotState, *, reason: str, now: datetime
    ) -> bool:
        """Move a slot along SLOT_TRANSITIONS. False when it is already in ``target``."""
        key = utc(bot)
        label = to_iso(key)
        with self._write() as conn:
            row = conn.execute(
                "SELECT state FROM slots WHERE bot = %s FOR UPDATE", (key,)
            ).fetchone()
            if row is None:
                raise StoreError(f"unknown slot with begin-of-track {label}")
            current = SlotState(row["state"])
            if current == target:
                return False
            if target not in SLOT_TRANSITIONS[current]:
                raise IllegalTransition(f"slot {label}", current, target)
            conn.execute(
                "UPDATE slots SET state = %s, updated_at = %s WHERE bot = %s AND state = %s",
                (str(target), utc(now), key, str(current)),
            )
            _audit(conn, key, current, target, utc(now), reason)
        return True

    def slot_for_arrival(self, arrived_at: datetime, grace: timedelta) -> Slot | None:
        """The slot whose window [bot, eot + grace] holds ``arrived_at`` (latest bot wins)."""
        with self._read_one() as conn:
            row = slot_row_for_arrival(conn, arrived_at, grace)
        return None if row is None else slot_record(row)

    def slot_transitions_for(self, bot: datetime) -> list[SlotTransition]:
        with self._read_one() as conn:
            rows = conn.execute(
                "SELECT * FROM slot_transitions WHERE bot = %s ORDER BY id", (ts(bot),)
            ).fetchall()
        return [
            SlotTransition(
                bot=r["bot"],
                from_state=None if r["from_state"] is None else SlotState(r["from_state"]),
                to_state=SlotState(r["to_state"]),
                at=r["at"],
                reason=r["reason"],
            )
            for r in rows
        ]


def _audit(
    conn: Conn,
    bot: datetime,
    source: SlotState | None,
    target: SlotState,
    stamp: datetime,
    reason: str,
) -> None:
    conn.execute(
        "INSERT INTO slot_transitions (bot, from_state, to_state, at, reason)"
        " VALUES (%s, %s, %s, %s, %s)",
        (bot, None if source is None else str(source), str(target), stamp, reason),
    )
