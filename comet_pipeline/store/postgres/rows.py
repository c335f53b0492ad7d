"""What every table module shares: times going in, a WHERE builder.

Times are ``timestamptz`` at rest. Every session runs with ``TimeZone=UTC``, so what comes
out is already an aware UTC datetime; what goes in is checked by ``ts`` first, because
psycopg would quietly send a naive datetime as local time and the store refuses to guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from comet_pipeline.domain import Detector, utc

#: A result row by column name (psycopg's ``dict_row``).
Row = dict[str, Any]


def ts(value: datetime | None) -> datetime | None:
    """An aware UTC datetime for a parameter; naive input raises ValueError."""
    return None if value is None else utc(value)


@dataclass
class Where:
    """A WHERE clause grown from optional filters, with named (``%(name)s``) parameters."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> Where:  # noqa: ANN401  query parameter values
        self.clauses.append(clause)
        self.params.update(params)
        return self

    def window(
        self,
        detector: Detector | str | None,
        start: datetime | None,
        end: datetime | None,
        *,
        after: str = "observed_at",
        before: str = "observed_at",
    ) -> Where:
        """Filters every time query shares: a detector, ``after >= start``, ``before < end``."""
        if detector is not None:
            self.add("detector = %(detector)s", detector=str(detector))
        if start is not None:
            self.add(f"{after} >= %(start)s", start=ts(start))
        if end is not None:
            self.add(f"{before} < %(end)s", end=ts(end))
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "TRUE"
