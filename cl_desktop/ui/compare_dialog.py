"""Compare libraries: two libraries of any connected servers side by side, the differences,
and the copies that make the second like the first (queued as ordinary jobs)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.api.models import ItemModel
from cl_desktop.services.compare import LibraryComparer
from cl_desktop.services.errors import ErrorInfo
from cl_desktop.transfers.compare import ItemComparison, ItemStatus, LibraryComparison
from cl_desktop.transfers.jobs import ServerRef

from . import format as fmt
from .library_model import LibraryIdRole, LibraryTreeModel, ServerRole


@dataclass(frozen=True)
class LibraryEntry:
    server: ServerRef
    library_id: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.server.label})"

    @property
    def key(self) -> tuple[ServerRef, str]:
        return self.server, self.library_id


def connected_libraries(model: LibraryTreeModel) -> list[LibraryEntry]:
    """Every library the tree shows, of every connected server."""
    entries = []
    for row in range(model.rowCount()):
        root = model.item(row)
        for child in range(root.rowCount()):
            node = root.child(child)
            entries.append(LibraryEntry(node.data(ServerRole), node.data(LibraryIdRole),
                                        node.text()))  # fmt: skip
    return entries


COLUMNS = ("Item", "Status", "A", "B", "Differences")


class CompareDialog(QDialog):
    """Pick A and B, Compare; then "Copy missing to B" and "Update changed in B"."""

    def __init__(self, comparer: LibraryComparer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Compare libraries"))
        self.resize(900, 480)
        self._comparer = comparer
        self._entries: list[LibraryEntry] = []
        self._compared: tuple[LibraryEntry, LibraryEntry, LibraryComparison] | None = None
        self.side_a = QComboBox()
        self.side_b = QComboBox()
        self.compare_button = QPushButton(self.tr("Compare"))
        self.compare_button.clicked.connect(self.compare)
        pick = QFormLayout()
        pick.addRow(self.tr("Library A:"), self.side_a)
        pick.addRow(self.tr("Library B:"), self.side_b)
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch
        )
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.copy_missing_button = QPushButton(self.tr("Copy missing to B"))
        self.copy_missing_button.setToolTip(self.tr("Copy the items only in A into B"))
        self.copy_missing_button.clicked.connect(self.copy_missing)
        self.update_changed_button = QPushButton(self.tr("Update changed in B"))
        self.update_changed_button.setToolTip(
            self.tr("Copy A's version of each changed item over B's")
        )
        self.update_changed_button.clicked.connect(self.update_changed)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        actions = QHBoxLayout()
        actions.addWidget(self.copy_missing_button)
        actions.addWidget(self.update_changed_button)
        actions.addStretch(1)
        actions.addWidget(close)
        top = QHBoxLayout()
        top.addLayout(pick, 1)
        top.addWidget(self.compare_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addLayout(actions)
        self._enable_sync(None)

    def set_libraries(self, entries: list[LibraryEntry]) -> None:
        """The libraries to choose from (the choice kept where it still exists)."""
        chosen = [self._entry(box) for box in (self.side_a, self.side_b)]
        self._entries = list(entries)
        for box, default, keep in ((self.side_a, 0, chosen[0]), (self.side_b, 1, chosen[1])):
            box.clear()
            for entry in self._entries:
                box.addItem(entry.label)
            index = self._entries.index(keep) if keep in self._entries else default
            box.setCurrentIndex(min(index, len(self._entries) - 1))
        self.compare_button.setEnabled(len(self._entries) > 1)
        if len(self._entries) < 2:
            self.status.setText(self.tr("Connect to a server with two libraries, or to two "
                                        "servers, to compare libraries."))  # fmt: skip

    def choose(self, a: LibraryEntry, b: LibraryEntry) -> None:
        self.side_a.setCurrentIndex(self._entries.index(a))
        self.side_b.setCurrentIndex(self._entries.index(b))

    def _entry(self, box: QComboBox) -> LibraryEntry | None:
        index = box.currentIndex()
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def compare(self) -> None:
        a, b = self._entry(self.side_a), self._entry(self.side_b)
        if a is None or b is None:
            return
        if a == b:
            self.status.setText(self.tr("Choose two different libraries."))
            return
        self.compare_button.setEnabled(False)
        self.status.setText(self.tr("Comparing {a} with {b}...").format(a=a.label, b=b.label))
        self._comparer.compare(a.key, b.key, lambda result: self._show(a, b, result), self._failed)

    def _show(self, a: LibraryEntry, b: LibraryEntry, result: LibraryComparison) -> None:
        self.compare_button.setEnabled(True)
        self._compared = (a, b, result)
        self.model.removeRows(0, self.model.rowCount())
        for item in result.items:
            self.model.appendRow([QStandardItem(text) for text in self._row(item)])
        self.table.resizeColumnsToContents()
        counts = {status: len(result.of(status)) for status in ItemStatus}
        if result.identical:
            self.status.setText(self.tr("The libraries hold the same {n} items.")
                                .format(n=counts[ItemStatus.SAME]))  # fmt: skip
        else:
            self.status.setText(
                self.tr("{a} only in A, {b} only in B, {c} changed, {s} the same.").format(
                    a=counts[ItemStatus.ONLY_A],
                    b=counts[ItemStatus.ONLY_B],
                    c=counts[ItemStatus.CHANGED],
                    s=counts[ItemStatus.SAME],
                )
            )
        self._enable_sync(result)

    def _row(self, item: ItemComparison) -> list[str]:
        words = {
            ItemStatus.ONLY_A: self.tr("only in A"),
            ItemStatus.ONLY_B: self.tr("only in B"),
            ItemStatus.SAME: self.tr("same"),
            ItemStatus.CHANGED: self.tr("changed"),
        }
        return [item.name, words[item.status], self._side(item.a), self._side(item.b),
                "; ".join(item.differences)]  # fmt: skip

    def _side(self, model: ItemModel | None) -> str:
        if model is None:
            return "-"
        size = fmt.size(model.size) if model.size is not None else "?"  # as the item table
        version = model.content_version or "?"
        return self.tr("{size}, version {version}").format(size=size, version=version)

    def _failed(self, error: ErrorInfo) -> None:
        self.compare_button.setEnabled(True)
        self.status.setText(self.tr("Could not compare: {error}").format(error=error.text))

    def _enable_sync(self, result: LibraryComparison | None) -> None:
        missing = bool(result and result.of(ItemStatus.ONLY_A))
        changed = bool(result and result.of(ItemStatus.CHANGED))
        self.copy_missing_button.setEnabled(missing)
        self.update_changed_button.setEnabled(changed)

    def copy_missing(self) -> None:
        self._queue(ItemStatus.ONLY_A)

    def update_changed(self) -> None:
        self._queue(ItemStatus.CHANGED)

    def _queue(self, status: ItemStatus) -> None:
        if self._compared is None:
            return
        a, b, result = self._compared
        count = self._comparer.queue_copy(a.key, b.key, result.of(status))
        # queued once: a second click would copy them again ("NAME (2)"); Compare re-enables
        button = self.copy_missing_button if status is ItemStatus.ONLY_A else None
        (button or self.update_changed_button).setEnabled(False)
        self.status.setText(self.tr("{n} copy jobs queued; compare again once they are done.")
                            .format(n=count))  # fmt: skip
