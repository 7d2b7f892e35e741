"""Unexpected exceptions: logged with their traceback and shown in one dialog, the app running on.

`CrashReporter.install()` takes `sys.excepthook` (an exception escaping a Qt slot on the GUI
thread, or a QThread's run) and `threading.excepthook` (a Python thread). The hooks may run on
any thread: they log, then hand the details to the GUI thread by a queued signal. While the
dialog is open, further errors are counted in it (and their details appended) instead of
opening a stack of dialogs.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cl_desktop import logs

from .format import counted
from .help_menu import UrlOpener, default_opener, show_log, versions

log = logging.getLogger(__name__)

MAX_APPENDED = 10  # details of later errors kept in the open dialog; the rest only counted


def crash_details(
    exc_type: type[BaseException],
    exc: BaseException | None,
    tb: TracebackType | None,
    thread: str,
) -> str:
    """What a bug report needs, redacted: versions, platform, thread, time, the traceback.
    Not translated (nor the appended errors' separators): the maintainers read it."""
    lines = [
        *versions(),
        f"Thread: {thread}",
        f"Time: {datetime.now().astimezone().isoformat(timespec='seconds')}",
        "",
        "".join(traceback.format_exception(exc_type, exc, tb)).rstrip(),
    ]
    return logs.redact("\n".join(lines))


class CrashDialog(QDialog):
    """The error in words, its copyable details, Copy details / Show log / Close. Not modal."""

    def __init__(
        self,
        summary: str,
        details: str,
        log_file: Path | None,
        open_url: UrlOpener,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle(self.tr("Unexpected error"))
        self.more = 0
        self._appended = 0
        self._log_file = log_file
        self._open_url = open_url
        intro = QLabel(
            self.tr(
                "cl_desktop ran into an error it did not expect (a bug). It keeps running, but "
                "what you were doing may not have finished. Please report the details below."
            ),
            self,
        )
        intro.setWordWrap(True)
        self.summary = QLabel(logs.redact(summary), self)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.more_label = QLabel(self)
        self.more_label.setVisible(False)
        self.details = QPlainTextEdit(details, self)
        self.details.setObjectName("crashDetails")
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        buttons = QDialogButtonBox(self)
        self.copy_button = QPushButton(self.tr("&Copy details"), self)
        self.log_button = QPushButton(self.tr("Show &log"), self)
        self.log_button.setEnabled(log_file is not None)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.log_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        self.copy_button.clicked.connect(self.copy_details)
        self.log_button.clicked.connect(self.show_log)
        layout = QVBoxLayout(self)
        for widget in (intro, self.summary, self.more_label, self.details, buttons):
            layout.addWidget(widget)
        self.resize(760, 480)

    def add_another(self, summary: str, details: str) -> None:
        """One more error while this dialog is open: counted, its details appended."""
        self.more += 1
        text = self.tr(
            "%n more unexpected error(s) since "
            "(their details follow the first's; all are in the log).",
            "",
            self.more,
        )
        self.more_label.setText(counted(text, self.more))
        self.more_label.setVisible(True)
        if self._appended < MAX_APPENDED:
            self._appended += 1
            self.details.appendPlainText(f"\n--- another error: {logs.redact(summary)}\n{details}")

    def copy_details(self) -> None:
        QApplication.clipboard().setText(self.details.toPlainText())

    def show_log(self) -> None:
        problem = show_log(self._log_file, self._open_url)
        if problem:
            self.more_label.setText(problem)
            self.more_label.setVisible(True)


class CrashReporter(QObject):
    """Takes the process's exception hooks; lives on the GUI thread."""

    # summary, details: from whichever thread failed to the GUI thread (queued)
    crashed = Signal(str, str)

    def __init__(
        self,
        log_file: Path | None = None,
        open_url: UrlOpener = default_opener,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.open_url = open_url
        self.dialog: CrashDialog | None = None
        self.reported = 0
        self._previous: tuple[Any, Any] | None = None
        self.crashed.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        if self._previous is None:
            self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.excepthook
        threading.excepthook = self.thread_excepthook

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    def excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        self.report(exc_type, exc, tb, threading.current_thread().name)

    def thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if issubclass(args.exc_type, SystemExit):
            return  # a thread that asked to end
        name = args.thread.name if args.thread is not None else "a thread"
        self.report(args.exc_type, args.exc_value, args.exc_traceback, name)

    def report(
        self,
        exc_type: type[BaseException],
        exc: BaseException | None,
        tb: TracebackType | None,
        thread: str,
    ) -> None:
        """Log the exception with its traceback; the dialog follows on the GUI thread."""
        self.reported += 1
        # a log message, not translated; log.log since the translation check, going by names,
        # would take log.critical for QMessageBox.critical
        exc_info = (exc_type, exc, tb)
        log.log(logging.CRITICAL, "unexpected error in %s", thread, exc_info=exc_info)  # type: ignore[arg-type]
        summary = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
        try:
            self.crashed.emit(summary, crash_details(exc_type, exc, tb, thread))
        except RuntimeError:  # the reporter is gone (shutting down): the log has it
            pass

    def _show(self, summary: str, details: str) -> None:
        try:
            self._show_dialog(summary, details)
        except Exception:  # never through the hook again: that would loop
            log.exception("the crash dialog could not be shown")

    def _show_dialog(self, summary: str, details: str) -> None:
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.add_another(summary, details)
            return
        # a closed dialog is kept until the next error replaces it (then deleted)
        self.dialog = CrashDialog(summary, details, self.log_file, self.open_url)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
