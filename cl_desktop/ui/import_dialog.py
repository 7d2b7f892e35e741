"""Import from URL: the dialog that asks for a URL and a target, and the one that shows an https
source's certificate before the server is told to accept it (both behind `Prompts`)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.services.connections import CertificateDetails
from cl_desktop.services.sources import source_file_name, suggested_item_name

from .trust_dialog import _details_rows, _text

# translated where shown (str(): PySide types QT_TRANSLATE_NOOP's result as object)
ACCEPT_BUTTON = str(QT_TRANSLATE_NOOP("SourceCertificateDialog", "Import with this certificate"))


@dataclass(frozen=True)
class ImportTarget:
    """Where an import may go: a new item in the library, or the selected item (if any)."""

    library_name: str
    item_name: str | None = None  # the selected item, offered as the other target
    hint_url: str = ""  # pre-filled (the demo serves its samples on a local URL)


@dataclass(frozen=True)
class ImportRequest:
    url: str
    into_item: bool  # into the selected item; else a new item named `new_name`
    new_name: str = ""


class ImportUrlDialog(QDialog):
    def __init__(self, parent: QWidget | None, target: ImportTarget) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Import from URL"))
        self.url = QLineEdit(target.hint_url)
        self.url.setObjectName("importUrl")
        self.url.setPlaceholderText(self.tr("https://server/path/file.iso or .../template.ovf"))
        # room for a whole typical URL: a cut one hides the part that names the file
        self.url.setMinimumWidth(self.url.fontMetrics().horizontalAdvance("x" * 60))
        self.new_item = QRadioButton(
            self.tr("A &new item in \u201c{library}\u201d named:").format(
                library=target.library_name
            )
        )
        self.name = QLineEdit(suggested_item_name(target.hint_url))
        self.name.setObjectName("importName")
        self.name.setAccessibleName(self.tr("Name of the new item"))  # it sits under a radio button
        self.into_item = QRadioButton(
            self.tr("The &selected item \u201c{item}\u201d").format(item=target.item_name)
            if target.item_name
            else self.tr("The selected item (none is selected)")
        )
        self.into_item.setEnabled(target.item_name is not None)
        group = QButtonGroup(self)
        group.addButton(self.new_item)
        group.addButton(self.into_item)
        self.new_item.setChecked(True)
        self._named_by_user = False
        form = QFormLayout()
        form.addRow(self.tr("&URL:"), self.url)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            _text(
                self.tr(
                    "The server downloads the file itself (an .ovf brings the files it names), "
                    "so the URL must be reachable from vCenter."
                )
            )
        )
        if target.hint_url:
            layout.addWidget(
                _text(self.tr("Demo: the URL above is served by this app on this computer."))
            )
        layout.addWidget(QLabel(self.tr("Import into:")))
        layout.addWidget(self.new_item)
        layout.addWidget(self.name)
        layout.addWidget(self.into_item)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("&Import"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.url.textChanged.connect(self._url_changed)
        self.name.textEdited.connect(self._name_edited)
        self.new_item.toggled.connect(self._check)
        self._check()

    def _url_changed(self, text: str) -> None:
        if not self._named_by_user:  # follows the URL until the user types a name
            self.name.setText(suggested_item_name(text))
        self._check()

    def _name_edited(self, _text: str) -> None:
        self._named_by_user = True
        self._check()

    def _check(self) -> None:
        url = self.url.text().strip().lower()
        ok = url.startswith(("http://", "https://")) and bool(source_file_name(url))
        if self.new_item.isChecked():
            ok = ok and bool(self.name.text().strip())
        self.name.setEnabled(self.new_item.isChecked())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def answer(self) -> ImportRequest:
        return ImportRequest(
            self.url.text().strip(), self.into_item.isChecked(), self.name.text().strip()
        )


def ask_import_url(parent: QWidget | None, target: ImportTarget) -> ImportRequest | None:
    dialog = ImportUrlDialog(parent, target)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.answer()


class SourceCertificateDialog(QDialog):
    """An https source's certificate, shown before the server is told to accept it (by its
    SHA-1 thumbprint; the server checks nothing else about it)."""

    def __init__(self, parent: QWidget | None, url: str, details: CertificateDetails) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Certificate of the source"))
        layout = QVBoxLayout(self)
        layout.addWidget(
            _text(self.tr("The source {url} presents this certificate.").format(url=url), bold=True)
        )
        layout.addWidget(
            _text(
                self.tr(
                    "The server will import only from a source presenting exactly this "
                    "certificate. Compare its fingerprints with the ones its owner gives you."
                )
            )
        )
        form = QFormLayout()
        _details_rows(form, details)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.accept_button = buttons.addButton(
            QCoreApplication.translate("SourceCertificateDialog", ACCEPT_BUTTON),
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        layout.addWidget(buttons)


def accept_source_certificate(
    parent: QWidget | None, url: str, details: CertificateDetails
) -> bool:
    return SourceCertificateDialog(parent, url, details).exec() == QDialog.DialogCode.Accepted
