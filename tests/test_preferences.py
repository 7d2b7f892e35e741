"""The preferences file: one home for every default, read by the window and cl-transfer.

A round trip through the file, a bad value or a broken file falling back to the default with a
warning, and cl-transfer taking --parallel, --limit and --keep-alive from the file unless a
flag says otherwise.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cl_desktop import paths, preferences
from cl_desktop.app import AppConfig
from cl_desktop.cli.commands import Cli
from cl_desktop.cli.parser import build_parser
from cl_desktop.preferences import Preferences

CHANGED = Preferences(
    parallel_transfers=5,
    bandwidth_limit=2.5,
    keep_alive_seconds=20.0,
    download_folder="/srv/downloads",
    confirm_quit=False,
    confirm_replace=False,
    confirm_new_items=False,
    sessions_refresh_seconds=30.0,
    log_level="DEBUG",
)


def test_every_preference_round_trips_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "preferences.ini"
    assert preferences.load(path) == Preferences()  # no file yet: the defaults
    assert preferences.save(CHANGED, path) == path
    assert preferences.load(path) == CHANGED
    assert [p.name for p in path.parent.iterdir()] == ["preferences.ini"]  # no temporary left
    text = path.read_text()
    assert "[transfers]\nparallel = 5\nbandwidth_limit_mb_s = 2.5\n" in text
    preferences.save(Preferences(), path)  # back to "no limit"
    assert "bandwidth_limit_mb_s = none" in path.read_text()
    assert preferences.load(path) == Preferences()


def test_a_bad_value_falls_back_to_its_default_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "preferences.ini"
    path.write_text(
        "[transfers]\nparallel = lots\nbandwidth_limit_mb_s = -3\nkeep_alive_seconds = 15\n"
        "[confirmations]\nquit_while_transferring = perhaps\nreplace_files_of_an_item = no\n"
        "[logging]\nlevel = chatty\n[unknown]\nkey = value\n"
    )
    with caplog.at_level(logging.WARNING, logger="cl_desktop.preferences"):
        prefs = preferences.load(path)
    # the good values are read, each bad one is its default
    assert prefs == Preferences(keep_alive_seconds=15.0, confirm_replace=False)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 4
    assert "[transfers] parallel = 'lots' is not usable" in warnings[0]
    assert "using the default, 2" in warnings[0]
    assert "[transfers] bandwidth_limit_mb_s = '-3' is not usable" in warnings[1]
    assert "[confirmations] quit_while_transferring = 'perhaps'" in warnings[2]
    assert "[logging] level = 'chatty'" in warnings[3] and str(path) in warnings[3]


def test_a_file_that_is_not_ini_gives_the_defaults(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "preferences.ini"
    path.write_bytes(b"parallel = 3\n\xff\xfe")
    with caplog.at_level(logging.WARNING, logger="cl_desktop.preferences"):
        assert preferences.load(path) == Preferences()
    assert "cannot read the preferences" in caplog.text


def test_the_file_lives_in_the_config_dir_or_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "portable"))
    assert preferences.preferences_path() == tmp_path / "portable" / "preferences.ini"
    assert AppConfig().resolved_preferences_path == tmp_path / "portable" / "preferences.ini"
    config = AppConfig(data_dir=tmp_path / "other")
    assert config.resolved_preferences_path == tmp_path / "other" / "preferences.ini"
    assert config.resolved_settings_path.parent == config.resolved_preferences_path.parent


def _cli(tmp_path: Path, *flags: str) -> Cli:
    db = str(tmp_path / "q.sqlite")
    server = ["--server", "https://vc.example", "--user", "u", "--queue-db", db]
    return Cli(build_parser().parse_args([*server, *flags, "jobs"]))


def test_the_cli_takes_its_defaults_from_the_file_and_a_flag_overrides_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "data"))
    cli = _cli(tmp_path)  # no file: the built-in defaults
    queue = cli._queue()
    assert (queue.max_parallel, queue.bandwidth_limit) == (2, None)
    assert queue.retry_policy.keep_alive_max == 60.0
    cli.close()

    preferences.save(
        Preferences(parallel_transfers=4, bandwidth_limit=1.5, keep_alive_seconds=25.0),
        tmp_path / "data" / "preferences.ini",
    )
    cli = _cli(tmp_path)
    queue = cli._queue()
    assert (queue.max_parallel, queue.bandwidth_limit) == (4, 1_500_000)
    assert queue.retry_policy.keep_alive_max == 25.0
    cli.close()

    cli = _cli(tmp_path, "--parallel", "1", "--limit", "0", "--keep-alive", "7")
    queue = cli._queue()
    assert (queue.max_parallel, queue.bandwidth_limit) == (1, None)  # 0: no limit, said so
    assert queue.retry_policy.keep_alive_max == 7.0
    cli.close()
