"""The window's queue holds the jobs of every server: a job waits for its server's login,
then runs; a read-only user's upload fails once, clearly, and leaves nothing behind."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.services.connection import LoginRequest
from cl_desktop.transfers.jobs import Direction, JobSpec, JobState, Phase, Verification
from cl_desktop.transfers.store import JobStore
from cl_desktop.ui.queue_model import ERROR, STATE
from tests.support.files import make_file
from tests.support.gui import (
    FakePrompts,
    build_app,
    close_app,
    drop_files,
    item_row_point,
    jobs,
    wait_items_loaded,
    wait_jobs,
)
from tests.support.servers import SimulatorServer


def test_a_job_of_a_server_not_logged_in_shows_and_runs_after_its_login(
    qtbot: QtBot, sim_service: Any, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    with SimulatorServer(tmp_path / "sim-b") as server_b:
        payload = make_file(tmp_path / "for-b.bin", 200_000)
        login_a = LoginRequest(sim_service.base_url, "admin", "secret")
        login_b = LoginRequest(server_b.base_url, "admin", "secret")

        def upload(login: LoginRequest, library: str, name: str) -> JobSpec:
            return JobSpec(Direction.UPLOAD, login.ref, library, item_name=name,
                           paths=(str(payload),))  # fmt: skip

        (tmp_path / "app-data").mkdir()
        store = JobStore(tmp_path / "app-data" / "transfers.sqlite")
        # queued by an earlier run of the app: B's job first, then one for A
        store.insert(upload(login_b, server_b.default_library_id, "for-b"), 1, time.time())
        store.insert(upload(login_a, sim_service.default_library_id, "for-a"), 2, time.time())
        store.close()

        fake_prompts.login = login_a
        app = build_app(tmp_path, fake_prompts, max_parallel=1)
        try:
            app.start()
            model = app.window.dock.queue_model
            expected = f"Waiting for login to {login_b.ref.label}"
            qtbot.waitUntil(
                lambda: model.rowCount() == 2 and model.index(0, STATE).data() == expected,
                timeout=10000,
            )
            # B's job holds no slot: A's (after it, one job at a time) runs once A is connected
            qtbot.waitUntil(lambda: jobs(app)[1].state is JobState.DONE, timeout=20000)
            job_b, job_a = jobs(app)
            assert job_a.verification is Verification.VERIFIED
            # waiting is not a run: no attempt counted, no item on server B
            assert (job_b.state, job_b.phase, job_b.attempts) == (
                JobState.QUEUED,
                Phase.WAITING_FOR_LOGIN,
                0,
            )
            assert model.index(0, STATE).data() == expected
            with ContentLibraryClient(server_b.base_url, "admin", "secret") as client_b:
                assert client_b.items.list(server_b.default_library_id) == ()

                app.connect_to(login_b)

                qtbot.waitUntil(lambda: jobs(app)[0].state.finished, timeout=20000)
                job = jobs(app)[0]
                assert job.state is JobState.DONE, job
                assert job.verification is Verification.VERIFIED and job.attempts == 1
                [item] = client_b.items.list_models(server_b.default_library_id)
                assert (item.id, item.name) == (job.item_id, "for-b")
                [info] = client_b.item_files.list(item.id or "")
                assert (info.name, info.size) == ("for-b.bin", payload.stat().st_size)
        finally:
            close_app(app)


@pytest.mark.parametrize("target", ["new item", "into item"])
def test_a_read_only_users_upload_fails_once_clearly_and_leaves_no_item(
    qtbot: QtBot,
    sim_service: Any,
    sim_api_client: ContentLibraryClient,
    tmp_path: Path,
    fake_prompts: FakePrompts,
    target: str,
) -> None:
    library = sim_service.default_library_id
    existing = sim_api_client.items.create(library, "shared", type="file")
    fake_prompts.login = LoginRequest(sim_service.base_url, "reader", "secret")
    app = build_app(tmp_path, fake_prompts)
    try:
        app.start()
        qtbot.waitUntil(lambda: app.window.item_model.row_of_name("shared") >= 0, timeout=10000)
        wait_items_loaded(qtbot, app)
        phases: list[Phase] = []
        app.transfers.job_changed.connect(lambda snap: phases.append(snap.phase))
        view = app.window.item_view
        # One drop per app: once refused, the window disables uploads for this user.
        if target == "new item":
            new_file = make_file(tmp_path / "new.bin", 50_000)
            assert drop_files(view, [new_file], item_row_point(app, "shared") + QPoint(0, 60))
            qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
        else:
            into_file = make_file(tmp_path / "into.bin", 50_000, seed=2)
            assert drop_files(view, [into_file], item_row_point(app, "shared"))

        (job,) = wait_jobs(qtbot, app, 1, JobState.FAILED)
        model = app.window.dock.queue_model
        assert job.attempts == 1
        assert job.error_title == "Permission denied", job
        assert "does not have the privilege" in job.error_message
        assert model.index(0, ERROR).data().startswith("Permission denied: ")
        assert not {Phase.RETRYING, Phase.RECONNECTING} & set(phases)
        # nothing behind: no new item, no file in the existing one, no session left open
        assert sim_api_client.items.list(library) == (existing,)
        assert sim_api_client.item_files.list(existing) == ()
        assert "Transfer failed" in app.window.status_label.text()
        qtbot.waitUntil(lambda: not app.window.upload_new_action.isEnabled(), timeout=5000)
    finally:
        close_app(app)
