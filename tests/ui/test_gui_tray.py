"""The tray icon without a real tray: what it shows for the queue's progress, which ended
transfers it announces, and where a click on an announcement leads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.transfers.jobs import JobState
from cl_desktop.ui.transfers_dock import Totals
from cl_desktop.ui.tray import TrayIcon, tooltip_for
from tests.support.files import make_file
from tests.support.gui import (
    IGNORED_QT_MESSAGES,
    create_listed_item,
    drop_files,
    item_row_point,
    jobs,
    wait_jobs,
)


def make_tray(app: Application, active: bool = False) -> TrayIcon:
    window = app.window
    tray = TrayIcon(window, window.dock, app.transfers, window.quit_action, show=False)
    tray.window_active = lambda: active
    return tray


def test_tooltip_and_icon_follow_the_totals(gui: Application) -> None:
    tray = make_tray(gui)
    assert tray.icon.toolTip().endswith("no transfers") and tray.percent is None
    totals = Totals(running=1, waiting=1, done=45, total=100, speed=12_000_000)
    tray.show_totals(totals)
    name = QApplication.applicationDisplayName()
    assert tray.icon.toolTip() == f"{name}: 2 transfers, 45%, 12.0 MB/s"
    assert tray.percent == 45 and not tray.icon.icon().isNull()
    assert tooltip_for(Totals(running=1, done=0, total=10), "x") == "x: 1 transfer, 0%"
    tray.show_totals(Totals())
    assert tray.percent is None
    # the menu: show, pause all, resume all, quit (the window's own, with its prompt)
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == ["&Show window", "&Pause all", "&Resume all", "&Quit"]


# the offscreen platform cannot raise a window; it says so, harmlessly
@pytest.mark.qt_log_ignore(*IGNORED_QT_MESSAGES, "This plugin does not support raise")
def test_a_finished_transfer_is_announced_and_a_click_shows_it(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    tray = make_tray(gui)
    window = gui.window
    create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "target")
    payload = make_file(tmp_path / "payload.bin", 64 * 1024)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert drop_files(window.item_view, [payload], item_row_point(gui, "target"))
    [done] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    qtbot.waitUntil(lambda: len(tray.notifications) == 1, timeout=5000)
    [note] = tray.notifications
    assert note.title == "Upload finished: target" and note.job_id == done.id
    assert not note.failed and "payload.bin" in note.message

    assert drop_files(window.item_view, [empty], item_row_point(gui, "target"))
    qtbot.waitUntil(lambda: len(tray.notifications) == 2, timeout=20000)
    failed = tray.notifications[-1]
    assert failed.failed and failed.title == "Upload failed: target"
    assert "0 bytes" in failed.message
    [failed_job] = [j for j in jobs(gui) if j.state is JobState.FAILED]
    assert failed.job_id == failed_job.id

    # a click on the notification: the window, with the job it was about selected
    window.dock.queue_view.clearSelection()
    window.dock.tabs.setCurrentIndex(1)
    tray.icon.messageClicked.emit()
    assert window.isVisible()
    assert window.dock.tabs.currentIndex() == 0
    assert [j.id for j in window.dock.selected_jobs()] == [failed_job.id]
    # the tray itself, after the job was dealt with: just the window
    window.dock.queue_view.clearSelection()
    tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert window.dock.selected_jobs() == []


def test_nothing_is_announced_while_the_window_is_active(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    tray = make_tray(gui, active=True)
    create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "target")
    payload = make_file(tmp_path / "payload.bin", 64 * 1024)
    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, "target"))
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert tray.notifications == []


def test_pause_all_and_resume_all(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    tray = make_tray(gui)
    create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "target")
    sim_service.faults.throttle(256 * 1024)
    payload = make_file(tmp_path / "big.bin", 8 * 1024 * 1024)
    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, "target"))
    qtbot.waitUntil(lambda: [j.state for j in jobs(gui)] == [JobState.RUNNING], timeout=10000)
    qtbot.waitUntil(tray.pause_all_action.isEnabled, timeout=5000)
    tray.pause_all_action.trigger()
    wait_jobs(qtbot, gui, 1, JobState.PAUSED)
    qtbot.waitUntil(tray.resume_all_action.isEnabled, timeout=5000)
    sim_service.faults.throttle(None)
    tray.resume_all_action.trigger()
    wait_jobs(qtbot, gui, 1, JobState.DONE)
