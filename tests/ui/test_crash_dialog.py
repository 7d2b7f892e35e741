"""An unexpected exception, in a slot or in a thread: logged with its traceback, shown in one
dialog with copyable details (version, Python, Qt, platform, traceback), the app running on."""

from __future__ import annotations

import logging
import platform
import threading
from collections.abc import Iterator
from pathlib import Path

import PySide6
import pytest
from PySide6.QtCore import QTimer, QUrl, qVersion
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

import cl_desktop
from cl_desktop import logs
from cl_desktop.services import QThreadSpawner
from cl_desktop.ui.crash_dialog import CrashDialog, CrashReporter

# pytest-qt's own capture would take sys.excepthook from the reporter
pytestmark = pytest.mark.qt_no_exception_capture


@pytest.fixture
def opened() -> list[QUrl]:
    return []


@pytest.fixture
def reporter(qtbot: QtBot, tmp_path: Path, opened: list[QUrl]) -> Iterator[CrashReporter]:
    log_file = tmp_path / "cl-desktop.log"
    log_file.write_text("")
    crashes = CrashReporter(log_file, open_url=lambda url: opened.append(url) is None)
    crashes.install()
    try:
        yield crashes
    finally:
        crashes.uninstall()
        if crashes.dialog is not None:
            crashes.dialog.close()


def crash_dialogs() -> list[CrashDialog]:
    shown = QApplication.topLevelWidgets()
    return [w for w in shown if isinstance(w, CrashDialog) and w.isVisible()]


def raise_in_a_slot(message: str) -> None:
    def slot() -> None:
        raise ValueError(message)

    QTimer.singleShot(0, slot)


def raise_in_a_thread(message: str) -> None:
    def work() -> None:
        raise RuntimeError(message)

    thread = threading.Thread(target=work, name="injected-worker")
    thread.start()
    thread.join()


def still_responsive(qtbot: QtBot) -> None:
    fired: list[bool] = []
    QTimer.singleShot(0, lambda: fired.append(True))
    qtbot.waitUntil(lambda: bool(fired), timeout=5000)


def test_an_exception_in_a_slot_is_logged_and_shown_with_copyable_details(
    qtbot: QtBot,
    reporter: CrashReporter,
    opened: list[QUrl],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.CRITICAL, "cl_desktop")
    raise_in_a_slot("injected in a slot")
    qtbot.waitUntil(lambda: len(crash_dialogs()) == 1, timeout=5000)
    [dialog] = crash_dialogs()
    details = dialog.details.toPlainText()
    assert f"cl_desktop {cl_desktop.__version__}" in details
    assert f"Python {platform.python_version()}" in details
    assert f"Qt {qVersion()}, PySide6 {PySide6.__version__}" in details
    assert f"Platform: {platform.platform()}" in details
    assert "Thread: MainThread" in details
    assert "Traceback (most recent call last)" in details and ", in slot\n" in details
    assert details.rstrip().endswith("ValueError: injected in a slot")
    assert dialog.summary.text() == "ValueError: injected in a slot"
    [record] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert record.exc_info is not None and str(record.exc_info[1]) == "injected in a slot"

    dialog.copy_button.click()
    assert QApplication.clipboard().text() == details
    dialog.log_button.click()
    assert opened == [QUrl.fromLocalFile(str(reporter.log_file))]
    still_responsive(qtbot)
    assert dialog.isVisible()  # nothing closed it; Close does
    dialog.close()
    assert crash_dialogs() == []


def test_an_exception_in_a_thread_is_shown_on_the_gui_thread(
    qtbot: QtBot, reporter: CrashReporter
) -> None:
    raise_in_a_thread("injected in a thread")
    qtbot.waitUntil(lambda: len(crash_dialogs()) == 1, timeout=5000)
    [dialog] = crash_dialogs()
    assert dialog.thread() is QApplication.instance().thread()  # type: ignore[union-attr]
    details = dialog.details.toPlainText()
    assert "Thread: injected-worker" in details
    assert "RuntimeError: injected in a thread" in details
    still_responsive(qtbot)


def test_a_bug_in_a_transfer_worker_thread_is_shown_too(
    qtbot: QtBot, reporter: CrashReporter
) -> None:
    spawner = QThreadSpawner()

    def work() -> None:
        raise KeyError("injected in a worker")

    spawner(work, "job-7")
    qtbot.waitUntil(lambda: len(crash_dialogs()) == 1, timeout=5000)
    details = crash_dialogs()[0].details.toPlainText()
    assert "KeyError: 'injected in a worker'" in details
    spawner.wait(5000)
    still_responsive(qtbot)


def test_several_errors_at_once_make_one_dialog_that_counts_the_rest(
    qtbot: QtBot, reporter: CrashReporter
) -> None:
    raise_in_a_slot("first")
    raise_in_a_thread("second")
    raise_in_a_slot("third")
    qtbot.waitUntil(lambda: reporter.reported == 3 and reporter.dialog is not None, timeout=5000)
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.more == 2, timeout=5000)
    assert len(crash_dialogs()) == 1
    dialog = crash_dialogs()[0]
    assert dialog.more_label.text().startswith("2 more unexpected errors since")
    details = dialog.details.toPlainText()
    assert all(f"Error: {m}" in details for m in ("first", "second", "third"))
    # once closed, the next error opens a dialog again
    dialog.close()
    raise_in_a_slot("fourth")
    qtbot.waitUntil(lambda: len(crash_dialogs()) == 1, timeout=5000)
    assert "ValueError: fourth" in crash_dialogs()[0].details.toPlainText()


def test_a_secret_in_the_error_is_masked_in_the_dialog(
    qtbot: QtBot, reporter: CrashReporter
) -> None:
    token = "5e55104da7a0c0ffee01"
    logs.add_secret(token)
    raise_in_a_slot(f"the server refused {token}")
    qtbot.waitUntil(lambda: len(crash_dialogs()) == 1, timeout=5000)
    [dialog] = crash_dialogs()
    assert token not in dialog.details.toPlainText() + dialog.summary.text()
    assert "the server refused ***" in dialog.details.toPlainText()


def test_uninstall_gives_the_hooks_back() -> None:
    import sys

    before = (sys.excepthook, threading.excepthook)
    crashes = CrashReporter()
    crashes.install()
    assert sys.excepthook == crashes.excepthook
    crashes.uninstall()
    assert (sys.excepthook, threading.excepthook) == before
