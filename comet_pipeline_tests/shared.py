"""Constants the test folders share (fixtures are in ``conftest.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: The simulator seed the integration tests use.
SEED = 7
#: An hour well inside the simulated day, and a "now" one day later (everything arrived).
HOUR = datetime(2025, 6, 10, 3, tzinfo=UTC)
NOW = datetime(2025, 6, 11, 12, tzinfo=UTC)

#: The filled store's C3 frames, registered out of time order on purpose.
FILLED_TIMES = [HOUR + timedelta(hours=h) for h in (2, 0, 1)]
FILLED_NAMES = [f"3200000{i}.fts" for i in range(3)]

#: Port 9 (discard) on loopback: nothing listens, so a connection is refused at once.
CLOSED_DAGSTER_URL = "http://127.0.0.1:9"
