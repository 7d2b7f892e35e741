"""The window and cl-transfer share one job store: one history, and jobs either can finish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from cl_desktop import paths
from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.transfers.jobs import Direction, JobSpec, JobState
from tests.support.files import make_file
from tests.support.gui import FakePrompts, build_app, close_app, wait_jobs


def cl_transfer(app_data: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """cl-transfer with no --queue-db: it must find the window's store through the data dir."""
    env = {**os.environ, "CL_PASSWORD": "secret", paths.DATA_DIR_ENV: str(app_data)}
    return subprocess.run(
        [sys.executable, "-m", "cl_desktop.cli", "--server", url, "--user", "admin", *args],
        capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def upload_spec(url: str, library_id: str, source: Path, name: str) -> JobSpec:
    server = LoginRequest(url, "admin", "secret").ref  # the server the window logs in to
    return JobSpec(
        Direction.UPLOAD, server, library_id, item_name=name, paths=(str(source.resolve()),)
    )


def test_the_cli_history_shows_the_windows_uploads(
    qtbot: QtBot, gui: Application, sim_service: Any, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "from-window.bin", 50_000)
    spec = upload_spec(sim_service.base_url, sim_service.default_library_id, source, "windowed")
    gui.transfers.add([spec])
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert gui.store.path == tmp_path / "app-data" / paths.JOB_STORE_NAME

    history = cl_transfer(tmp_path / "app-data", sim_service.base_url, "--json", "history")
    assert history.returncode == 0, history.stderr
    rows = json.loads(history.stdout)
    assert [(r["item_name"], r["file"], r["outcome"]) for r in rows] == [
        ("windowed", "from-window.bin", "done")
    ]


def test_the_windows_history_shows_cli_uploads(
    qtbot: QtBot, gui: Application, sim_service: Any, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "from-cli.bin", 40_000)
    # The window is open (its queue holds the store) while the CLI adds and runs its job.
    up = cl_transfer(tmp_path / "app-data", sim_service.base_url,
                     "upload", "Local library/from-cli", str(source), "--create")  # fmt: skip
    assert up.returncode == 0, up.stderr
    model = gui.window.dock.history_model
    gui.transfers.refresh_history()
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=10000)
    record = model.record(0)
    assert (record.item_name, record.file) == ("from-cli", "from-cli.bin")
    assert record.direction == "upload"


def test_cli_resume_finishes_a_job_the_window_left_paused(
    qtbot: QtBot, sim_service: Any, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    source = make_file(tmp_path / "left.bin", 300_000, seed=7)
    app = build_app(tmp_path, fake_prompts)  # no login: the job waits for its server
    try:
        app.start()
        spec = upload_spec(sim_service.base_url, sim_service.default_library_id, source, "left")
        app.transfers.add([spec], lambda ids: app.transfers.pause(ids[0]))
        (job,) = wait_jobs(qtbot, app, 1, JobState.PAUSED)
        # While the window holds the job (its flock claim), the CLI must leave it alone.
        busy = cl_transfer(tmp_path / "app-data", sim_service.base_url, "resume")
        assert busy.returncode == 0, busy.stderr
        assert f"in use by another process: job {job.id}" in busy.stderr
        assert "nothing to resume" in busy.stdout
        refused = cl_transfer(tmp_path / "app-data", sim_service.base_url, "retry", str(job.id))
        assert refused.returncode == 8, refused.stderr
    finally:
        close_app(app)

    resumed = cl_transfer(tmp_path / "app-data", sim_service.base_url, "--json", "resume")
    assert resumed.returncode == 0, resumed.stderr
    (result,) = json.loads(resumed.stdout)
    assert result["state"] == "done" and result["verification"] == "verified"
    with ContentLibraryClient(sim_service.base_url, "admin", "secret") as client:
        (stored,) = client.item_files.list(result["item_id"])
        assert (stored.name, stored.size) == ("left.bin", 300_000)
    dest = tmp_path / "back"
    down = cl_transfer(tmp_path / "app-data", sim_service.base_url,
                       "download", result["item_id"], str(dest))  # fmt: skip
    assert down.returncode == 0, down.stderr
    assert (dest / "left.bin").read_bytes() == source.read_bytes()
