"""Sync downlink slots for one UTC day and move them through their states.

The DSN schedule page only reaches a couple of weeks around today; for days it does not
cover (backfills of old data) a nominal pass pattern stands in, marked ``source="nominal"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.errors import ArchiveError
from comet_pipeline.domain import Detector, Slot, SlotState
from comet_pipeline.domain.states import SLOT_TRANSITIONS
from comet_pipeline.ingest.results import StepResult
from comet_pipeline.store import LifecycleStore

#: Files arriving up to this long after end-of-track still count for the pass.
ARRIVAL_GRACE = timedelta(minutes=30)

#: (begin HH:MM, duration, antenna): a typical day of three passes, used where the
#: schedule does not reach.
NOMINAL_PASSES: tuple[tuple[str, timedelta, str], ...] = (
    ("01:30", timedelta(hours=3), "D34"),
    ("09:00", timedelta(hours=3, minutes=30), "D54"),
    ("17:00", timedelta(hours=3), "D24"),
)


@dataclass(frozen=True)
class ScheduleRead:
    """The schedule page's passes, or why the page could not be used at all."""

    slots: list[Slot]
    problem: str | None = None


def scheduled_slots(client: ArchiveClient) -> ScheduleRead:
    """The passes on the DSN schedule page as (PENDING) slots; unparsable rows are skipped.

    A page with no pass the parser understands (binary junk, an error page served with
    status 200) is a problem to report, not an empty schedule: falling back to nominal
    passes then would be indistinguishable from "the schedule does not reach that day".
    """
    page = client.fetch_schedule()
    slots = [Slot(bot=p.bot, eot=p.eot, antenna=p.antenna, source="schedule") for p in page.items]
    if slots:
        return ScheduleRead(slots)
    first = f"; first: {page.problems[0]}" if page.problems else ""
    return ScheduleRead(
        [],
        f"the schedule page has no pass this parser understands ({len(page.problems)} problems{first})",
    )


def nominal_slots(day: date) -> list[Slot]:
    slots = []
    for begin, duration, antenna in NOMINAL_PASSES:
        hh, mm = (int(part) for part in begin.split(":"))
        bot = datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)
        slots.append(Slot(bot=bot, eot=bot + duration, antenna=antenna, source="nominal"))
    return slots


def slots_for_day(passes: Iterable[Slot], day: date) -> list[Slot]:
    """Passes that begin on ``day`` (UTC); the nominal pattern if the schedule has none."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    scheduled = [p for p in passes if start <= p.bot < end]
    covered = any(p.bot >= end for p in passes) and any(p.bot < end for p in passes)
    if scheduled or covered:
        return sorted(scheduled, key=lambda s: s.bot)
    return nominal_slots(day)


def target_state(slot: Slot, now: datetime, arrivals: int) -> SlotState:
    """Where the clock and the arrivals say a slot should be.

    After end-of-track a pass stays ACTIVE through the grace period unless files have
    already arrived; only once the grace is over does "nothing arrived" mean MISSED.
    """
    if now < slot.bot:
        return SlotState.PENDING
    if now <= slot.eot:
        return SlotState.ACTIVE
    if arrivals:
        return SlotState.DONE
    return SlotState.ACTIVE if now <= slot.eot + ARRIVAL_GRACE else SlotState.MISSED


def listed_arrivals(
    client: ArchiveClient, detectors: Iterable[Detector], days: Iterable[date]
) -> list[datetime]:
    """Arrival times of every file in the archive listings of ``days``.

    Reconciling a day's slots needs every arrival, not only those of files already
    registered: a pass counts as DONE even before its files are discovered.
    """
    times: list[datetime] = []
    for day in days:
        for detector in detectors:
            try:
                times.extend(e.modified_at for e in client.fetch_listing(day, detector).items)
            except ArchiveError:  # one listing missing: the others still count
                continue
    return times


def reconcile_slots(
    store: LifecycleStore,
    start: datetime,
    end: datetime,
    now: datetime,
    result: StepResult,
    listed: Sequence[datetime] = (),
) -> None:
    """Move every slot beginning in [start, end) to the state the clock and arrivals imply.

    Arrivals are the store's registered files plus ``listed`` (times read off listings).
    """
    for slot in store.slots_between(start, end):
        close = slot.eot + ARRIVAL_GRACE
        arrivals = store.count_arrivals(slot.bot, close) + sum(
            1 for t in listed if slot.bot <= t <= close
        )
        target = target_state(slot, now, arrivals)
        if target not in SLOT_TRANSITIONS[slot.state]:
            result.count(f"unchanged_{slot.state.value.lower()}")
            continue
        applied = store.set_slot_state(
            slot.bot, target, reason=f"{arrivals} arrivals at {now:%Y-%m-%d %H:%M}Z", now=now
        )
        result.count(target.value.lower() if applied else "unchanged_race")


def sync_slots(
    store: LifecycleStore,
    schedule: ScheduleRead,
    day: date,
    now: datetime,
    listed: Sequence[datetime] = (),
) -> StepResult:
    """Upsert the day's slots from the schedule (or the nominal pattern) and reconcile them.

    An unusable schedule page writes no slots (and says why in ``failed_sources``): the
    day's known slots are still reconciled with the clock and the arrivals.
    """
    started = time.perf_counter()
    result = StepResult()
    if schedule.problem is not None:
        result.source_failed("DSN schedule", schedule.problem)
        day_slots: list[Slot] = []
    else:
        day_slots = slots_for_day(schedule.slots, day)
    new = store.upsert_slots(day_slots, now=now)
    result.count("new", n=new)
    result.count("unchanged_known", n=len(day_slots) - new)
    for slot in day_slots:
        result.per_detector[slot.source] += 1
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    reconcile_slots(store, start, start + timedelta(days=1), now, result, listed)
    result.elapsed_s = time.perf_counter() - started
    return result


def sync_slot_days(
    store: LifecycleStore,
    client: ArchiveClient,
    detectors: Iterable[Detector],
    days: Sequence[date],
    now: datetime,
) -> StepResult:
    """``sync_slots`` for each of ``days`` (a backfill's run covers several), reading the
    schedule once and each listing once. Files arriving during a day's passes sit in the
    folders of their observation day: that day or the one before."""
    schedule = scheduled_slots(client)
    wanted = sorted({d - timedelta(days=k) for d in days for k in (1, 0)})
    listed = listed_arrivals(client, detectors, wanted)
    result = StepResult()
    for day in days:
        result.absorb(sync_slots(store, schedule, day, now, listed))
    # the schedule is one source, however many days it served
    result.failed_sources[:] = list(dict.fromkeys(result.failed_sources))
    return result
