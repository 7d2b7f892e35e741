"""TransfersDock: the live transfer queue and the finished-transfer history, as a dock."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QMenu,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobState

from . import format as fmt
from .actions import add_actions, make_action
from .delegates import ProgressDelegate
from .dialogs import Prompts
from .queue_model import (
    DIRECTION,
    ETA,
    FILE,
    ITEM,
    PROGRESS,
    SERVER,
    SIZE,
    SPEED,
    STATE,
    VERIFICATION,
    HistoryModel,
    QueueModel,
    error_text,
)
from .views import setup_table

# "_2": the Server column (after Direction) made the saved column layout of earlier versions
# misfit; it is dropped, not applied to the wrong columns.
# "_3": the columns were made narrower so that Error is on screen in a 1024 px window; a
# layout saved before (Error off to the right) is dropped once.
K_QUEUE_HEADER = "views/queue_header_3"
K_HISTORY_HEADER = "views/history_header"
K_EXPORT_DIR = "paths/export_dir"

# The queue's column widths in average characters of the view's font (so they scale with
# it): together they leave room for Error, the last column, which takes the rest, in a
# 1024 px wide window. Long values are cut with "..." and whole in their tooltips.
QUEUE_WIDTHS = {
    DIRECTION: 16,
    SERVER: 16,
    ITEM: 15,
    FILE: 20,
    SIZE: 11,  # "100.7 MB"
    PROGRESS: 12,
    SPEED: 13,  # "200.0 kB/s"
    ETA: 13,  # "3 min 05 s"
    STATE: 17,
    VERIFICATION: 15,  # its title, in the header's bold font
}

# Which job states each queue command applies to (the queue asks JobState the same).
QUEUE_COMMANDS: dict[str, Callable[[JobState], bool]] = {
    "cancel": JobState.can_cancel,
    "pause": JobState.can_pause,
    "resume": JobState.can_resume,
    "retry": JobState.can_retry,
    "remove": JobState.can_remove,
}


@dataclass(frozen=True)
class Totals:
    """Overall progress of the unfinished jobs."""

    running: int = 0
    waiting: int = 0
    done: int = 0
    total: int = 0
    speed: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.running or self.waiting)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def text(self) -> str:
        translate = QCoreApplication.translate
        parts = [translate("TransfersDock", "%n running", "", self.running)]
        if self.waiting:
            parts.append(translate("TransfersDock", "%n waiting", "", self.waiting))
        if self.speed > 0:
            parts.append(fmt.speed(self.speed))
        return ", ".join(parts)


class TransfersDock(QDockWidget):
    """Queue and History tabs with their actions.

    Signals:
        totals_changed(Totals): after each repaint of the queue.
        message(str, bool): a status message (and whether it is an error).
    """

    totals_changed = Signal(object)
    message = Signal(str, bool)

    def __init__(
        self,
        transfers: TransferService,
        settings: QSettings,
        prompts: Prompts,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Transfers"))
        self.setObjectName("transfersDock")
        self.transfers = transfers
        self.settings = settings
        self.prompts = prompts
        self._build_actions()
        self._build_queue()
        self._build_history()
        tabs = self.tabs = QTabWidget()
        tabs.addTab(self._queue_page, self.tr("&Queue"))
        tabs.addTab(self._history_page, self.tr("&History"))
        self.setWidget(tabs)
        transfers.job_changed.connect(self.queue_model.update_job)
        transfers.job_removed.connect(self.queue_model.remove_job)
        transfers.history_loaded.connect(self.history_model.set_records)
        self.update_actions()

    def _build_actions(self) -> None:

        def command(name: str) -> Callable[[], None]:
            return lambda: self.queue_command(name)

        self.cancel_action = make_action(
            self,
            self.tr("&Cancel"),
            command("cancel"),
            shortcut="Del",
            icon="cancel",
            tip=self.tr("Cancel the selected transfers"),
        )
        self.pause_action = make_action(
            self,
            self.tr("&Pause"),
            command("pause"),
            icon="pause",
            tip=self.tr("Pause the selected transfers"),
        )
        self.resume_action = make_action(
            self,
            self.tr("Res&ume"),
            command("resume"),
            icon="resume",
            tip=self.tr("Resume the selected transfers"),
        )
        self.retry_action = make_action(
            self,
            self.tr("&Retry"),
            command("retry"),
            shortcut="Ctrl+R",
            icon="retry",
            tip=self.tr("Run the selected failed or canceled transfers again"),
        )
        self.remove_action = make_action(
            self,
            self.tr("Re&move"),
            command("remove"),
            shortcut="Shift+Del",
            icon="remove",
            tip=self.tr("Remove the selected finished transfers from the queue"),
        )
        self.open_folder_action = make_action(
            self,
            self.tr("&Open containing folder"),
            self.open_containing_folder,
            icon="open-folder",
            tip=self.tr("Show the local files of the selected transfer"),
        )
        self.copy_error_action = make_action(
            self,
            self.tr("Copy &error"),
            self.copy_error,
            icon="copy",
            tip=self.tr("Copy the error text"),
        )
        self.clear_done_action = make_action(
            self,
            self.tr("Clear &completed"),
            self.clear_completed,
            icon="clear-completed",
            tip=self.tr("Remove the completed transfers from the queue (they stay in the history)"),
        )
        self.export_csv_action = make_action(
            self,
            self.tr("Export history as &CSV..."),
            lambda: self.export_history("csv"),
            icon="export",
        )
        self.export_json_action = make_action(
            self,
            self.tr("Export history as &JSON..."),
            lambda: self.export_history("json"),
            icon="export",
        )
        self.command_actions = {
            "cancel": self.cancel_action,
            "pause": self.pause_action,
            "resume": self.resume_action,
            "retry": self.retry_action,
            "remove": self.remove_action,
        }
        self.queue_actions: list[QAction | None] = [
            *self.command_actions.values(),
            None,
            self.open_folder_action,
            self.copy_error_action,
            self.clear_done_action,
        ]

    def _build_queue(self) -> None:
        self.queue_model = QueueModel(self)
        self.queue_model.refreshed.connect(self._on_refreshed)
        view = self.queue_view = QTableView()
        view.setObjectName("queueView")
        view.setModel(self.queue_model)
        view.setItemDelegateForColumn(PROGRESS, ProgressDelegate(view))
        char = view.fontMetrics().averageCharWidth()
        setup_table(view, {column: chars * char for column, chars in QUEUE_WIDTHS.items()})
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # cut in the middle: a narrow File column still shows "(+1)", Server the host
        view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._queue_menu)
        view.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        view.doubleClicked.connect(lambda _: self.open_containing_folder())
        for action in self.command_actions.values():
            # The queue's shortcuts (Del, ...) act only while the queue has the focus.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            view.addAction(action)
        bar = QToolBar()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        add_actions(bar, self.queue_actions)
        page = self._queue_page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(view)

    def _build_history(self) -> None:
        self.history_model = HistoryModel(self)
        view = self.history_view = QTableView()
        view.setObjectName("historyView")
        view.setModel(self.history_model)
        setup_table(view, {0: 140, 2: 170, 3: 200, 8: 200})
        bar = QToolBar()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        add_actions(bar, [self.export_csv_action, self.export_json_action])
        page = self._history_page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(view)

    # --- state -----------------------------------------------------------------------------

    def restore_state(self) -> None:
        for key, header in (
            (K_QUEUE_HEADER, self.queue_view.horizontalHeader()),
            (K_HISTORY_HEADER, self.history_view.horizontalHeader()),
        ):
            value = self.settings.value(key)
            if isinstance(value, QByteArray) and not value.isEmpty():
                header.restoreState(value)

    def save_state(self) -> None:
        self.settings.setValue(K_QUEUE_HEADER, self.queue_view.horizontalHeader().saveState())
        self.settings.setValue(K_HISTORY_HEADER, self.history_view.horizontalHeader().saveState())

    # --- commands --------------------------------------------------------------------------

    def show_queue(self) -> None:
        self.show()
        self.tabs.setCurrentIndex(0)

    def selected_jobs(self) -> list[JobSnapshot]:
        rows = sorted({index.row() for index in self.queue_view.selectionModel().selectedRows()})
        return [self.queue_model.snapshot(row) for row in rows]

    def queue_command(self, name: str) -> None:
        """Apply a queue command ("cancel", "pause", ...) to the selected jobs it fits."""
        applies = QUEUE_COMMANDS[name]
        command: Callable[[int], None] = getattr(self.transfers, name)
        for job in self.selected_jobs():
            if applies(job.state):
                command(job.id)

    def update_actions(self) -> None:
        jobs = self.selected_jobs()
        for name, action in self.command_actions.items():
            action.setEnabled(any(QUEUE_COMMANDS[name](job.state) for job in jobs))
        self.open_folder_action.setEnabled(len(jobs) == 1)
        self.copy_error_action.setEnabled(any(error_text(job) for job in jobs))
        self.clear_done_action.setEnabled(
            any(job.state is JobState.DONE for job in self.queue_model.snapshots())
        )

    def clear_completed(self) -> None:
        for job in self.queue_model.snapshots():
            if job.state is JobState.DONE:
                self.transfers.remove(job.id)

    @staticmethod
    def local_folder(job: JobSnapshot) -> str:
        if job.spec.direction is Direction.DOWNLOAD:
            return job.spec.dest_dir
        return os.path.dirname(job.spec.paths[0]) if job.spec.paths else ""

    def open_containing_folder(self) -> None:
        jobs = self.selected_jobs()
        folder = self.local_folder(jobs[0]) if len(jobs) == 1 else ""
        if folder and not self.prompts.open_folder(folder):
            self.message.emit(self.tr("Could not open {folder}").format(folder=folder), True)

    def copy_error(self) -> None:
        texts = [
            f"{job.spec.title}: {error_text(job)}"
            for job in self.selected_jobs()
            if error_text(job)
        ]
        if texts:
            QGuiApplication.clipboard().setText("\n".join(texts))

    def export_history(self, fmt_name: str) -> None:
        folder = str(self.settings.value(K_EXPORT_DIR, "", str)) or str(Path.home())
        start = os.path.join(folder, f"cl-desktop-history.{fmt_name}")
        filters = (
            self.tr("CSV files (*.csv)") if fmt_name == "csv" else self.tr("JSON files (*.json)")
        )
        path = self.prompts.ask_save_file(self, self.tr("Export transfer history"), start, filters)
        if not path:
            return
        self.settings.setValue(K_EXPORT_DIR, os.path.dirname(path))
        saved = self.tr("History saved to {path}")
        self.transfers.export_history(
            path, fmt_name, lambda written: self.message.emit(saved.format(path=written), False)
        )

    # --- totals ----------------------------------------------------------------------------

    def totals(self) -> Totals:
        active = [job for job in self.queue_model.snapshots() if not job.state.finished]
        running = [job for job in active if job.state is JobState.RUNNING]
        return Totals(
            running=len(running),
            waiting=len(active) - len(running),
            done=sum(job.bytes_done for job in active),
            total=sum(job.bytes_total for job in active),
            speed=sum(job.speed for job in running),
        )

    def _on_refreshed(self) -> None:
        self.update_actions()
        self.totals_changed.emit(self.totals())

    def _queue_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        add_actions(menu, self.queue_actions)
        menu.popup(self.queue_view.viewport().mapToGlobal(pos))
