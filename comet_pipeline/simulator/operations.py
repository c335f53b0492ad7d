"""The operations model: which images are taken, what they are called, and when they arrive.

Everything is a pure function of (config, day, detector): a day is computed from its own
seeded generators plus the DSN passes of its neighbour days, which are themselves pure
functions of their own date. Passes are laid out in per-day segments that start at 02:30 UT
so that a pass crossing midnight never overlaps the next day's first pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from comet_pipeline.domain.models import Detector
from comet_pipeline.simulator._rng import rng_for
from comet_pipeline.simulator.config import SimConfig

#: Anchor of the file counters: the formats page's example names on 2024-01-01.
COUNTER_DAY0 = date(2024, 1, 1)
COUNTER0 = {Detector.C2: 2932721, Detector.C3: 2088304}
COUNTER_BLOCK = 200  # counters reserved per day and detector (more than a day ever uses)

NOMINAL = {Detector.C2: ("Orange", "Clear"), Detector.C3: ("Clear", "Clear")}
POLARIZED = ("+60Deg", "0Deg", "-60Deg")
SLOT_PHASE_S = {Detector.C2: 60.0, Detector.C3: 420.0}  # C3 is taken ~6 min after C2
READOUT_S = 30.0  # end of exposure -> image ready on board

# (antenna, weight): Goldstone, Canberra, Madrid 34 m/70 m dishes as the schedule names them
ANTENNAS: tuple[tuple[str, float], ...] = (
    ("D24", 3.0),
    ("D34", 3.0),
    ("D54", 3.0),
    ("D14", 1.0),
    ("D63", 1.0),
    ("D43", 1.0),
    ("D26", 1.5),
    ("D35", 1.5),
    ("D55", 1.5),
    ("DSS-65", 1.0),
)
_PASS_SEGMENTS_START_MIN = 150  # 02:30 UT


@dataclass(frozen=True)
class SimPass:
    """One DSN pass (begin and end of track, UTC)."""

    bot: datetime
    eot: datetime
    antenna: str

    def contains(self, when: datetime) -> bool:
        return self.bot <= when < self.eot


@dataclass(frozen=True)
class SimObservation:
    """One archive file of the simulated archive (a duplicate is its own observation)."""

    name: str
    detector: Detector
    observed_at: datetime  # start of exposure, millisecond resolution
    exptime: float  # seconds
    naxis1: int
    naxis2: int
    binning: int  # LEB summing per side (1 or 2)
    filter: str
    polarizer: str
    program: str
    arrived_at: datetime
    os_num: int
    duplicate_of: str | None = None
    p1col: int = 20
    p1row: int = 1

    @property
    def synoptic(self) -> bool:
        """A synoptic science image (the movie series): the rule of the real archive."""
        f, p = NOMINAL[self.detector]
        return (
            self.naxis1 == 1024
            and self.naxis2 == 1024
            and self.program == "Normal"
            and (self.filter, self.polarizer) == (f, p)
        )

    @property
    def day(self) -> date:
        return self.observed_at.date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def passes_for_day(config: SimConfig, day: date) -> list[SimPass]:
    """The DSN passes whose begin of track falls on ``day`` (the last may end after midnight).

    The day from 02:30 to 02:30 next day is cut into one segment per pass; each pass lies
    inside its segment, so passes of consecutive days never overlap.
    """
    rng = rng_for(config.seed, "passes", day.toordinal())
    lo, hi = config.passes_per_day
    n = int(rng.integers(lo, hi + 1))
    seg = (1440 // n) // 5 * 5
    names = [a for a, _ in ANTENNAS]
    weights = np.array([w for _, w in ANTENNAS])
    midnight = _midnight(day)
    out: list[SimPass] = []
    for i in range(n):
        dur = int(rng.uniform(*config.pass_hours) * 12) * 5
        dur = max(60, min(dur, seg))
        seg_start = _PASS_SEGMENTS_START_MIN + i * seg
        latest = min(seg_start + seg - dur, 1435)
        steps = max(0, (latest - seg_start) // 5)
        bot_min = seg_start + 5 * int(rng.integers(0, steps + 1))
        antenna = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        bot = midnight + timedelta(minutes=bot_min)
        out.append(SimPass(bot=bot, eot=bot + timedelta(minutes=dur), antenna=antenna))
    return out


def passes_between(config: SimConfig, first: date, last: date) -> list[SimPass]:
    """Passes with BOT on any day from ``first`` to ``last`` inclusive, in time order."""
    out: list[SimPass] = []
    day = first
    while day <= last:
        out.extend(passes_for_day(config, day))
        day += timedelta(days=1)
    return out


@dataclass(frozen=True)
class _Planned:
    observed_at: datetime
    exptime: float
    naxis: int
    binning: int
    filter: str
    polarizer: str
    duplicate_of: int | None  # index into the planned list


def _plan(config: SimConfig, day: date, detector: Detector) -> list[_Planned]:
    rng = rng_for(config.seed, "obs", day.toordinal(), detector.value)
    midnight = _midnight(day)
    phase = SLOT_PHASE_S[detector]
    n_slots = int((86400.0 - phase - config.jitter_s - 1.0) // config.cadence_s) + 1
    offsets = (
        phase + np.arange(n_slots) * config.cadence_s + rng.uniform(0, config.jitter_s, n_slots)
    )
    keep = rng.random(n_slots) >= config.drop_probability
    if rng.random() < config.gap_probability:
        length = int(rng.integers(5, 16))
        start = int(rng.integers(0, max(1, n_slots - length)))
        keep[start : start + length] = False
    extra_u = rng.random(n_slots)
    extra_kind = rng.random(n_slots)
    extra_dt = rng.uniform(150.0, 300.0, n_slots)
    extra_pol = rng.integers(0, len(POLARIZED), n_slots)
    dup_u = rng.random(n_slots)
    if detector is Detector.C2:
        exptimes = 25.1 + 0.1 * rng.integers(0, 2, n_slots)
    else:
        exptimes = np.round(rng.uniform(17.1, 19.1, n_slots), 4)
    filt, polar = NOMINAL[detector]
    planned: list[_Planned] = []
    for k in range(n_slots):
        if not keep[k]:
            continue
        t = midnight + timedelta(milliseconds=int(round(offsets[k] * 1000.0)))
        exptime = float(exptimes[k])
        planned.append(_Planned(t, exptime, 1024, 1, filt, polar, None))
        if dup_u[k] < config.duplicate_fraction:
            planned.append(_Planned(t, exptime, 1024, 1, filt, polar, len(planned) - 1))
        if extra_u[k] < config.non_synoptic_fraction:
            te = t + timedelta(milliseconds=int(extra_dt[k] * 1000.0))
            if extra_kind[k] < 0.6:
                planned.append(_Planned(te, exptime, 512, 2, filt, polar, None))
            else:
                pol = POLARIZED[int(extra_pol[k])]
                planned.append(_Planned(te, exptime, 1024, 1, filt, pol, None))
    return planned


def _arrival(
    config: SimConfig, passes: list[SimPass], ready: datetime, rng: np.random.Generator
) -> datetime:
    """When an image ready on board at ``ready`` reaches the ground."""
    for i, p in enumerate(passes):
        if p.contains(ready):
            lo, hi = config.realtime_latency_min
            return ready + timedelta(seconds=float(rng.uniform(lo, hi)) * 60.0)
        if p.bot > ready:
            prev_eot = passes[i - 1].eot if i > 0 else p.bot - timedelta(hours=12)
            gap = (p.bot - prev_eot).total_seconds()
            frac = min(1.0, max(0.0, (ready - prev_eot).total_seconds() / max(gap, 1.0)))
            span = (p.eot - p.bot).total_seconds() * config.playback_fraction
            seconds = 120.0 + frac * span + float(rng.uniform(0.0, 30.0))
            return p.bot + timedelta(seconds=min(seconds, (p.eot - p.bot).total_seconds() - 1))
    raise ValueError(f"no pass after {ready.isoformat()}")  # cannot happen: >= 3 passes a day


def _redelivery(passes: list[SimPass], after: datetime, rng: np.random.Generator) -> datetime:
    """A duplicate is re-served during a later pass, at least an hour after the original."""
    for p in passes:
        if p.bot > after + timedelta(hours=1):
            dur = (p.eot - p.bot).total_seconds()
            return p.bot + timedelta(seconds=float(rng.uniform(300.0, max(301.0, 0.8 * dur))))
    raise ValueError(f"no pass after {after.isoformat()}")


def observations_for_day(config: SimConfig, day: date, detector: Detector) -> list[SimObservation]:
    """Every file of ``day``'s directory (arrived or not), in observation-time order."""
    detector = Detector(detector)
    planned = _plan(config, day, detector)
    passes = passes_between(config, day - timedelta(days=1), day + timedelta(days=3))
    rng = rng_for(config.seed, "arrival", day.toordinal(), detector.value)
    arrivals: list[datetime] = []
    for item in planned:
        if item.duplicate_of is None:
            ready = item.observed_at + timedelta(seconds=item.exptime + READOUT_S)
            arrivals.append(_arrival(config, passes, ready, rng))
        else:
            arrivals.append(_redelivery(passes, arrivals[item.duplicate_of], rng))
    arrivals = [a.replace(microsecond=0) for a in arrivals]
    # The ground system numbers files as it receives them: counters follow arrival order.
    order = sorted(range(len(planned)), key=lambda i: (arrivals[i], planned[i].observed_at, i))
    if len(order) > COUNTER_BLOCK:
        raise ValueError(f"{len(order)} files on {day} exceed the counter block")
    base = COUNTER0[detector] + (day - COUNTER_DAY0).days * COUNTER_BLOCK
    counters = {i: (base + rank) % 10_000_000 for rank, i in enumerate(order)}
    names = {i: f"{detector.telescope_digit}{counters[i]:07d}.fts" for i in counters}
    out = []
    for i, item in enumerate(planned):
        out.append(
            SimObservation(
                name=names[i],
                detector=detector,
                observed_at=item.observed_at,
                exptime=item.exptime,
                naxis1=item.naxis,
                naxis2=item.naxis,
                binning=item.binning,
                filter=item.filter,
                polarizer=item.polarizer,
                program="Normal",
                arrived_at=arrivals[i],
                os_num=1000 + counters[i] % 9000,
                duplicate_of=None if item.duplicate_of is None else names[item.duplicate_of],
            )
        )
    out.sort(key=lambda o: (o.observed_at, o.duplicate_of is not None, o.name))
    return out
