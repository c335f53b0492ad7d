"""Settings from the environment, and the CLI's status and frames commands."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from comet_pipeline import cli
from comet_pipeline.cli.reports import frames_text, status_text
from comet_pipeline.domain import Detector
from comet_pipeline.settings import Settings, SettingsError, default_partitions_start
from comet_pipeline_tests.shared import FILLED_TIMES


def test_settings_defaults_and_overrides(tmp_path: Path):
    defaults = Settings.from_env({}, today=date(2026, 12, 2))
    assert defaults.archive_url == "sim://lasco" and defaults.schedule_url == "sim://schedule"
    assert defaults.detectors == (Detector.C2, Detector.C3)
    assert defaults.partitions_start == date(2026, 10, 1)
    assert defaults.home == Path.home() / ".comet_pipeline"
    custom = Settings.from_env(
        {
            "COMET_HOME": str(tmp_path),
            "COMET_ARCHIVE_URL": "https://umbra.nascom.nasa.gov/pub/lasco/lastimage/level_05/",
            "COMET_DETECTORS": " C3 ",
            "COMET_PARTITIONS_START": "2026-02-01",
        }
    )
    assert custom.layout.lifecycle_db == tmp_path / "lifecycle.db"
    assert custom.archive_url.endswith("/level_05")
    assert custom.detectors == (Detector.C3,)
    assert custom.partitions_start == date(2026, 2, 1)
    with pytest.raises(AttributeError):
        custom.home = tmp_path  # type: ignore[misc]  # frozen


@pytest.mark.parametrize(
    ("today", "start"),
    [
        (date(2026, 12, 2), date(2026, 10, 1)),
        (date(2026, 12, 31), date(2026, 10, 1)),
        (date(2026, 1, 15), date(2025, 11, 1)),
        (date(2026, 2, 28), date(2025, 12, 1)),
        (date(2026, 3, 1), date(2026, 1, 1)),
    ],
)
def test_partitions_start_by_default_is_the_first_of_the_month_before_last(today, start):
    assert default_partitions_start(today) == start
    # two to three months back: 1,400 to 2,200 hours in the UI, never a year of them
    assert 59 <= (today - start).days <= 91
    assert Settings.from_env({"COMET_PARTITIONS_START": " "}, today=today).partitions_start == start


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"COMET_DETECTORS": "c2,c4"}, "COMET_DETECTORS"),
        ({"COMET_DETECTORS": " , "}, "COMET_DETECTORS"),
        ({"COMET_PARTITIONS_START": "yesterday"}, "COMET_PARTITIONS_START"),
        ({"COMET_ARCHIVE_URL": "umbra.nascom.nasa.gov/pub"}, "COMET_ARCHIVE_URL"),
        ({"COMET_SCHEDULE_URL": "ftp://x/schedule.html"}, "COMET_SCHEDULE_URL"),
    ],
)
def test_bad_settings_say_which_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_status_says_when_the_store_is_empty_and_counts_otherwise(sqlite_store):
    assert "is empty" in status_text(sqlite_store)


def test_status_counts_slots_files_frames_and_candidates(filled_store):
    text = status_text(filled_store)
    row = next(line for line in text.splitlines() if line.startswith("DISCOVERED"))
    assert "C3" in text and row.split()[-1] == "3"
    assert next(line for line in text.splitlines() if line.startswith("PENDING")).split()[-1] == "1"
    assert "3 frames, 1 comet candidates" in text


def test_frames_lists_processed_frames_in_time_order(filled_store):
    since = min(FILLED_TIMES)
    text = frames_text(filled_store, Detector.C3, since, since + timedelta(days=1))
    listed = [line.split()[2] for line in text.splitlines()[2:]]
    assert listed == ["32000001.fts", "32000002.fts", "32000000.fts"]
    assert "/f/32000001.fts.png" in text.splitlines()[2]
    assert "No processed C2 frames" in frames_text(filled_store, Detector.C2, since, since)


def test_cli_rejects_bad_input_with_a_message(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frames", "--detector", "c4"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    for hours in ("0", "-3", "abc", "1.5"):
        with pytest.raises(SystemExit) as exc:
            cli.main(["demo", "--hours", hours])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and "invalid" not in err, err
        assert f"argument --hours: must be a positive integer, got '{hours}'" in err
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--days", "two"])
    assert "argument --days: must be a positive integer, got 'two'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["frames", "--detector", "c3", "--since", "last tuesday"])
    assert "not an ISO date" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--seeds", "1,x"])
    assert "argument --seeds: must be comma-separated integers, got '1,x'" in (
        capsys.readouterr().err
    )
    assert cli.main(["evaluate", "--profiles", "nominal,cloudy"]) == 2
    err = capsys.readouterr().err
    assert "unknown sky profile 'cloudy'" in err and "hostile" in err  # the valid ones listed


def test_simulate_archive_on_a_busy_port_is_one_line_and_exit_2(capsys, monkeypatch, tmp_path):
    import socket

    monkeypatch.setenv("COMET_HOME", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = cli.main(["simulate-archive", "--port", str(port), "--error-rate", "0.5"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err == (
        f"comet-pipeline: port {port} is in use; try --port 0 or another port\n"
    )


def test_demo_before_the_first_partition_says_which_setting(tmp_path: Path, capsys):
    from datetime import UTC, datetime

    from comet_pipeline.cli.demo import run_demo
    from comet_pipeline.defs.partitions import FIRST_HOUR

    until = FIRST_HOUR - timedelta(days=30)
    settings = Settings(home=tmp_path / "home")
    assert run_demo(settings, hours=2, until=until) == 2
    err = capsys.readouterr().err
    assert f"before the first partition ({FIRST_HOUR:%Y-%m-%d})" in err
    assert f"COMET_PARTITIONS_START={until - timedelta(hours=2):%Y-%m-%d}" in err
    assert until.tzinfo is UTC and datetime.now(UTC) > until


def test_the_commands_in_their_own_modules_are_reachable_from_main(capsys):
    parser = cli.build_parser()
    for argv in (
        ["export", "detections", "--format", "votable"],
        ["scan", "--repair"],
        ["archive", "search", "--detector", "c3", "--since", "2025-06-01"],
        ["recipes", "list"],
    ):
        assert parser.parse_args(argv).command == argv[0]
    assert cli.main(["recipes", "list", "faint-c3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("faint-c3") and "history=20*" in out
