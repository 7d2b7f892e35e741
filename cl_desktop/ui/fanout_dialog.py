"""Upload to several libraries: one local file (or .ovf/.ova template) into an item of the
same name in each library chosen (of any connected server), read once for all of them (one
fan-out job)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.transfers.jobs import Direction, FanoutTarget, JobSpec
from cl_desktop.transfers.naming import item_name_for

from .compare_dialog import LibraryEntry


class FanoutDialog(QDialog):
    def __init__(self, entries: list[LibraryEntry], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Upload to several libraries"))
        # wide enough for "Library (user@server:port)" without cutting the server off
        self.resize(self.fontMetrics().averageCharWidth() * 90, self.sizeHint().height())
        self._entries = list(entries)
        self.file_edit = QLineEdit()
        self.file_edit.textChanged.connect(self._file_changed)
        browse = QPushButton(self.tr("Browse..."))
        browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(browse)
        self.name_edit = QLineEdit()
        self._named_after_file = True  # the name follows the file until the user types one
        self.name_edit.textEdited.connect(self._name_edited)
        self.libraries = QListWidget()
        for entry in self._entries:
            row = QListWidgetItem(entry.label)
            row.setFlags(row.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            row.setCheckState(Qt.CheckState.Unchecked)
            self.libraries.addItem(row)
        form = QFormLayout()
        form.addRow(self.tr("File:"), file_row)
        form.addRow(self.tr("Item name:"), self.name_edit)
        note = QLabel(
            self.tr(
                "Each library chosen gets the file in an item of this name: updated when it "
                "exists, created otherwise. The file is read once for all of them; a library "
                "that is slow or fails does not hold up the others."
            )
        )
        note.setWordWrap(True)
        self.error = QLabel()
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Upload"))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(self.tr("Libraries:")))
        layout.addWidget(self.libraries, 1)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("File to upload"))
        if path:
            self.file_edit.setText(path)

    def _file_changed(self, text: str) -> None:
        if self._named_after_file:
            self.name_edit.setText(item_name_for(Path(text).name) if text else "")

    def _name_edited(self, text: str) -> None:
        self._named_after_file = not text

    def check(self, entry: LibraryEntry, checked: bool = True) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        self.libraries.item(self._entries.index(entry)).setCheckState(state)

    def chosen(self) -> list[LibraryEntry]:
        return [
            entry
            for index, entry in enumerate(self._entries)
            if self.libraries.item(index).checkState() == Qt.CheckState.Checked
        ]

    def problem(self) -> str:
        """Why the upload cannot start as filled in ("" when it can)."""
        text = self.file_edit.text().strip()
        if not text:
            return self.tr("Choose a file to upload.")
        if not Path(text).is_file():
            return self.tr("{path} is not a file.").format(path=text)
        if not self.name_edit.text().strip():
            return self.tr("Give the item a name.")
        if not self.chosen():
            return self.tr("Choose at least one library.")
        return ""

    def accept(self) -> None:
        problem = self.problem()
        self.error.setText(problem)
        if not problem:
            super().accept()

    def spec(self) -> JobSpec:
        """The fan-out job of what was filled in (once `problem()` is "")."""
        name = self.name_edit.text().strip()
        targets = tuple(
            FanoutTarget(e.server, e.library_id, None, name, e.name) for e in self.chosen()
        )
        first = targets[0]
        path = str(Path(self.file_edit.text().strip()).resolve())
        return JobSpec(Direction.UPLOAD, first.server, first.library_id, item_name=name,
                       paths=(path,), fanout_targets=targets)  # fmt: skip
