"""LibraryTreeModel: the connected server and its content libraries, for the library tree."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyle

from cl_desktop.api.models import LibraryModel

LibraryIdRole = Qt.ItemDataRole.UserRole + 10


class LibraryTreeModel(QStandardItemModel):
    """One root row for the server, its libraries below it sorted by name; each library row
    carries its id in LibraryIdRole (the tree's drops and the window's selection use it)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        style = QApplication.style()
        self._server_icon = style.standardIcon(QStyle.StandardPixmap.SP_DriveNetIcon)
        self._library_icon = style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)

    def set_libraries(self, server_text: str, libraries: Sequence[LibraryModel]) -> None:
        self.clear()
        root = QStandardItem(server_text)
        root.setIcon(self._server_icon)
        root.setEditable(False)
        root.setToolTip("Drop files on a library to create new items")
        for lib in sorted(libraries, key=lambda lib: (lib.name or "").casefold()):
            node = QStandardItem(lib.name or lib.id or "")
            node.setEditable(False)
            node.setData(lib.id, LibraryIdRole)
            node.setToolTip(f"{lib.type or ''} library {lib.id}")
            node.setIcon(self._library_icon)
            root.appendRow(node)
        self.appendRow(root)

    def library_index(self, library_id: str | None) -> QModelIndex:
        """The row of `library_id` (invalid when it is not listed)."""
        root = self.item(0)
        if root is None or not library_id:
            return QModelIndex()
        for row in range(root.rowCount()):
            node = root.child(row)
            if node.data(LibraryIdRole) == library_id:
                return node.index()
        return QModelIndex()

    def first_library(self) -> QModelIndex:
        root = self.item(0)
        return root.child(0).index() if root is not None and root.rowCount() else QModelIndex()
