"""Two level-0.5 trees, one layout: which one serves a day, and the client addressing both."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from comet_pipeline.archive.client import ArchiveClient
from comet_pipeline.archive.layout import (
    LONGTERM_ROOT,
    NEAR_REAL_TIME_DAYS,
    NRT_ROOT,
    ArchiveTree,
    longterm_url_for,
    tree_for_day,
)
from comet_pipeline.domain import Detector
from comet_pipeline.settings import (
    REAL_ARCHIVE_URL,
    REAL_LONGTERM_ARCHIVE_URL,
    Settings,
    SettingsError,
)
from comet_pipeline.simulator.archive import SimArchive
from comet_pipeline.simulator.attach import simulated_client
from comet_pipeline.simulator.config import SimConfig

NOW = datetime(2025, 6, 11, 12, tzinfo=UTC)


def test_a_day_is_near_real_time_until_the_window_then_long_term():
    today = NOW.date()
    assert tree_for_day(today, NOW) is ArchiveTree.NEAR_REAL_TIME
    assert tree_for_day(today + timedelta(days=1), NOW) is ArchiveTree.NEAR_REAL_TIME
    edge = today - timedelta(days=NEAR_REAL_TIME_DAYS)
    assert tree_for_day(edge + timedelta(days=1), NOW) is ArchiveTree.NEAR_REAL_TIME
    assert tree_for_day(edge, NOW) is ArchiveTree.LONG_TERM
    assert tree_for_day(date(1996, 1, 1), NOW) is ArchiveTree.LONG_TERM
    assert tree_for_day(edge, NOW, nrt_days=NEAR_REAL_TIME_DAYS + 1) is ArchiveTree.NEAR_REAL_TIME
    # ages count UTC dates: 21:00 on the 11th in New York is already the 12th in UT
    evening = datetime(2025, 6, 11, 21, tzinfo=ZoneInfo("America/New_York"))
    assert tree_for_day(edge + timedelta(days=1), evening) is ArchiveTree.LONG_TERM


def test_the_simulators_trees_contain_the_pipelines_choice_on_every_day():
    """Whatever the day's age, the tree the pipeline picks holds that day in the simulator."""
    sim = SimArchive(SimConfig(seed=1), clock=lambda: NOW)
    for age in range(0, 60):
        day = NOW.date() - timedelta(days=age)
        assert sim.serves(tree_for_day(day, NOW), day), age


@pytest.mark.parametrize(
    ("archive", "longterm"),
    [
        ("sim://lasco", "sim://lasco/longterm"),
        ("sim://lasco-rolled/", "sim://lasco-rolled/longterm"),
        (REAL_ARCHIVE_URL, REAL_LONGTERM_ARCHIVE_URL),
        (REAL_ARCHIVE_URL + "/", REAL_LONGTERM_ARCHIVE_URL),
        (f"http://127.0.0.1:8765{NRT_ROOT}", f"http://127.0.0.1:8765{LONGTERM_ROOT}"),
        ("https://mirror.example.org/lasco", None),
        ("sim://lasco/somewhere", None),
    ],
)
def test_the_long_term_tree_beside_a_near_real_time_url(archive, longterm):
    assert longterm_url_for(archive) == longterm


def test_client_reads_each_tree_from_its_own_base():
    sim = SimArchive(SimConfig(seed=1), clock=lambda: NOW)
    client = simulated_client("sim://lasco", "sim://schedule", sim_archive=sim, backoff=0)
    assert client.base_url() == "sim://lasco"
    assert client.base_url(ArchiveTree.LONG_TERM) == "sim://lasco/longterm"
    old = NOW.date() - timedelta(days=45)
    lt = ArchiveTree.LONG_TERM
    assert client.fetch_index(old, Detector.C2).items == []  # gone from near-real-time
    index = client.fetch_index(old, Detector.C2, tree=lt)
    assert {f.name for f in index.items} == {o.name for o in sim.arrived(old, Detector.C2)}
    listing = client.fetch_listing(old, Detector.C2, tree=lt)
    assert len(listing.items) == len(index.items)
    name = index.items[0].name
    assert client.file_url(old, Detector.C2, name, tree=lt) == (
        f"sim://lasco/longterm/{old:%y%m%d}/c2/{name}"
    )
    counts = client.session.get_adapter("sim://lasco").counts  # type: ignore[attr-defined]
    assert counts[f"{LONGTERM_ROOT}/{old:%y%m%d}/c2/img_hdr.txt"] == 1
    assert counts[f"{NRT_ROOT}/{old:%y%m%d}/c2/img_hdr.txt"] == 1


def test_without_a_known_long_term_tree_the_archive_url_serves_every_day():
    client = ArchiveClient("https://mirror.example.org/lasco/", "https://x.example.org/s.html")
    assert client.base_url(ArchiveTree.LONG_TERM) == "https://mirror.example.org/lasco"
    explicit = ArchiveClient(
        REAL_ARCHIVE_URL, "https://x.example.org/s.html", longterm_url="https://lz.example.org/l5/"
    )
    assert explicit.base_url(ArchiveTree.LONG_TERM) == "https://lz.example.org/l5"


def test_simulated_long_term_tree_must_be_the_same_sky():
    with pytest.raises(ValueError, match="one simulated sky serves both"):
        simulated_client("sim://lasco", "sim://schedule", longterm_url="sim://lasco-storm/longterm")


def test_settings_long_term_url_follows_the_archive_url_unless_set():
    assert Settings.from_env({}).longterm_archive_url == "sim://lasco/longterm"
    rolled = Settings.from_env({"COMET_ARCHIVE_URL": "sim://lasco-rolled"})
    assert rolled.longterm_archive_url == "sim://lasco-rolled/longterm"
    real = Settings.from_env({"COMET_ARCHIVE_URL": REAL_ARCHIVE_URL})
    assert real.longterm_archive_url == REAL_LONGTERM_ARCHIVE_URL
    mirror = Settings.from_env({"COMET_ARCHIVE_URL": "https://mirror.example.org/lasco"})
    assert mirror.longterm_archive_url == REAL_LONGTERM_ARCHIVE_URL  # the real host's
    nrl = "https://lasco-www.nrl.navy.mil/lz/level_05/"
    chosen = Settings.from_env(
        {"COMET_ARCHIVE_URL": REAL_ARCHIVE_URL, "COMET_LONGTERM_ARCHIVE_URL": nrl}
    )
    assert chosen.longterm_archive_url == nrl.rstrip("/")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COMET_LONGTERM_ARCHIVE_URL": "ftp://lasco/x"}, "must start with https://"),
        ({"COMET_LONGTERM_ARCHIVE_URL": "http://"}, "has no host"),
        ({"COMET_LONGTERM_ARCHIVE_URL": "sim://lasco-nope"}, "unknown sky profile"),
        ({"COMET_LONGTERM_ARCHIVE_URL": "sim://lasco-storm/longterm"}, "simulated sky of"),
        (
            {"COMET_ARCHIVE_URL": REAL_ARCHIVE_URL, "COMET_LONGTERM_ARCHIVE_URL": "sim://lasco"},
            "is simulated but",
        ),
    ],
)
def test_bad_long_term_urls_say_which_variable(env, message):
    with pytest.raises(SettingsError, match=message) as err:
        Settings.from_env(env)
    assert "COMET_LONGTERM_ARCHIVE_URL" in str(err.value)
