"""The tray icon: overall progress, a small menu, and a notification when a transfer ends.

Only where the desktop has a tray (`TrayIcon.available()`); the window works the same without
it. What it decides (the tooltip, the progress drawn on the icon, whether a finished job is
worth a notification, which job a click shows) is plain code on this object, so tests drive it
through the wrapped QSystemTrayIcon's signals without a real tray.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QAction, QIcon, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QStyle, QSystemTrayIcon

from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobState

from . import format as fmt
from .queue_model import error_text, verification_label
from .transfers_dock import Totals, TransfersDock

ICON_SIZE = 64  # drawn at this size (times the screen's pixel ratio); the tray scales it


@dataclass(frozen=True)
class Notification:
    """A desktop notification: what it says, and the job a click on it shows."""

    title: str
    message: str
    job_id: int
    failed: bool


def notification_for(job: JobSnapshot, window_active: bool) -> Notification | None:
    """The notification a job that just ended deserves: one when it finished or failed and
    the user is not looking at the window (a cancel was their own doing)."""
    if window_active or job.state not in (JobState.DONE, JobState.FAILED):
        return None
    name = job.spec.item_name or job.spec.item_id or job.item_id or ""
    upload = job.spec.direction is Direction.UPLOAD
    translate = QCoreApplication.translate
    if job.state is JobState.FAILED:
        if upload:
            title = translate("TrayIcon", "Upload failed: {name}")
        else:
            title = translate("TrayIcon", "Download failed: {name}")
        return Notification(title.format(name=name), error_text(job), job.id, failed=True)
    if upload:
        title = translate("TrayIcon", "Upload finished: {name}")
    else:
        title = translate("TrayIcon", "Download finished: {name}")
    message = job.spec.title
    if job.verification is not None:
        message = translate("TrayIcon", "{title} ({verification})").format(
            title=job.spec.title, verification=verification_label(job.verification)
        )
    return Notification(title.format(name=name), message, job.id, False)


def tooltip_for(totals: Totals, app_name: str) -> str:
    """ "2 transfers, 45%, 12 MB/s", or that there is nothing to do."""
    if not totals.active:
        return QCoreApplication.translate("TrayIcon", "{app}: no transfers").format(app=app_name)
    count = totals.running + totals.waiting
    parts = [fmt.counted(QApplication.translate("TrayIcon", "%Ln transfer(s)", "", count), count)]
    if totals.total:
        parts.append(f"{int(totals.fraction * 100)}%")
    if totals.speed > 0:
        parts.append(fmt.speed(totals.speed))
    return f"{app_name}: " + ", ".join(parts)


def app_icon() -> QIcon:
    """The application's icon, or a stand-in from the style until one is set."""
    icon = QApplication.windowIcon()
    if icon.isNull():
        icon = QApplication.style().standardIcon(QStyle.StandardPixmap.SP_DriveNetIcon)
    return icon


def progress_icon(base: QIcon, fraction: float | None, palette: QPalette, ratio: float) -> QIcon:
    """`base` with a progress bar along its bottom (None: the icon alone)."""
    if fraction is None:
        return base
    pixmap = base.pixmap(QSize(ICON_SIZE, ICON_SIZE), ratio)
    pixmap.setDevicePixelRatio(ratio)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    bar = QRectF(2, ICON_SIZE * 0.72, ICON_SIZE - 4, ICON_SIZE * 0.24)
    painter.setPen(QPen(palette.color(QPalette.ColorRole.Dark), 2))  # seen on any panel
    painter.setBrush(palette.color(QPalette.ColorRole.Base))
    painter.drawRoundedRect(bar, 4, 4)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
    done = QRectF(bar.x(), bar.y(), bar.width() * max(0.0, min(1.0, fraction)), bar.height())
    painter.drawRoundedRect(done, 4, 4)
    painter.end()
    return QIcon(pixmap)


class TrayIcon(QObject):
    """The tray icon of `window`: progress from the dock's totals, notifications from the
    transfers, a menu (Show window, Pause all, Resume all, Quit)."""

    def __init__(
        self,
        window: QMainWindow,
        dock: TransfersDock,
        transfers: TransferService,
        quit_action: QAction,
        *,
        show: bool = True,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.dock = dock
        self.transfers = transfers
        # tests replace it: whether the user is looking at the window
        self.window_active: Callable[[], bool] = window.isActiveWindow
        self.notifications: list[Notification] = []  # every one shown, newest last
        self._clicked_job: int | None = None  # the job the last notification was about
        self._percent: int | None = None  # drawn on the icon now
        self.icon = QSystemTrayIcon(app_icon(), self)
        self.menu = QMenu()  # no parent widget: the tray owns its menu (deleted with us)
        self.menu.setAccessibleName(self.tr("Tray menu"))
        self.show_action = self.menu.addAction(self.tr("&Show window"), self.show_window)
        self.menu.addSeparator()
        self.pause_all_action = self.menu.addAction(self.tr("&Pause all"), self.pause_all)
        self.resume_all_action = self.menu.addAction(self.tr("&Resume all"), self.resume_all)
        self.menu.addSeparator()
        self.menu.addAction(quit_action)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.icon.messageClicked.connect(self._on_message_clicked)
        dock.totals_changed.connect(self.show_totals)
        transfers.job_finished.connect(self.job_finished)
        self.destroyed.connect(self.menu.deleteLater)
        self.show_totals(Totals())
        if show:
            self.icon.show()

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    # --- progress --------------------------------------------------------------------------

    def show_totals(self, totals: Totals) -> None:
        name = QApplication.applicationDisplayName() or "cl_desktop"
        tip = tooltip_for(totals, name)
        if tip != self.icon.toolTip():
            self.icon.setToolTip(tip)
        percent = int(totals.fraction * 100) if totals.active and totals.total else None
        if percent != self._percent:  # redrawn only when the figure changes
            self._percent = percent
            ratio = self.window.devicePixelRatioF()
            fraction = None if percent is None else percent / 100
            self.icon.setIcon(progress_icon(app_icon(), fraction, self.window.palette(), ratio))
        self.pause_all_action.setEnabled(any(j.state.can_pause() for j in self._jobs()))
        self.resume_all_action.setEnabled(any(j.state.can_resume() for j in self._jobs()))

    @property
    def percent(self) -> int | None:
        """The progress drawn on the icon (None: the plain icon)."""
        return self._percent

    # --- notifications ---------------------------------------------------------------------

    def job_finished(self, job: JobSnapshot) -> None:
        note = notification_for(job, self.window_active())
        if note is None:
            return
        self.notifications.append(note)
        self._clicked_job = note.job_id
        kind = QSystemTrayIcon.MessageIcon
        self.icon.showMessage(
            note.title, note.message, kind.Warning if note.failed else kind.Information
        )

    def _on_message_clicked(self) -> None:
        self.show_window(self._clicked_job)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.show_window(self._clicked_job)

    # --- the menu --------------------------------------------------------------------------

    def show_window(self, job_id: int | None = None) -> None:
        """The window to the front; with `job_id`, that job selected in the queue."""
        window = self.window
        if window.isMinimized():
            window.showNormal()
        window.show()
        window.raise_()
        window.activateWindow()
        if job_id is not None and self.select_job(job_id):
            self._clicked_job = None

    def select_job(self, job_id: int) -> bool:
        row = self.dock.queue_model.row_of(job_id)
        if row < 0:
            return False  # removed meanwhile
        self.dock.show_queue()
        self.dock.raise_()
        view = self.dock.queue_view
        view.selectRow(row)
        view.scrollTo(self.dock.queue_model.index(row, 0))
        view.setFocus()
        return True

    def _jobs(self) -> list[JobSnapshot]:
        return self.dock.queue_model.snapshots()

    def pause_all(self) -> None:
        for job in self._jobs():
            if job.state.can_pause():
                self.transfers.pause(job.id)

    def resume_all(self) -> None:
        for job in self._jobs():
            if job.state.can_resume():
                self.transfers.resume(job.id)
