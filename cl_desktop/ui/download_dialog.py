"""The download options asked after the folder: an OVF template as loose files or one .ova, and
what to do when the target is already there. Asked only when one of them applies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.transfers.jobs import Existing


@dataclass(frozen=True)
class DownloadChoice:
    as_ova: bool = False
    existing: Existing = Existing.KEEP_BOTH


@dataclass(frozen=True)
class DownloadQuestion:
    """`offer_ova`: an OVF template is among the downloads; `exists`: the targets already in
    the folder (the if-exists choice is shown only then); `initial`: the remembered answer."""

    what: str
    folder: str
    offer_ova: bool
    exists: Sequence[str]
    initial: DownloadChoice


EXISTING_LABELS = (  # translated where shown
    (
        Existing.KEEP_BOTH,
        str(QT_TRANSLATE_NOOP("DownloadOptionsDialog", "&Keep both (the new copy gets a number)")),
    ),
    (Existing.OVERWRITE, str(QT_TRANSLATE_NOOP("DownloadOptionsDialog", "&Overwrite"))),
    (Existing.SKIP, str(QT_TRANSLATE_NOOP("DownloadOptionsDialog", "&Skip"))),
)


class DownloadOptionsDialog(QDialog):
    def __init__(self, parent: QWidget | None, question: DownloadQuestion) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Download"))
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                self.tr("Download {what} to {folder}").format(
                    what=question.what, folder=question.folder
                )
            )
        )
        self.loose = QRadioButton(self.tr("&Loose files (.ovf and disks)"))
        self.ova = QRadioButton(self.tr("One .&ova file"))
        if question.offer_ova:
            box = QGroupBox(self.tr("Save the OVF template as"))
            inner = QVBoxLayout(box)
            for button in (self.loose, self.ova):
                inner.addWidget(button)
            layout.addWidget(box)
        (self.ova if question.initial.as_ova else self.loose).setChecked(True)
        self.existing = QButtonGroup(self)
        if question.exists:
            box = QGroupBox(self.tr("Already in the folder"))
            inner = QVBoxLayout(box)
            shown = ", ".join(question.exists[:6]) + (", ..." if len(question.exists) > 6 else "")
            inner.addWidget(QLabel(shown))
            for policy, label in EXISTING_LABELS:
                button = QRadioButton(QCoreApplication.translate("DownloadOptionsDialog", label))
                button.setProperty("policy", policy.value)
                button.setChecked(policy is question.initial.existing)
                self.existing.addButton(button)
                inner.addWidget(button)
            layout.addWidget(box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Download"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._initial = question.initial

    def answer(self) -> DownloadChoice:
        checked = self.existing.checkedButton()
        existing = Existing(checked.property("policy")) if checked else self._initial.existing
        return DownloadChoice(self.ova.isChecked(), existing)


def ask_download_options(
    parent: QWidget | None, question: DownloadQuestion
) -> DownloadChoice | None:
    dialog = DownloadOptionsDialog(parent, question)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.answer()
