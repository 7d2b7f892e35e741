"""Where files live: the data dir override and the move of the CLI's former job store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cl_desktop import paths
from cl_desktop.app import AppConfig
from cl_desktop.transfers.jobs import Direction, JobSpec, ServerRef
from cl_desktop.transfers.store import JobStore

SPEC = JobSpec(Direction.UPLOAD, ServerRef("https://vc.test", "admin"), "lib-1", paths=("/x",))


def test_the_env_var_moves_data_config_and_the_job_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "portable"))
    assert paths.data_dir() == paths.config_dir() == tmp_path / "portable"
    assert paths.job_store_path() == tmp_path / "portable" / "transfers.sqlite"
    config = AppConfig()
    assert config.resolved_data_dir == tmp_path / "portable"
    assert config.resolved_settings_path == tmp_path / "portable" / "settings.ini"
    monkeypatch.delenv(paths.DATA_DIR_ENV)
    assert paths.data_dir() != tmp_path / "portable"


def test_the_old_cli_store_is_moved_into_place_with_its_jobs(tmp_path: Path) -> None:
    old = JobStore(tmp_path / "cl-transfer-queue.sqlite")
    job_id = old.insert(SPEC, 1, 0.0)
    old.close()
    store = JobStore(paths.job_store_path(tmp_path))
    try:
        assert [j.id for j in store.load()] == [job_id]
        assert not (tmp_path / "cl-transfer-queue.sqlite").exists()
    finally:
        store.close()


def test_with_both_stores_the_shared_one_wins_and_the_old_is_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("cl-transfer-queue.sqlite", "transfers.sqlite"):
        JobStore(tmp_path / name).close()
    with caplog.at_level(logging.WARNING, logger="cl_desktop.paths"):
        assert paths.job_store_path(tmp_path) == tmp_path / "transfers.sqlite"
    assert (tmp_path / "cl-transfer-queue.sqlite").exists()
    assert str(tmp_path / "cl-transfer-queue.sqlite") in caplog.text


@pytest.mark.parametrize(
    ("server", "entry"),
    [
        ("vc.local", "admin@vc.local"),
        ("https://VC.local:443/", "admin@vc.local"),
        ("vc.local:8443", "admin@vc.local:8443"),
        ("https://vc.local:8443", "admin@vc.local:8443"),
        ("http://127.0.0.1:8080", "admin@http://127.0.0.1:8080"),
        ("[::1]:8443", "admin@[::1]:8443"),
    ],
)
def test_one_keyring_entry_however_the_server_is_written(server: str, entry: str) -> None:
    assert paths.keyring_key(server, "admin") == entry
