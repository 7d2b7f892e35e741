"""Quitting while transfers run or wait: pause them and quit, quit when they finish, or stay.

`QuitGuard.may_close()` is asked by the window's closeEvent (the close button, File > Quit).
"Pause and quit" closes at once: the app's shutdown pauses what runs, and it all resumes on
the next start. "Quit when finished" keeps the window open, says so in the status bar (with a
button that takes it back) and closes once no transfer runs or waits. Not asked when the
"confirm quit" preference is off or nothing is transferring; Ctrl+C and SIGTERM `allow()`
the close before they quit, so they never ask.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtWidgets import QLabel, QMessageBox, QPushButton, QStatusBar, QWidget

from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.jobs import JobSnapshot, JobState

from .format import counted

UNFINISHED = (JobState.RUNNING, JobState.QUEUED)


class QuitChoice(Enum):
    PAUSE = "pause"  # pause the transfers (they resume on the next start) and quit
    WAIT = "wait"  # quit once the transfers have finished
    CANCEL = "cancel"  # do not quit


class QuitQuestion(QMessageBox):
    """The question, with Cancel the default (Escape) answer. A class for its texts: lupdate
    takes a count for a plural only in self.tr(), not in QCoreApplication.translate()."""

    def __init__(self, parent: QWidget | None, running: int, queued: int) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle(self.tr("Quit cl_desktop"))
        self.setText(self._question(running, queued))
        self.setInformativeText(
            self.tr(
                "Paused transfers continue the next time cl_desktop starts. "
                "Or keep the window open until they have finished, and quit then."
            )
        )
        self.pause = self.addButton(self.tr("&Pause and quit"), QMessageBox.ButtonRole.AcceptRole)
        self.wait = self.addButton(
            self.tr("Quit when &finished"), QMessageBox.ButtonRole.ActionRole
        )
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(cancel)
        self.setEscapeButton(cancel)

    def _question(self, running: int, queued: int) -> str:
        """'2 transfers running and 1 waiting. Quit anyway?': whole sentences, the count of
        running transfers the plural one (the waiting count, beside it, stays a number)."""
        if running and queued:
            text = self.tr("%n transfer(s) running and {queued} waiting. Quit anyway?", "", running)
            return counted(text, running).format(queued=queued)
        if running:
            return counted(self.tr("%n transfer(s) running. Quit anyway?", "", running), running)
        return self.tr("%n waiting. Quit anyway?", "", queued)


def ask_quit(parent: QWidget | None, running: int, queued: int) -> QuitChoice:
    """Ask the QuitQuestion."""
    box = QuitQuestion(parent, running, queued)
    box.exec()
    clicked = box.clickedButton()
    if clicked is box.pause:
        return QuitChoice.PAUSE
    if clicked is box.wait:
        return QuitChoice.WAIT
    return QuitChoice.CANCEL


class QuitGuard(QObject):
    """Whether the window may close now, asking about unfinished transfers."""

    def __init__(
        self,
        window: QWidget,
        transfers: TransferService,
        ask: Callable[[QWidget | None, int, int], QuitChoice],
        confirm: Callable[[], bool],
        status_bar: QStatusBar,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._transfers = transfers
        self._ask = ask
        self._confirm = confirm  # the "confirm quit" preference
        self._leaving = False
        self.waiting = False  # "Quit when finished" was chosen and not taken back
        self.label = QLabel(self.tr("Quits when the transfers have finished"))
        self.label.setObjectName("quitWhenFinished")
        self.stay_button = QPushButton(self.tr("&Don't quit"))
        self.stay_button.setAccessibleName(self.tr("Don't quit when the transfers have finished"))
        self.stay_button.clicked.connect(self.stay)
        status_bar.addPermanentWidget(self.label)
        status_bar.addPermanentWidget(self.stay_button)
        self.label.hide()
        self.stay_button.hide()
        transfers.job_changed.connect(self._on_job)
        transfers.job_removed.connect(lambda _id: self._on_job(None))

    def unfinished(self) -> list[JobSnapshot]:
        return [job for job in self._transfers.jobs() if job.state in UNFINISHED]

    def may_close(self) -> bool:
        """True: close now (running transfers pause and resume on the next start)."""
        if self._leaving:
            return True
        unfinished = self.unfinished()
        if not unfinished or not self._confirm():
            return True
        running = sum(job.state is JobState.RUNNING for job in unfinished)
        choice = self._ask(self._window, running, len(unfinished) - running)
        if choice is QuitChoice.PAUSE:
            self.allow()
            return True
        if choice is QuitChoice.WAIT:
            if not self.unfinished():  # they finished while the question was open
                self.allow()
                return True
            self._set_waiting(True)
        return False

    def allow(self) -> None:
        """The next close goes ahead without asking (Ctrl+C, SIGTERM: they pause and quit)."""
        self._leaving = True

    def stay(self) -> None:
        """Take "Quit when finished" back."""
        self._set_waiting(False)

    def _set_waiting(self, waiting: bool) -> None:
        self.waiting = waiting
        self.label.setVisible(waiting)
        self.stay_button.setVisible(waiting)

    def _on_job(self, _job: JobSnapshot | None) -> None:
        if self.waiting and not self.unfinished():
            self._set_waiting(False)
            self.allow()
            self._window.close()
            QCoreApplication.quit()  # also with a tray icon that keeps a closed window's app
