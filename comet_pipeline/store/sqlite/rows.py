"""What every table module shares: times at rest, JSON lists for ``IN``, a WHERE builder.

Times are aware UTC datetimes in Python and fixed-width ISO text at rest, so text order is
time order and range queries use the indexes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from comet_pipeline.domain import Detector, from_iso, to_iso


class Row(Protocol):
    """A result row by column name: ``sqlite3.Row`` or the dicts sqlite-utils yields."""

    def __getitem__(self, key: str) -> Any: ...  # noqa: ANN401  a column's value


def iso(value: datetime | None) -> str | None:
    return None if value is None else to_iso(value)


def dt(text: str | None) -> datetime | None:
    return None if text is None else from_iso(text)


def json_list(values: Iterable[str]) -> str:
    """A JSON array for ``x IN (SELECT value FROM json_each(?))``: one parameter, any length."""
    return json.dumps([str(v) for v in values])


@dataclass
class Where:
    """A WHERE clause grown from optional filters, with named parameters."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> Where:  # noqa: ANN401  SQLite parameter values
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
            self.add("detector = :detector", detector=str(detector))
        if start is not None:
            self.add(f"{after} >= :start", start=to_iso(start))
        if end is not None:
            self.add(f"{before} < :end", end=to_iso(end))
        return self

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "1"
