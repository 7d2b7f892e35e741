"""SessionsDock: the connected servers' update and download sessions, live, with their actions.

Rows are updated in place by session id, so a refresh keeps the selection and the scroll
position; the expiry column counts down every second between refreshes. Actions that do not
fit the selected session are disabled with the reason in their tooltip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QObject,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QLabel,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.api.models import DownloadFileInfo, UpdateFileInfo
from cl_desktop.services.errors import ErrorInfo, ErrorKind
from cl_desktop.services.sessions import (
    SessionAction,
    SessionKind,
    SessionMonitor,
    SessionRow,
    SessionsSnapshot,
    refusal,
)
from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobState
from cl_desktop.transfers.ownership import account_key
from cl_desktop.transfers.upload import ITEM_BUSY

from . import format as fmt
from .actions import add_actions, make_action
from .colors import show_as_error
from .dialogs import Prompts
from .format import counted
from .queue_model import ERROR as ERROR_COLUMN
from .transfers_dock import TransfersDock
from .views import setup_table

# Shown translated: the headers in their model's context, the kinds and actions in
# SessionsDock's (str(): PySide types QT_TRANSLATE_NOOP's result as object)
COLUMNS = (
    str(QT_TRANSLATE_NOOP("SessionModel", "Server")),
    str(QT_TRANSLATE_NOOP("SessionModel", "Kind")),
    str(QT_TRANSLATE_NOOP("SessionModel", "Library")),
    str(QT_TRANSLATE_NOOP("SessionModel", "Item")),
    str(QT_TRANSLATE_NOOP("SessionModel", "State")),
    str(QT_TRANSLATE_NOOP("SessionModel", "Progress")),
    str(QT_TRANSLATE_NOOP("SessionModel", "Expires in")),
    str(QT_TRANSLATE_NOOP("SessionModel", "Error")),
    str(QT_TRANSLATE_NOOP("SessionModel", "Preview warnings")),
    str(QT_TRANSLATE_NOOP("SessionModel", "Owner")),
)
SERVER, KIND, LIBRARY, ITEM, STATE, PROGRESS, EXPIRES, ERROR, WARNINGS, OWNER = range(len(COLUMNS))
SessionIdRole = Qt.ItemDataRole.UserRole + 20

FILE_COLUMNS = (
    str(QT_TRANSLATE_NOOP("SessionFilesDialog", "Name")),
    str(QT_TRANSLATE_NOOP("SessionFilesDialog", "Size")),
    str(QT_TRANSLATE_NOOP("SessionFilesDialog", "Transferred")),
    str(QT_TRANSLATE_NOOP("SessionFilesDialog", "Status")),
    str(QT_TRANSLATE_NOOP("SessionFilesDialog", "Checksum")),
    str(QT_TRANSLATE_NOOP("SessionFilesDialog", "Error")),
)
KINDS: dict[str, str] = {
    SessionKind.UPDATE: str(QT_TRANSLATE_NOOP("SessionsDock", "update")),
    SessionKind.DOWNLOAD: str(QT_TRANSLATE_NOOP("SessionsDock", "download")),
}
# the monitor's action names (others it names, such as a lookup, are shown as they are)
ACTIONS: dict[str, str] = {
    SessionAction.KEEP_ALIVE: str(QT_TRANSLATE_NOOP("SessionsDock", "keep alive")),
    SessionAction.CANCEL: str(QT_TRANSLATE_NOOP("SessionsDock", "cancel")),
    SessionAction.FAIL: str(QT_TRANSLATE_NOOP("SessionsDock", "fail")),
    SessionAction.DELETE: str(QT_TRANSLATE_NOOP("SessionsDock", "delete")),
}


def kind_text(kind: str) -> str:
    name = KINDS.get(kind)
    return QCoreApplication.translate("SessionsDock", name) if name else str(kind)


def action_text(action: str) -> str:
    name = ACTIONS.get(action)
    return QCoreApplication.translate("SessionsDock", name) if name else action


def owner_text(row: SessionRow) -> str:
    if row.owner_job is not None:
        return QCoreApplication.translate("SessionsDock", "job {job}").format(job=row.owner_job)
    if row.orphan:
        return QCoreApplication.translate("SessionsDock", "orphan (no local job)")
    return ""


def expires_text(row: SessionRow, now: datetime) -> str:
    if row.expiration_time is None or not row.active:
        return ""
    left = (row.expiration_time - now).total_seconds()
    return fmt.duration(left) if left > 0 else QCoreApplication.translate("SessionsDock", "expired")


def row_texts(row: SessionRow, now: datetime) -> list[str]:
    return [
        row.server.label if row.server is not None else "",
        kind_text(row.kind),
        row.library_name or row.library_id,
        row.item_name or row.item_id,
        row.state,
        "" if row.client_progress is None else f"{row.client_progress}%",
        expires_text(row, now),
        row.error_message,
        "; ".join(row.preview_warnings),
        owner_text(row),
    ]


class SessionModel(QStandardItemModel):
    """One row per session, keyed by session id (SessionIdRole on the first column)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(
            [QCoreApplication.translate("SessionModel", name) for name in COLUMNS]
        )
        self._rows: dict[str, SessionRow] = {}
        self._firsts: dict[str, QStandardItem] = {}  # session id -> its row's first cell
        self.orphans: list[SessionRow] = []  # kept per refresh: the actions ask on every click

    def sessions(self) -> list[SessionRow]:
        """In table order."""
        return [self._rows[self.session_id(r)] for r in range(self.rowCount())]

    def session_id(self, row: int) -> str:
        return str(self.item(row, 0).data(SessionIdRole))

    def session(self, row: int) -> SessionRow | None:
        return self._rows.get(self.session_id(row)) if 0 <= row < self.rowCount() else None

    def row_of(self, session_id: str) -> int:
        first = self._firsts.get(session_id)
        return first.row() if first is not None else -1

    def set_sessions(self, rows: Sequence[SessionRow], now: datetime) -> None:
        """Update changed rows in place, drop vanished sessions, append new ones. A row that
        did not change costs a comparison (a refresh of 500 sessions stays cheap)."""
        wanted = {r.session_id: r for r in rows}
        for session_id in [s for s in self._firsts if s not in wanted]:
            self.removeRow(self._firsts.pop(session_id).row())
        for session in rows:
            first = self._firsts.get(session.session_id)
            if first is None:
                cells = [QStandardItem(text) for text in row_texts(session, now)]
                for cell in cells:
                    cell.setEditable(False)
                cells[0].setData(session.session_id, SessionIdRole)
                cells[0].setToolTip(session.session_id)
                self.appendRow(cells)
                self._firsts[session.session_id] = cells[0]
            elif self._rows.get(session.session_id) != session:
                self._set_texts(first.row(), row_texts(session, now))
        self._rows = wanted
        self.orphans = [r for r in rows if r.orphan]

    def tick(self, now: datetime, rows: range | None = None) -> None:
        """The countdown: only the expiry column changes between refreshes (of `rows`, the
        ones on screen, when given)."""
        for row in rows if rows is not None else range(self.rowCount()):
            session = self.session(row)
            if session is not None:
                self._set_texts(row, {EXPIRES: expires_text(session, now)})

    def _set_texts(self, row: int, texts: Sequence[str] | dict[int, str]) -> None:
        pairs = texts.items() if isinstance(texts, dict) else enumerate(texts)
        for column, text in pairs:
            cell = self.item(row, column)
            if cell.text() != text:
                cell.setText(text)


def file_texts(info: UpdateFileInfo | DownloadFileInfo) -> list[str]:
    checksum = info.checksum_info
    return [
        info.name,
        fmt.size(info.size),
        fmt.size(info.bytes_transferred),
        str(info.status or ""),
        f"{checksum.algorithm}:{checksum.checksum}" if checksum and checksum.checksum else "",
        str(info.error_message) if info.error_message else "",
    ]


class SessionFilesDialog(QDialog):
    """The files of one session (UpdateSession.File.list / DownloadSession.File.list)."""

    def __init__(
        self,
        session: SessionRow,
        files: Sequence[UpdateFileInfo | DownloadFileInfo],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(
            self.tr("Files of the {kind} session of {item}").format(
                kind=kind_text(session.kind), item=session.item_name
            )
        )
        self.resize(800, 300)
        self.model = QStandardItemModel(0, len(FILE_COLUMNS), self)
        self.model.setHorizontalHeaderLabels(
            [QCoreApplication.translate("SessionFilesDialog", name) for name in FILE_COLUMNS]
        )
        for info in files:
            cells = [QStandardItem(text) for text in file_texts(info)]
            for cell in cells:
                cell.setEditable(False)
            self.model.appendRow(cells)
        view = QTableView()
        view.setModel(self.model)
        setup_table(view, {0: 200, 4: 200})
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(view)
        layout.addWidget(buttons)


class SessionsDock(QDockWidget):
    """The Sessions view. It refreshes (through the monitor) only while it is visible.

    Signals:
        open_item(ServerRef, str library_id, str item_id): select that item in the browser.
        message(str, bool): a status message (and whether it is an error).
    """

    open_item = Signal(object, str, str)
    message = Signal(str, bool)

    def __init__(
        self,
        monitor: SessionMonitor,
        settings: QSettings,
        prompts: Prompts,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Sessions"))
        self.setObjectName("sessionsDock")
        self.monitor = monitor
        self.settings = settings
        self.prompts = prompts
        # What the server refused for lack of privileges, per action: disabled from then on.
        self._unauthorized: dict[SessionAction, str] = {}
        self.files_dialog: SessionFilesDialog | None = None
        self.model = SessionModel(self)
        self._build_actions()
        view = self.view = QTableView()
        view.setObjectName("sessionsView")
        view.setModel(self.model)
        setup_table(view, {SERVER: 150, LIBRARY: 150, ITEM: 170, ERROR: 200, OWNER: 150})
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for action in self.session_actions:
            if action is not None:
                view.addAction(action)
        view.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        view.doubleClicked.connect(lambda _: self.show_files())
        self.refreshed_label = QLabel(self.tr("Not refreshed yet"))
        bar = QToolBar()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        add_actions(bar, [self.refresh_action, None, *self.session_actions, None])
        bar.addAction(self.clean_up_action)
        bar.addWidget(self.refreshed_label)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(view)
        self.setWidget(page)
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        view.verticalScrollBar().valueChanged.connect(lambda _: self._tick())
        monitor.refreshed.connect(self._on_refreshed)
        monitor.refresh_failed.connect(self._on_refresh_failed)
        monitor.action_done.connect(self._on_action_done)
        monitor.action_failed.connect(self._on_action_failed)
        monitor.files_loaded.connect(self._on_files_loaded)
        monitor.files_failed.connect(lambda _sid, error: self.prompts.show_error(self, error))
        self.visibilityChanged.connect(self._on_visibility)
        self.update_actions()

    def _build_actions(self) -> None:
        self.refresh_action = make_action(
            self,
            self.tr("Refresh"),
            self.monitor.refresh,
            icon="refresh",
            tip=self.tr("List the sessions of every connected server now"),
        )
        self.keep_alive_action = make_action(
            self,
            self.tr("&Keep alive"),
            lambda: self._act(SessionAction.KEEP_ALIVE),
            icon="keep-alive",
            tip=self.tr("Push the session's expiry back (its progress stays as it is)"),
        )
        self.cancel_action = make_action(
            self,
            self.tr("&Cancel"),
            lambda: self._act(SessionAction.CANCEL),
            icon="cancel",
            tip=self.tr("Cancel the session on the server"),
        )
        self.fail_action = make_action(
            self,
            self.tr("&Fail..."),
            lambda: self._act(SessionAction.FAIL),
            icon="fail",
            tip=self.tr("Fail the session with a message"),
        )
        self.delete_action = make_action(
            self,
            self.tr("&Delete"),
            lambda: self._act(SessionAction.DELETE),
            icon="delete",
            tip=self.tr("Delete the session from the server"),
        )
        self.open_item_action = make_action(
            self,
            self.tr("&Open item"),
            self.open_selected_item,
            icon="open-item",
            tip=self.tr("Select the session's item in the library browser"),
        )
        self.files_action = make_action(
            self,
            self.tr("&Files..."),
            self.show_files,
            icon="files",
            tip=self.tr("The files of the session and their status"),
        )
        self.clean_up_action = make_action(
            self,
            self.tr("Clean up &orphans..."),
            self.clean_up_orphans,
            icon="clean-up",
            tip=self.tr("Cancel and delete the ACTIVE sessions no local job owns"),
        )
        self.action_by_kind: dict[SessionAction, QAction] = {
            SessionAction.KEEP_ALIVE: self.keep_alive_action,
            SessionAction.CANCEL: self.cancel_action,
            SessionAction.FAIL: self.fail_action,
            SessionAction.DELETE: self.delete_action,
        }
        self._tips = {action: action.toolTip() for action in self.action_by_kind.values()}
        self._tips[self.clean_up_action] = self.clean_up_action.toolTip()
        self.session_actions: list[QAction | None] = [
            *self.action_by_kind.values(),
            None,
            self.open_item_action,
            self.files_action,
        ]

    # --- state --------------------------------------------------------------------------------

    def current_session(self) -> SessionRow | None:
        index = self.view.currentIndex()
        selected = self.view.selectionModel().isRowSelected(index.row()) if index.isValid() else 0
        return self.model.session(index.row()) if selected else None

    def select_session(self, session_id: str) -> None:
        row = self.model.row_of(session_id)
        if row >= 0:
            self.view.setCurrentIndex(self.model.index(row, 0))
            self.view.selectRow(row)

    def orphans(self) -> list[SessionRow]:
        return list(self.model.orphans)

    def update_actions(self) -> None:
        session = self.current_session()
        for kind, action in self.action_by_kind.items():
            reason = self.tr("select a session") if session is None else refusal(session, kind)
            reason = self._unauthorized.get(kind, reason)
            action.setEnabled(not reason)
            action.setToolTip(self._tip(action, reason))
        self.open_item_action.setEnabled(session is not None and bool(session.library_id))
        self.files_action.setEnabled(session is not None)
        orphans = len(self.orphans())
        none = "" if orphans else self.tr("no orphans")
        reason = self._unauthorized.get(SessionAction.CANCEL, none)
        self.clean_up_action.setEnabled(not reason)
        self.clean_up_action.setToolTip(self._tip(self.clean_up_action, reason))

    def _tip(self, action: QAction, reason: str) -> str:
        """The action's tooltip, with why it is disabled (when it is)."""
        tip = self._tips[action]
        return (
            self.tr("{tip} (not now: {reason})").format(tip=tip, reason=reason) if reason else tip
        )

    # --- what the monitor says ------------------------------------------------------------------

    def _tick(self) -> None:
        """Count down the rows on screen only: a second's update of 500 rows costs ~7 ms."""
        top = max(0, self.view.rowAt(0))
        bottom = self.view.rowAt(self.view.viewport().height())
        bottom = self.model.rowCount() - 1 if bottom < 0 else bottom
        self.model.tick(datetime.now(UTC), range(top, bottom + 1))

    def _on_visibility(self, visible: bool) -> None:
        self.monitor.set_active(visible)
        if visible:
            self._countdown.start()
        else:
            self._countdown.stop()

    def _on_refreshed(self, snapshot: SessionsSnapshot) -> None:
        self.model.set_sessions(snapshot.rows, datetime.now(UTC))
        local = snapshot.taken_at.astimezone()
        count = len(snapshot.rows)
        text = counted(self.tr("%n session(s), refreshed at {time}", "", count), count)
        time = f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
        self.refreshed_label.setText("  " + text.format(time=time))  # "  ": apart from the bar
        show_as_error(self.refreshed_label, False)
        self.update_actions()

    def _on_refresh_failed(self, error: ErrorInfo) -> None:
        text = self.tr("Could not list the sessions: {error}").format(error=error.text)
        self.refreshed_label.setText("  " + text)
        show_as_error(self.refreshed_label, True)

    def _on_action_done(self, session_id: str, action: str) -> None:
        text = self.tr("Session {session}: {action} done")
        self.message.emit(text.format(session=session_id[:8], action=action_text(action)), False)

    def _on_action_failed(self, session_id: str, action: str, error: ErrorInfo) -> None:
        known = action in tuple(SessionAction)  # not the lookup of an item's holder
        if error.kind is ErrorKind.AUTH and known:  # UNAUTHORIZED: it will be refused again
            kinds: tuple[SessionAction, ...] = (SessionAction(action),)
            if action == SessionAction.CANCEL:
                kinds += (SessionAction.FAIL, SessionAction.DELETE)
            for kind in kinds:
                self._unauthorized[kind] = f"{error.title}: {error.message}"
            self.update_actions()
        text = self.tr("Session {session}: {action} failed: {error}").format(
            session=session_id[:8], action=action_text(action), error=error.text
        )
        self.message.emit(text, True)
        self.prompts.show_error(self, error)

    def _on_files_loaded(self, session_id: str, files: Any) -> None:
        session = self.monitor_row(session_id)
        if session is None:
            return
        self.files_dialog = SessionFilesDialog(session, files, self)
        self.files_dialog.show()

    def monitor_row(self, session_id: str) -> SessionRow | None:
        row = self.model.row_of(session_id)
        return self.model.session(row) if row >= 0 else None

    # --- actions --------------------------------------------------------------------------------

    def _act(self, action: SessionAction) -> None:
        session = self.current_session()
        if session is None:
            return
        perform: dict[SessionAction, Callable[[SessionRow], None]] = {
            SessionAction.KEEP_ALIVE: self.monitor.keep_alive,
            SessionAction.CANCEL: self.monitor.cancel,
            SessionAction.DELETE: self.monitor.delete,
        }
        if action is SessionAction.FAIL:
            message = self.prompts.ask_text(
                self,
                self.tr("Fail the session"),
                self.tr("Message to record with the failure:"),
                self.tr("Failed by admin"),
            )
            if message:
                self.monitor.fail(session, message)
            return
        perform[action](session)

    def open_selected_item(self) -> None:
        session = self.current_session()
        if session is not None and session.library_id and session.server is not None:
            self.open_item.emit(session.server, session.library_id, session.item_id)

    def show_files(self) -> None:
        session = self.current_session()
        if session is not None:
            self.monitor.load_files(session)

    def clean_up_orphans(self) -> None:
        orphans = self.orphans()
        if not orphans:
            return
        line = self.tr("{kind} session of {item} ({library}), {progress}%")
        lines = [
            line.format(
                kind=kind_text(row.kind),
                item=row.item_name or row.item_id,
                library=row.library_name or row.library_id,
                progress=row.client_progress or 0,
            )
            for row in orphans
        ]
        count = len(orphans)
        text = counted(
            self.tr("Cancel and delete %n session(s) that no local job owns?", "", count), count
        )
        if self.prompts.confirm_delete(self, self.tr("Clean up orphans"), text, lines):
            self.monitor.clean_up(orphans)


def holder_text(holder: SessionRow | None) -> str:
    """Which session holds an item, for the job row and the confirmation."""
    if holder is None:
        return QCoreApplication.translate(
            "SessionsDock", "no ACTIVE session holds the item any more"
        )
    expires = expires_text(holder, datetime.now(UTC))
    if holder.owner_job and expires:
        text = QCoreApplication.translate(
            "SessionsDock",
            "held by the {kind} session {session} (owned by local job {job}), {state}, "
            "{progress}% done, expires in {expires}",
        )
    elif holder.owner_job:
        text = QCoreApplication.translate(
            "SessionsDock",
            "held by the {kind} session {session} (owned by local job {job}), {state}, "
            "{progress}% done",
        )
    elif expires:
        text = QCoreApplication.translate(
            "SessionsDock",
            "held by the {kind} session {session} (an orphan), {state}, {progress}% done, "
            "expires in {expires}",
        )
    else:
        text = QCoreApplication.translate(
            "SessionsDock",
            "held by the {kind} session {session} (an orphan), {state}, {progress}% done",
        )
    return text.format(
        kind=kind_text(holder.kind),
        session=holder.session_id[:8],
        job=holder.owner_job,
        state=holder.state,
        progress=holder.client_progress or 0,
        expires=expires,
    )


def is_item_busy(job: JobSnapshot) -> bool:
    return (
        job.state is JobState.FAILED
        and job.spec.direction is Direction.UPLOAD
        and ITEM_BUSY in job.error_message
    )


class BusyItemResolver(QObject):
    """RESOURCE_BUSY from the job row: says which session holds the item, and offers to
    cancel that session and retry (at once for an orphan, after a confirmation otherwise)."""

    def __init__(
        self,
        parent: QWidget,
        dock: TransfersDock,
        monitor: SessionMonitor,
        transfers: TransferService,
        prompts: Prompts,
    ) -> None:
        super().__init__(parent)
        self._parent, self._dock, self._monitor = parent, dock, monitor
        self._transfers, self._prompts = transfers, prompts
        self.holders: dict[int, SessionRow | None] = {}  # job id -> what holds its item
        self._resolve_when_found: set[int] = set()
        self.action = make_action(
            parent,
            self.tr("Cancel the &holding session and retry"),
            self.resolve,
            tip=self.tr("Cancel the update session that holds this upload's item, then retry"),
        )
        dock.queue_view.addAction(self.action)
        dock.queue_view.selectionModel().selectionChanged.connect(lambda *_: self.update())
        transfers.job_finished.connect(self._on_finished)
        monitor.holder_found.connect(self._on_holder)
        monitor.item_released.connect(self._transfers.retry)
        self.update()

    def _job(self) -> JobSnapshot | None:
        jobs = self._dock.selected_jobs()
        return jobs[0] if len(jobs) == 1 and is_item_busy(jobs[0]) else None

    def update(self) -> None:
        job = self._job()
        self.action.setEnabled(job is not None and self._watches(job))

    def _watches(self, job: JobSnapshot) -> bool:
        """Whether the job's server is connected (its sessions can be looked at)."""
        account = account_key(job.spec.server)
        return any(account_key(server) == account for server in self._monitor.servers)

    def _on_finished(self, job: JobSnapshot) -> None:
        item_id = job.item_id or job.spec.item_id
        if is_item_busy(job) and item_id and self._watches(job):
            self._monitor.find_holder(job.id, job.spec.server, item_id)
        self.update()

    def _on_holder(self, job_id: int, holder: SessionRow | None) -> None:
        self.holders[job_id] = holder
        model = self._dock.queue_model
        model.flush()  # the job's pending repaint first, or it would overwrite the tooltip
        row = model.row_of(job_id)
        if row >= 0:  # the job row says who holds its item
            cell = model.item(row, ERROR_COLUMN)
            tip = self.tr("{error}\nThe item is {holder}.")
            cell.setToolTip(tip.format(error=cell.text(), holder=holder_text(holder)))
        text = self.tr("Job {job}: the item is {holder}")
        self._dock.message.emit(text.format(job=job_id, holder=holder_text(holder)), True)
        if job_id in self._resolve_when_found:
            self._resolve_when_found.discard(job_id)
            self._resolve(job_id, holder)

    def resolve(self) -> None:
        job = self._job()
        if job is None:
            return
        if job.id not in self.holders:  # not looked up yet: look, then resolve
            self._resolve_when_found.add(job.id)
            item_id = job.item_id or job.spec.item_id or ""
            self._monitor.find_holder(job.id, job.spec.server, item_id)
            return
        self._resolve(job.id, self.holders[job.id])

    def _resolve(self, job_id: int, holder: SessionRow | None) -> None:
        if holder is None:
            self._transfers.retry(job_id)
            return
        if not holder.orphan:
            text = self.tr("Cancel the session that holds the item, then retry the upload?")
            line = self.tr("The item {item} is {holder}.").format(
                item=holder.item_name or holder.item_id, holder=holder_text(holder)
            )
            title = self.tr("Item busy")
            if not self._prompts.confirm_delete(self._parent, title, text, [line]):
                return
        self.holders.pop(job_id, None)
        self._monitor.release_item(holder, job_id)
