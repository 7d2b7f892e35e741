"""Dialogs: confirmations, errors, file pickers, and (from connect_dialog and trust_dialog) the
connection and certificate questions; bundled in Prompts for injection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QCoreApplication, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.api.models import DatastoreSummary
from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.connections import CertificateChange, CertificateDetails
from cl_desktop.services.errors import ErrorInfo, ErrorKind

from .connect_dialog import ask_login
from .copying import CopyTarget, ask_copy_target
from .download_dialog import DownloadChoice, DownloadQuestion, ask_download_options
from .import_dialog import ImportRequest, ImportTarget, accept_source_certificate, ask_import_url
from .quit_prompt import QuitChoice, ask_quit
from .trust_dialog import ask_trust, show_certificate_changed
from .warnings_dialog import AskWarnings, ask_warnings

MAX_LISTED = 12  # lines of a confirmation shown before "and n more"


def listing(lines: Sequence[str]) -> str:
    """Up to MAX_LISTED lines, then '... and n more'."""
    shown = list(lines[:MAX_LISTED])
    if len(lines) > MAX_LISTED:
        more = len(lines) - MAX_LISTED
        shown.append(QCoreApplication.translate("dialogs", "... and %n more", "", more))
    return "\n".join(shown)


def _listing_box(
    parent: QWidget | None,
    title: str,
    text: str,
    lines: Sequence[str],
    *,
    destructive: bool,
    ok_text: str = "",
) -> bool:
    """A question with the lines it is about; a destructive one says Delete (or `ok_text`),
    Cancel default."""
    icon = QMessageBox.Icon.Warning if destructive else QMessageBox.Icon.Question
    box = QMessageBox(icon, title, text, parent=parent)
    box.setInformativeText(listing(lines))
    if len(lines) > MAX_LISTED:
        box.setDetailedText("\n".join(lines))
    box.setStandardButtons(QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
    if not ok_text:
        ok_text = (
            QCoreApplication.translate("dialogs", "Delete")
            if destructive
            else QCoreApplication.translate("dialogs", "Upload")
        )
    box.button(QMessageBox.StandardButton.Ok).setText(ok_text)
    if destructive:
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Ok


def confirm(parent: QWidget | None, title: str, text: str, lines: Sequence[str]) -> bool:
    return _listing_box(parent, title, text, lines, destructive=False)


def confirm_delete(parent: QWidget | None, title: str, text: str, lines: Sequence[str]) -> bool:
    return _listing_box(parent, title, text, lines, destructive=True)


def confirm_replace(parent: QWidget | None, title: str, text: str, lines: Sequence[str]) -> bool:
    """Files of an item about to be overwritten: says Replace, Cancel the default."""
    replace = QCoreApplication.translate("dialogs", "Replace")
    return _listing_box(parent, title, text, lines, destructive=True, ok_text=replace)


@dataclass(frozen=True)
class NameAndDescription:
    """What the create and edit dialogs answer; `datastore_id` only for a new library."""

    name: str
    description: str
    datastore_id: str = ""


class NameDialog(QDialog):
    """Name and description of a library or item, and the datastore of a new library."""

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        name: str = "",
        description: str = "",
        datastores: Sequence[DatastoreSummary] = (),
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.name = QLineEdit(name)
        self.description = QLineEdit(description)
        self.datastore = QComboBox()
        form = QFormLayout()
        form.addRow(self.tr("&Name:"), self.name)
        form.addRow(self.tr("&Description:"), self.description)
        if datastores:
            for store in datastores:
                shown = store.name or store.datastore
                if store.free_space:
                    shown = self.tr("{name} ({size} GiB free)").format(
                        name=shown, size=f"{store.free_space / 2**30:,.1f}"
                    )
                self.datastore.addItem(shown, store.datastore)
            form.addRow(self.tr("Data&store:"), self.datastore)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.name.text().strip()))

    def answer(self) -> NameAndDescription:
        return NameAndDescription(
            self.name.text().strip(),
            self.description.text(),
            str(self.datastore.currentData() or ""),
        )


def ask_name(
    parent: QWidget | None,
    title: str,
    initial: NameAndDescription,
    datastores: Sequence[DatastoreSummary],
) -> NameAndDescription | None:
    dialog = NameDialog(parent, title, initial.name, initial.description, datastores)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.answer()


def show_error(parent: QWidget | None, error: ErrorInfo) -> None:
    icon = QMessageBox.Icon.Critical if error.kind is ErrorKind.BUG else QMessageBox.Icon.Warning
    box = QMessageBox(icon, error.title, error.message, parent=parent)
    if error.kind is ErrorKind.LOCAL:  # not the server's doing: say where to look
        box.setInformativeText(
            QCoreApplication.translate(
                "dialogs", "This is a problem on this computer, not on the server."
            )
        )
    if error.details:
        box.setDetailedText(error.details)
    box.exec()


def ask_directory(parent: QWidget | None, caption: str, start: str) -> str:
    return QFileDialog.getExistingDirectory(parent, caption, start)


def ask_open_files(parent: QWidget | None, caption: str, start: str) -> list[str]:
    paths, _ = QFileDialog.getOpenFileNames(parent, caption, start)
    return list(paths)


def ask_save_file(parent: QWidget | None, caption: str, start: str, filters: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, caption, start, filters)
    return path


def ask_text(parent: QWidget | None, title: str, label: str, initial: str) -> str | None:
    """A line of text, or None when cancelled."""
    text, accepted = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Normal, initial)
    return text if accepted else None


def open_folder(path: str) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


@dataclass
class Prompts:
    """Every question the window asks the user; tests replace them with canned answers."""

    ask_login: Callable[
        [QWidget | None, LoginRequest | None, ErrorInfo | None], LoginRequest | None
    ] = field(default=ask_login)
    # True: trust this certificate for the request's server (pin it)
    ask_trust: Callable[[QWidget | None, LoginRequest, CertificateDetails], bool] = field(
        default=ask_trust
    )
    # True only when the user deliberately replaced the trusted certificate (asked twice)
    show_certificate_changed: Callable[[QWidget | None, LoginRequest, CertificateChange], bool] = (
        field(default=show_certificate_changed)
    )
    confirm: Callable[[QWidget | None, str, str, Sequence[str]], bool] = field(default=confirm)
    show_error: Callable[[QWidget | None, ErrorInfo], None] = field(default=show_error)
    ask_directory: Callable[[QWidget | None, str, str], str] = field(default=ask_directory)
    # after the folder, when it applies: loose files or .ova, and what to do if it exists
    ask_download_options: Callable[[QWidget | None, DownloadQuestion], DownloadChoice | None] = (
        field(default=ask_download_options)
    )
    ask_open_files: Callable[[QWidget | None, str, str], list[str]] = field(default=ask_open_files)
    ask_save_file: Callable[[QWidget | None, str, str, str], str] = field(default=ask_save_file)
    open_folder: Callable[[str], bool] = field(default=open_folder)
    ask_text: Callable[[QWidget | None, str, str, str], str | None] = field(default=ask_text)
    # managing libraries and items
    ask_name: Callable[
        [QWidget | None, str, NameAndDescription, Sequence[DatastoreSummary]],
        NameAndDescription | None,
    ] = field(default=ask_name)
    confirm_delete: Callable[[QWidget | None, str, str, Sequence[str]], bool] = field(
        default=confirm_delete
    )
    # a signed OVF's preview warnings: the types to ignore (Continue), or None (Cancel upload)
    ask_warnings: AskWarnings = field(default=ask_warnings)
    # Import from URL: the URL and target, then (https) the source's certificate to accept
    ask_import_url: Callable[[QWidget | None, ImportTarget], ImportRequest | None] = field(
        default=ask_import_url
    )
    accept_source_certificate: Callable[[QWidget | None, str, CertificateDetails], bool] = field(
        default=accept_source_certificate
    )
    # quitting with transfers running or queued (the counts): pause and quit, wait, cancel
    ask_quit: Callable[[QWidget | None, int, int], QuitChoice] = field(default=ask_quit)
    # uploading into an item that has files of the same names: the lines name them
    confirm_replace: Callable[[QWidget | None, str, str, Sequence[str]], bool] = field(
        default=confirm_replace
    )
    # Copy to...: the library (of any connected server) to copy the items into
    ask_copy_target: Callable[[QWidget | None, str, Sequence[CopyTarget]], CopyTarget | None] = (
        field(default=ask_copy_target)
    )
