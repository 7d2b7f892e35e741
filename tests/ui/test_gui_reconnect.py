"""A server that goes away and comes back: the items pane recovers by itself, and the queue
row says what a held job is waiting for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobSpec, JobState, Phase, ServerRef
from cl_desktop.ui import main_window
from cl_desktop.ui.queue_model import HELD_PHASES, STATE, QueueModel
from tests.support.gui import (
    FakePrompts,
    build_app,
    close_app,
    select_library,
    wait_items_loaded,
)
from tests.support.servers.process import SimulatorProcess


def test_a_listing_error_clears_by_itself_when_the_server_is_back(
    qtbot: QtBot, sim_process: SimulatorProcess, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    fake_prompts.login = LoginRequest(sim_process.base_url, "admin", "secret")
    app = build_app(tmp_path, fake_prompts)
    window = app.window
    try:
        app.start()
        qtbot.waitUntil(lambda: window.library_id is not None, timeout=10000)
        wait_items_loaded(qtbot, app)
        assert window.item_model.rowCount() == 0

        sim_process.stop()
        window.refresh()  # F5 once, while the server is down
        qtbot.waitUntil(lambda: "Could not list the items" in window.item_view.placeholder,
                        timeout=30000)  # fmt: skip
        assert "Connection refused" in window.item_view.placeholder
        assert "Trying again in" in window.item_view.placeholder

        sim_process.start()  # same port, same data
        with ContentLibraryClient(sim_process.base_url, "admin", "secret") as client:
            [library] = client.libraries.list()
            client.items.create(library, "made-while-away", type="file")
        # no F5: the background retry lists the items and the error is gone
        qtbot.waitUntil(lambda: window.item_model.row_of_name("made-while-away") >= 0,
                        timeout=60000)  # fmt: skip
        # the rows come page by page before the listing's end clears the error: wait for it
        qtbot.waitUntil(lambda: "Could not" not in window.status_label.text(), timeout=10000)
        assert not window._items_retry.isActive()
    finally:
        close_app(app)


def _held(phase: Phase, note: str, state: JobState = JobState.RUNNING) -> JobSnapshot:
    spec = JobSpec(Direction.UPLOAD, ServerRef("https://vc", "u"), "lib", item_name="iso",
                   paths=("/tmp/big.iso",))  # fmt: skip
    return JobSnapshot(1, spec, state, phase=phase, note=note, bytes_total=100, bytes_done=40)


def test_the_queue_row_says_what_a_held_job_waits_for(qtbot: QtBot) -> None:
    model = QueueModel()
    cases = [
        (_held(Phase.RECONNECTING, "reconnecting, try 2, next in 8 s"),
         "Reconnecting, try 2, next in 8 s"),
        (_held(Phase.STALLED, "under 64 KiB in 30 s, retrying"),
         "Stalled: under 64 KiB in 30 s, retrying"),
        (_held(Phase.RETRYING, ""), "Retrying"),
        (_held(Phase.WAITING_FOR_LOGIN, "waiting for login to u@vc", JobState.QUEUED),
         "Waiting for login to u@vc"),
        (_held(Phase.RECONNECTING, "reconnecting, try 3, next in 16 s", JobState.QUEUED),
         "Reconnecting, try 3, next in 16 s"),
        (_held(Phase.PREPARING, "", JobState.QUEUED), "Queued"),
        (_held(Phase.RECONNECTING, "gave up", JobState.FAILED), "Failed"),
    ]  # fmt: skip
    for snapshot, text in cases:
        model.update_job(snapshot)
        model.flush()
        cell = model.index(0, STATE)
        assert cell.data() == text
        brush = cell.data(Qt.ItemDataRole.ForegroundRole)
        held = not snapshot.state.finished and snapshot.phase in HELD_PHASES
        assert (
            isinstance(brush, QBrush)
            if held or snapshot.state is JobState.FAILED
            else brush is None
        )


def test_background_listing_retries_are_bounded_and_stop_on_navigation_and_close(
    qtbot: QtBot, gui: Application, sim_service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cl_desktop.demo import seed

    window = gui.window
    monkeypatch.setattr(main_window, "ITEMS_RETRY_DELAYS_S", (1, 1))
    failures: list[str] = []
    gui.browser.items_failed.connect(lambda library_id, _error: failures.append(library_id))
    seed(sim_service.base_url, "admin", "secret", sim_service.datastore_id)
    sim_service.faults.fail_next(1000, path="/content/library/item")  # 503 for every listing

    window.refresh()
    # the F5 listing and two background ones fail, then it stops and says F5
    qtbot.waitUntil(lambda: "Press F5 to try again." in window.item_view.placeholder,
                    timeout=30000)  # fmt: skip
    assert len(failures) == 3 and not window._items_retry.isActive()

    window.refresh()
    qtbot.waitUntil(lambda: len(failures) == 4, timeout=10000)
    assert window._items_retry.isActive()
    sim_service.faults.reset()
    select_library(qtbot, gui, "Demo library")  # navigating drops the pending retry
    assert not window._items_retry.isActive() and window.item_model.rowCount() == 3
    assert "Could not" not in window.item_view.placeholder

    sim_service.faults.fail_next(1000, path="/content/library/item")
    window.refresh()
    qtbot.waitUntil(lambda: len(failures) == 5, timeout=10000)
    assert window._items_retry.isActive()
    window.close()  # closing the window ends the retries
    assert not window._items_retry.isActive()
