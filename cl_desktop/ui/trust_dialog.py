"""Certificate trust, as SSH asks about host keys: trust a new certificate; a changed one is loud.

TrustDialog shows an untrusted certificate and offers to pin it for the server.
CertificateChangedDialog refuses a pinned server presenting another certificate; its only ways
out are Cancel and a deliberately labelled replace that asks a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.connections import CertificateChange, CertificateDetails

from .colors import show_as_error

# translated where shown (str(): PySide types QT_TRANSLATE_NOOP's result as object)
TRUST_BUTTON = str(QT_TRANSLATE_NOOP("TrustDialog", "Trust this certificate for this server"))
REPLACE_BUTTON = str(
    QT_TRANSLATE_NOOP("CertificateChangedDialog", "Replace the trusted certificate...")
)


def _fingerprint(colon_hex: str) -> str:
    """A SHA-256 in two lines of 16 bytes, so the dialog stays narrow; a SHA-1 in one."""
    if len(colon_hex) <= 60:
        return colon_hex
    return colon_hex[:47] + "\n" + colon_hex[48:]


def _day(when: datetime | str) -> str:
    """A date as the dialogs show it; an ISO text (the trust store's) is parsed first."""
    if isinstance(when, str):
        try:
            parsed = datetime.fromisoformat(when)
        except ValueError:
            return when
        return _day(parsed)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _value(text: str, monospace: bool = False) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(not monospace)  # fingerprints are broken into lines by hand
    if monospace:
        label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return label


def _text(text: str, *, bold: bool = False, error: bool = False) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if bold:
        font = QFont(label.font())
        font.setBold(True)
        label.setFont(font)
    if error:
        show_as_error(label, True)
    return label


def _details_rows(form: QFormLayout, details: CertificateDetails) -> None:
    """The certificate's rows, in TrustDialog's words (SourceCertificateDialog shows them too)."""
    translate = QCoreApplication.translate
    names = ", ".join(details.subject_alt_names) or translate("TrustDialog", "none")
    form.addRow(translate("TrustDialog", "Subject:"), _value(details.subject))
    form.addRow(translate("TrustDialog", "Issuer:"), _value(details.issuer))
    form.addRow(translate("TrustDialog", "Alternative names:"), _value(names))
    form.addRow(translate("TrustDialog", "Valid from:"), _value(_day(details.not_before)))
    form.addRow(translate("TrustDialog", "Valid until:"), _value(_day(details.not_after)))
    sha256 = _value(_fingerprint(details.sha256_colons), True)
    form.addRow(translate("TrustDialog", "SHA-256:"), sha256)
    form.addRow(translate("TrustDialog", "SHA-1:"), _value(details.sha1_colons, True))


def host_of(request: LoginRequest) -> str:
    """The host name the user connects to (what the certificate must name)."""
    try:
        return urlsplit(request.ref.url).hostname or request.server
    except ValueError:
        return request.server


class TrustDialog(QDialog):
    def __init__(
        self,
        parent: QWidget | None,
        host: str,
        details: CertificateDetails,
        now: datetime | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Untrusted certificate"))
        layout = QVBoxLayout(self)
        layout.addWidget(
            _text(
                self.tr("This computer does not trust the certificate of {host}.").format(
                    host=host
                ),
                bold=True,
            )
        )
        layout.addWidget(
            _text(
                self.tr(
                    "vCenter usually signs its certificate with its own certificate authority "
                    "(VMCA). Compare the fingerprints below with the ones vCenter shows under "
                    "Administration, Certificates, before you trust it. It is then trusted for "
                    "this server only, by this app and by cl-transfer."
                )
            )
        )
        self.problem_labels = [
            _text(problem.text, error=True) for problem in details.problems(host, now)
        ]
        if details.self_signed:
            self.problem_labels.append(_text(self.tr("The certificate is self-signed.")))
        for label in self.problem_labels:
            layout.addWidget(label)
        form = QFormLayout()
        _details_rows(form, details)
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.trust_button = self.buttons.addButton(
            QCoreApplication.translate("TrustDialog", TRUST_BUTTON),
            QDialogButtonBox.ButtonRole.AcceptRole,
        )
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setDefault(True)  # Enter never trusts by accident
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)


def confirm_replace(parent: QWidget | None, where: str, new_sha256: str) -> bool:
    """The second question of CertificateChangedDialog (its context for translation)."""
    translate = QCoreApplication.translate
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        translate("CertificateChangedDialog", "Replace the trusted certificate"),
        translate("CertificateChangedDialog", "Replace the trusted certificate of {where}?").format(
            where=where
        ),
        parent=parent,
    )
    box.setInformativeText(
        translate(
            "CertificateChangedDialog",
            "Do this only after the server's administrator confirmed that the server now "
            "presents the certificate with SHA-256\n{sha256}",
        ).format(sha256=new_sha256)
    )
    box.setStandardButtons(QMessageBox.StandardButton.Cancel)
    replace = box.addButton(
        translate("CertificateChangedDialog", "Replace"), QMessageBox.ButtonRole.DestructiveRole
    )
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is replace


class CertificateChangedDialog(QDialog):
    """The loud one: both fingerprints; Cancel, or replace after a second question."""

    def __init__(
        self,
        parent: QWidget | None,
        change: CertificateChange,
        confirm: Callable[[QWidget | None, str, str], bool] = confirm_replace,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Certificate changed"))
        self._change = change
        self._confirm = confirm
        self.where = f"{change.host}:{change.port}"
        layout = QVBoxLayout(self)
        heading = _text(
            self.tr("WARNING: the certificate of {server} has changed!").format(server=self.where),
            bold=True,
            error=True,
        )
        font = QFont(heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        heading.setFont(font)
        layout.addWidget(heading)
        layout.addWidget(
            _text(
                self.tr(
                    "Someone could be intercepting the connection (a man-in-the-middle attack), "
                    "or the server's certificate was renewed. Nothing was sent to the server. "
                    "Ask the server's administrator whether the new fingerprint is right before "
                    "you replace the trusted certificate."
                )
            )
        )
        form = QFormLayout()
        trusted_on = _day(change.trusted_at) or self.tr("unknown")
        form.addRow(
            self.tr("Trusted SHA-256:"), _value(_fingerprint(change.old_sha256_colons), True)
        )
        form.addRow(self.tr("Trusted on:"), _value(trusted_on))
        form.addRow(
            self.tr("Presented SHA-256:"), _value(_fingerprint(change.new_sha256_colons), True)
        )
        if change.presented is not None:
            presented = change.presented
            valid = self.tr("{start} to {end}").format(
                start=_day(presented.not_before), end=_day(presented.not_after)
            )
            form.addRow(self.tr("Presented SHA-1:"), _value(presented.sha1_colons, True))
            form.addRow(self.tr("Subject:"), _value(presented.subject))
            form.addRow(self.tr("Issuer:"), _value(presented.issuer))
            form.addRow(self.tr("Valid:"), _value(valid))
        layout.addLayout(form)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.replace_button = QPushButton(
            QCoreApplication.translate("CertificateChangedDialog", REPLACE_BUTTON)
        )
        self.replace_button.setAutoDefault(False)
        self.buttons.addButton(self.replace_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.cancel_button.setDefault(True)
        self.replace_button.clicked.connect(self._replace)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

    def _replace(self) -> None:
        if self._confirm(self, self.where, self._change.new_sha256_colons):
            self.accept()


def ask_trust(parent: QWidget | None, request: LoginRequest, details: CertificateDetails) -> bool:
    """True: the user trusts this certificate for the server (the caller pins it)."""
    return TrustDialog(parent, host_of(request), details).exec() == QDialog.DialogCode.Accepted


def show_certificate_changed(
    parent: QWidget | None, request: LoginRequest, change: CertificateChange
) -> bool:
    """True only when the user chose to replace the trusted certificate, and confirmed it."""
    return CertificateChangedDialog(parent, change).exec() == QDialog.DialogCode.Accepted
