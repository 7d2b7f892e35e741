"""Settings, the quit prompt and the replace confirmation, as a user meets them.

The Settings dialog changes the running queue (parallel transfers, the bandwidth limit of
running jobs), the session monitor and the log level at once, and saves the preferences file
cl-transfer reads. Closing with transfers running asks: pause and quit (they resume on the next
start), quit when finished, or cancel. Uploading into an item whose files have the same names
says which files are replaced first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from cl_desktop import preferences
from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.preferences import Preferences
from cl_desktop.transfers.jobs import JobSnapshot, JobState
from cl_desktop.ui.import_dialog import ImportRequest
from cl_desktop.ui.quit_prompt import QuitChoice
from cl_desktop.ui.settings_dialog import SettingsDialog
from tests.support.api import active_sessions
from tests.support.files import make_file
from tests.support.gui import (
    FakePrompts,
    close_app,
    create_listed_item,
    drop_files,
    item_row_point,
    jobs,
    select_item,
    start_logged_in,
    wait_jobs,
)
from tests.support.sources import serve_folder

BIG = 24 * 1024 * 1024  # socket buffers swallow ~5 MiB at once; at 1 MiB/s the rest runs on
THROTTLE = 1024 * 1024


@pytest.fixture
def cl_logger_level() -> Iterator[None]:
    """The "cl_desktop" logger's level, put back (the dialog sets it live)."""
    logger = logging.getLogger("cl_desktop")
    level = logger.level
    yield
    logger.setLevel(level)


def running_upload(
    qtbot: QtBot, app: Application, client: ContentLibraryClient, sim: Any, tmp_path: Path,
    name: str,
) -> JobSnapshot:  # fmt: skip
    """A throttled upload into a new item `name`, under way."""
    create_listed_item(qtbot, app, client, sim.default_library_id, name)
    payload = make_file(tmp_path / f"{name}.bin", BIG)
    sim.faults.throttle(THROTTLE)
    count = len(jobs(app))
    assert drop_files(app.window.item_view, [payload], item_row_point(app, name))
    qtbot.waitUntil(lambda: len(jobs(app)) == count + 1, timeout=10000)
    return jobs(app)[-1]


def open_settings(qtbot: QtBot, app: Application) -> SettingsDialog:
    app.window.settings_action.trigger()
    dialog = app.window.settings_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    return dialog


def press_ok(dialog: SettingsDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_the_settings_dialog_applies_parallel_transfers_and_the_limit_to_running_jobs(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
    cl_logger_level: None,
) -> None:
    window, queue = gui.window, gui.queue
    assert window.settings_action.shortcuts()  # reachable from the keyboard
    dialog = open_settings(qtbot, gui)
    assert dialog.parallel.value() == 2 and dialog.limit.value() == 0.0  # the defaults
    assert dialog.limit.text() == "No limit"
    for widget in (dialog.parallel, dialog.limit, dialog.keep_alive, dialog.download_folder,
                   dialog.sessions_refresh, dialog.log_level, dialog.confirm_quit):  # fmt: skip
        assert widget.accessibleName()
    dialog.parallel.setValue(1)
    press_ok(dialog)
    qtbot.waitUntil(lambda: queue.max_parallel == 1, timeout=5000)
    assert window.settings_dialog is None

    first = running_upload(qtbot, gui, sim_api_client, sim_service, tmp_path, "one")
    second = running_upload(qtbot, gui, sim_api_client, sim_service, tmp_path, "two")
    qtbot.waitUntil(lambda: gui.transfers.job(first.id).state is JobState.RUNNING, timeout=10000)
    assert gui.transfers.job(second.id).state is JobState.QUEUED  # one at a time
    assert queue._running[first.id].control.bandwidth_limit() is None

    dialog = open_settings(qtbot, gui)
    assert dialog.parallel.value() == 1
    dialog.parallel.setValue(2)
    dialog.limit.setValue(4.0)  # MB/s, shared by the running jobs
    dialog.sessions_refresh.setValue(25)
    dialog.log_level.setCurrentIndex(dialog.log_level.findData("DEBUG"))
    press_ok(dialog)
    # at once: the waiting job starts, and each running job's limiter has its share
    qtbot.waitUntil(lambda: gui.transfers.job(second.id).state is JobState.RUNNING, timeout=10000)
    assert queue.max_parallel == 2 and queue.bandwidth_limit == 4_000_000
    limits = {queue._running[job.id].control.bandwidth_limit() for job in (first, second)}
    assert limits == {2_000_000}
    assert gui.sessions.interval_ms == 25_000
    assert logging.getLogger("cl_desktop").level == logging.DEBUG
    saved = preferences.load(tmp_path / "app-data" / "preferences.ini")
    assert saved == Preferences(
        parallel_transfers=2, bandwidth_limit=4.0, sessions_refresh_seconds=25.0, log_level="DEBUG"
    )
    assert window.status_label.text() == "Settings saved and applied."

    # Cancel changes nothing; Restore Defaults only fills the dialog in
    dialog = open_settings(qtbot, gui)
    dialog.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).click()
    assert dialog.preferences() == Preferences()
    dialog.reject()
    assert gui.preferences.current == saved and queue.max_parallel == 2


def test_quit_cancel_stays_and_quit_when_finished_waits_for_the_last_transfer(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    window = gui.window
    job = running_upload(qtbot, gui, sim_api_client, sim_service, tmp_path, "slow")
    qtbot.waitUntil(lambda: gui.transfers.job(job.id).state is JobState.RUNNING, timeout=10000)

    fake_prompts.quit_answer = QuitChoice.CANCEL
    window.close()
    assert fake_prompts.quit_questions == [(1, 0)]  # one running, none waiting
    assert window.isVisible() and not window.quit_guard.waiting
    assert gui.transfers.job(job.id).state is JobState.RUNNING

    fake_prompts.quit_answer = QuitChoice.WAIT
    window.close()
    assert window.isVisible() and window.quit_guard.waiting
    assert window.quit_guard.label.isVisibleTo(window)
    window.quit_guard.stay_button.click()  # taken back
    assert not window.quit_guard.waiting and not window.quit_guard.label.isVisibleTo(window)

    window.close()  # "quit when finished" again
    assert len(fake_prompts.quit_questions) == 3 and window.quit_guard.waiting
    assert gui.transfers.job(job.id).state is JobState.RUNNING and window.isVisible()
    sim_service.faults.throttle(None)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30000)  # quits once it is done
    assert gui.transfers.job(job.id).state is JobState.DONE
    assert len(fake_prompts.quit_questions) == 3  # that close did not ask


def test_quit_when_finished_chosen_after_the_last_transfer_ended_quits_at_once(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    """The question is modal, but the queue goes on: the transfer may end while it is open
    (seen in the demo: the window then waited for ever)."""
    window = gui.window
    job = running_upload(qtbot, gui, sim_api_client, sim_service, tmp_path, "ends")
    qtbot.waitUntil(lambda: gui.transfers.job(job.id).state is JobState.RUNNING, timeout=10000)

    def answer_late(_parent: Any, running: int, queued: int) -> QuitChoice:
        sim_service.faults.throttle(None)  # the user reads the question; the upload ends
        qtbot.waitUntil(lambda: gui.transfers.job(job.id).state is JobState.DONE, timeout=30000)
        return QuitChoice.WAIT

    window.quit_guard._ask = answer_late
    window.close()
    assert not window.isVisible() and not window.quit_guard.waiting


def test_no_question_when_nothing_transfers_the_preference_is_off_or_on_a_signal(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    window = gui.window
    window.close()  # nothing runs
    assert not window.isVisible() and fake_prompts.quit_questions == []
    window.show()
    job = running_upload(qtbot, gui, sim_api_client, sim_service, tmp_path, "quiet")
    qtbot.waitUntil(lambda: gui.transfers.job(job.id).state is JobState.RUNNING, timeout=10000)
    window.quit_guard.allow()  # what Ctrl+C and SIGTERM do before they quit
    window.close()
    assert not window.isVisible() and fake_prompts.quit_questions == []
    window.quit_guard._leaving = False  # the window again, as after a fresh start
    window.show()
    gui.preferences.apply(Preferences(confirm_quit=False))
    window.close()
    assert not window.isVisible() and fake_prompts.quit_questions == []
    assert gui.transfers.job(job.id).state is JobState.RUNNING  # the app's shutdown pauses it


def test_pause_and_quit_pauses_the_transfer_which_resumes_on_the_next_start(
    qtbot: QtBot,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    url = sim_service.base_url
    app = start_logged_in(qtbot, tmp_path, fake_prompts, url, "admin", "secret")
    try:
        job = running_upload(qtbot, app, sim_api_client, sim_service, tmp_path, "later")
        qtbot.waitUntil(lambda: (app.transfers.job(job.id) or job).bytes_done > 0, timeout=10000)
        fake_prompts.quit_answer = QuitChoice.PAUSE
        app.window.close()
        assert fake_prompts.quit_questions == [(1, 0)] and not app.window.isVisible()
    finally:
        close_app(app)  # what the program does once the window closed: pause, log out
    paused = app.queue.snapshot(job.id)
    assert paused.state is JobState.QUEUED  # runs again on the next start
    assert paused.item_id and active_sessions(sim_api_client) == []  # item kept, session ended
    sim_service.faults.throttle(None)

    fake_prompts.quit_answer = QuitChoice.CANCEL
    again = start_logged_in(qtbot, tmp_path, fake_prompts, url, "admin", "secret")
    try:
        [done] = wait_jobs(qtbot, again, 1, JobState.DONE, timeout=30000)
        assert done.id == job.id and done.item_id == paused.item_id
        [info] = sim_api_client.item_files.list(paused.item_id)
        assert info.size == BIG
    finally:
        close_app(again)


def test_replacing_files_of_an_item_names_them_first_and_no_uploads_nothing(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    item_id = create_listed_item(
        qtbot, gui, sim_api_client, sim_service.default_library_id, "target"
    )
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    first = make_file(tmp_path / "v1" / "a.bin", 1000, seed=1)
    assert drop_files(gui.window.item_view, [first], item_row_point(gui, "target"))
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert fake_prompts.replace_confirmations == []  # nothing replaced: not asked

    # a new a.bin and a b.bin: "no" queues nothing, and the item keeps its a.bin
    second = make_file(tmp_path / "v2" / "a.bin", 2000, seed=2)
    other = make_file(tmp_path / "v2" / "b.bin", 3000, seed=3)
    fake_prompts.replace_answer = False
    assert drop_files(gui.window.item_view, [second, other], item_row_point(gui, "target"))
    qtbot.waitUntil(lambda: bool(fake_prompts.replace_confirmations), timeout=10000)
    assert fake_prompts.replace_confirmations == [
        ("Replace 1 file of \u201ctarget\u201d and add 1?", ["replaced: a.bin", "added: b.bin"])
    ]
    assert len(jobs(gui)) == 1 and "no file was replaced" in gui.window.status_label.text()
    assert {(f.name, f.size) for f in sim_api_client.item_files.list(item_id)} == {("a.bin", 1000)}

    # the menu's Upload into item... asks the same; "yes" replaces it
    fake_prompts.replace_answer = True
    fake_prompts.open_files = [str(second)]
    select_item(qtbot, gui, "target")
    gui.window.upload_action.trigger()
    qtbot.waitUntil(lambda: len(fake_prompts.replace_confirmations) == 2, timeout=10000)
    assert fake_prompts.replace_confirmations[1] == (
        "Replace 1 file of \u201ctarget\u201d?",
        ["replaced: a.bin"],
    )
    qtbot.waitUntil(lambda: len(jobs(gui)) == 2, timeout=10000)
    wait_jobs(qtbot, gui, 2, JobState.DONE)
    assert {(f.name, f.size) for f in sim_api_client.item_files.list(item_id)} == {("a.bin", 2000)}

    # with the confirmation turned off, it is not asked
    gui.preferences.apply(Preferences(confirm_replace=False))
    assert drop_files(gui.window.item_view, [first], item_row_point(gui, "target"))
    qtbot.waitUntil(lambda: len(jobs(gui)) == 3, timeout=10000)
    wait_jobs(qtbot, gui, 3, JobState.DONE)
    assert len(fake_prompts.replace_confirmations) == 2
    assert {(f.name, f.size) for f in sim_api_client.item_files.list(item_id)} == {("a.bin", 1000)}


def test_the_download_folder_and_the_new_items_question_follow_the_preferences(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    window = gui.window
    preferred = tmp_path / "preferred"
    preferred.mkdir()
    gui.preferences.apply(Preferences(download_folder=str(preferred), confirm_new_items=False))
    assert window.server is not None and window.library_id is not None
    window.drop_on_library(
        window.server, window.library_id, [str(make_file(tmp_path / "new.bin", 1000))]
    )
    [added] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert fake_prompts.confirmations == []  # the new item was not asked about
    name = added.spec.item_name
    qtbot.waitUntil(lambda: window.item_model.row_of_name(name) >= 0, timeout=10000)
    select_item(qtbot, gui, name)
    window.download_action.trigger()  # not asked where: the preferred folder
    [_, download] = wait_jobs(qtbot, gui, 2, JobState.DONE)
    assert download.spec.dest_dir == str(preferred) != fake_prompts.directory
    assert (preferred / "new.bin").read_bytes() == (tmp_path / "new.bin").read_bytes()


def test_an_import_into_an_item_asks_before_it_replaces_a_file_of_that_name(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    www = tmp_path / "www"
    www.mkdir()
    make_file(www / "notes.txt", 20_000)
    item_id = create_listed_item(
        qtbot, gui, sim_api_client, sim_service.default_library_id, "notes"
    )
    select_item(qtbot, gui, "notes")
    with serve_folder(www) as base:
        fake_prompts.import_answer = ImportRequest(base + "notes.txt", into_item=True)
        gui.window.import_url_action.trigger()  # the item is empty: nothing to replace
        wait_jobs(qtbot, gui, 1, JobState.DONE)
        assert fake_prompts.replace_confirmations == []
        fake_prompts.replace_answer = False
        gui.window.import_url_action.trigger()
        qtbot.waitUntil(lambda: bool(fake_prompts.replace_confirmations), timeout=10000)
    question = "Replace notes.txt of \u201cnotes\u201d with the file at the URL?"
    assert fake_prompts.replace_confirmations == [(question, ["replaced: notes.txt"])]
    assert len(jobs(gui)) == 1 and "no file was replaced" in gui.window.status_label.text()
    assert [f.name for f in sim_api_client.item_files.list(item_id)] == ["notes.txt"]
