"""Headers no LASCO frame can have are rejected when the download is verified: a permanent
Corrupt with a reason a person can read, not a numpy error retried five times."""

from __future__ import annotations

import pytest

from comet_pipeline.domain import FileState
from comet_pipeline.ingest.download import download_window
from comet_pipeline_tests.clocks import ManualClock
from comet_pipeline_tests.shared import HOUR, NOW

from .conftest import (
    END,
    Route,
    assert_ready,
    client_for,
    fits_body,
    good_neighbours,
    index_entry,
    path_of,
)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(
            {"CDELT1": 1e-300, "CDELT2": 1e-300},
            "CDELT1 = 1e-300 arcsec/px is not a plausible plate scale (1..300 arcsec/px)",
            id="CDELT 1e-300",
        ),
        pytest.param(
            {"CRPIX1": 1e30},
            "CRPIX1 = 1e+30 puts the Sun centre at x = 1e+30 px, more than 2 image widths "
            "outside the 64x64 frame",
            id="CRPIX1 1e30",
        ),
        pytest.param(
            {"planes": 3}, "NAXIS = 3: a LASCO frame is a 2-D image (NAXIS = 2)", id="NAXIS 3"
        ),
        pytest.param(
            {"CDELT2": 5000.0},
            "CDELT2 = 5000 arcsec/px is not a plausible plate scale",
            id="CDELT2 5000",
        ),
    ],
)
def test_an_implausible_header_is_abandoned_at_once_with_a_readable_reason(
    hostile, home, body, reason
):
    f = index_entry(1)
    home.register(f)
    neighbours = good_neighbours(home, hostile)
    hostile.routes[path_of(f.name)] = Route(body=fits_body(f.observed_at, **body))

    result = download_window(
        home.store, client_for(hostile), home.raw_dir, HOUR, END, clock=ManualClock(NOW), owner="r"
    )

    record = home.store.get_file(f.name)
    assert record.state is FileState.ABANDONED and record.attempts == 1
    assert record.last_error.startswith(f"Corrupt: implausible header: {reason}")
    assert [t.to_state for t in home.store.transitions_for(f.name)] == [
        FileState.DISCOVERED,
        FileState.DOWNLOADING,
        FileState.ABANDONED,
    ]
    assert hostile.hits[path_of(f.name)] == 1
    assert result.outcomes == {"abandoned": 1, "ready": 2}
    assert_ready(home, neighbours)
    home.assert_clean(*neighbours)  # the rejected bytes were never moved into place


def test_a_ready_file_with_an_implausible_header_is_abandoned_by_processing(home):
    """Files downloaded before verification checked the geometry meet the check again when
    they are processed: one attempt, a readable reason, no numpy error retried."""
    from comet_pipeline.imaging.pipeline import FrameProcessor
    from comet_pipeline.ingest.process import process_window

    entry = index_entry(4)
    home.register(entry)
    raw = home.raw_dir / entry.name
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_bytes(fits_body(entry.observed_at, CDELT1=1e-300, CDELT2=1e-300))
    for target in (FileState.DOWNLOADING, FileState.DOWNLOADED, FileState.READY):
        extra = {"raw_path": str(raw)} if target is FileState.DOWNLOADED else {}
        assert home.store.transition(entry.name, target, now=HOUR, **extra)
    processor = FrameProcessor(home.settings.layout.frames_dir)
    process_window(home.store, processor, HOUR, END, clock=ManualClock(NOW), owner="p")
    record = home.store.get_file(entry.name)
    assert record.state is FileState.ABANDONED and record.attempts == 1
    assert "not a plausible plate scale" in record.last_error
