"""Names keep their case, killed downloads' ``.part`` files go, a host-less archive URL is a
settings error, and server text in errors stays short."""

from __future__ import annotations

import os
import time

import pytest

from comet_pipeline.archive.errors import Redirected, Transient
from comet_pipeline.domain import Detector, FileState
from comet_pipeline.settings import Settings, SettingsError
from comet_pipeline_tests.shared import HOUR

from .conftest import (
    Route,
    assert_ready,
    client_for,
    download_hour,
    fits_body,
    good_neighbours,
    index_entry,
    path_of,
)


def test_an_upper_case_name_is_fetched_and_stored_with_its_case(hostile, home):
    f = index_entry(1, name="23145543.FTS")
    home.register(f)
    neighbours = good_neighbours(home, hostile)
    hostile.routes[path_of("23145543.FTS")] = Route(body=fits_body(f.observed_at))

    result = download_hour(home, hostile)

    assert result.outcomes == {"ready": 3}
    assert_ready(home, ["23145543.FTS", *neighbours])
    assert home.store.get_file("23145543.FTS").raw_path.endswith("/23145543.FTS")
    assert hostile.hits[path_of("23145543.FTS")] == 1
    assert hostile.hits[path_of("23145543.fts")] == 0
    home.assert_clean("23145543.FTS", *neighbours)


def test_stale_part_files_are_removed_when_a_batch_starts(hostile, home):
    day = home.raw_file("x").parent
    day.mkdir(parents=True)
    an_hour_ago = time.time() - 3600
    stale = day / ".20000001.fts.k3j4h5ab.part"  # what a killed download leaves
    live = day / ".20000009.fts.a1b2c3d4.part"  # another run's download, written just now
    notes = day / "notes.txt"  # old, but not ours
    outside = home.settings.layout.frames_dir / ".frame.fits.x1y2z3.part"  # not under raw/
    outside.parent.mkdir(parents=True)
    for path in (stale, live, notes, outside):
        path.write_bytes(b"half a file")
    for path in (stale, notes, outside):
        os.utime(path, (an_hour_ago, an_hour_ago))
    neighbours = good_neighbours(home, hostile)

    result = download_hour(home, hostile)

    assert result.outcomes == {"stale_part_removed": 1, "ready": 2}
    assert not stale.exists()
    assert live.exists() and notes.exists() and outside.exists()
    assert_ready(home, neighbours)
    assert home.written() == sorted(
        [
            "home/frames/.frame.fits.x1y2z3.part",
            *(f"home/raw/c2/{HOUR:%y%m%d}/{n}" for n in [live.name, "notes.txt", *neighbours]),
        ]
    )


@pytest.mark.parametrize("url", ["http://", "https://", "http:///level_05", "https://:443/x"])
@pytest.mark.parametrize("variable", ["COMET_ARCHIVE_URL", "COMET_SCHEDULE_URL"])
def test_an_url_without_a_host_is_a_settings_error(tmp_path, url, variable):
    with pytest.raises(SettingsError, match=f"^{variable}='.*' has no host"):
        Settings.from_env({"COMET_HOME": str(tmp_path), variable: url})
    # a real URL still passes
    good = Settings.from_env({"COMET_HOME": str(tmp_path), variable: "http://127.0.0.1:8080/x"})
    assert "http://127.0.0.1:8080/x" in (good.archive_url, good.schedule_url)


@pytest.mark.parametrize("case", ["reason phrase", "redirect target"])
def test_server_text_in_errors_is_bounded(hostile, home, case):
    f = index_entry(1)
    home.register(f)
    if case == "reason phrase":
        hostile.routes[path_of(f.name)] = Route(status=503, reason="x" * 5000, body=b"busy")
        raised, state = Transient, FileState.DOWNLOAD_FAILED
    else:
        hostile.redirect(path_of(f.name), "http://elsewhere.example/" + "y" * 5000)
        raised, state = Redirected, FileState.ABANDONED

    home.raw_file(f.name).parent.mkdir(parents=True)
    with client_for(hostile) as client, pytest.raises(raised) as info:
        client.download(HOUR.date(), Detector.C2, f.name, home.raw_file(f.name))
    message = str(info.value)
    assert len(message) < 360 and message.endswith(" characters)")
    assert len(info.value.reason) < 360

    download_hour(home, hostile)
    record = home.store.get_file(f.name)
    assert record.state is state and len(record.last_error) < 400
    home.assert_clean()
