"""LibraryTreeModel: each connected server and its content libraries, for the library tree."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyle

from cl_desktop.api.models import LibraryModel
from cl_desktop.transfers.jobs import ServerRef

LibraryIdRole = Qt.ItemDataRole.UserRole + 10
ServerRole = Qt.ItemDataRole.UserRole + 11  # on a server's row and on each of its libraries


class LibraryTreeModel(QStandardItemModel):
    """One root row per connected server (its label), in the order they were connected; its
    libraries below it sorted by name. Library ids are unique per server only, so each row
    carries its server (ServerRole) and each library row its id (LibraryIdRole); the tree's
    drops and the window's selection use both."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        style = QApplication.style()
        self._server_icon = style.standardIcon(QStyle.StandardPixmap.SP_DriveNetIcon)
        self._library_icon = style.standardIcon(QStyle.StandardPixmap.SP_DirIcon)

    def servers(self) -> list[ServerRef]:
        roots = (self.item(row) for row in range(self.rowCount()))
        return [root.data(ServerRole) for root in roots if root is not None]

    def _root(self, server: ServerRef) -> QStandardItem | None:
        for row in range(self.rowCount()):
            root = self.item(row)
            if root is not None and root.data(ServerRole) == server:
                return root
        return None

    def set_libraries(self, server: ServerRef, libraries: Sequence[LibraryModel]) -> None:
        """The libraries of `server`: its root is added, or its rows replaced."""
        root = self._root(server)
        if root is None:
            root = QStandardItem(server.label)
            root.setIcon(self._server_icon)
            root.setEditable(False)
            root.setData(server, ServerRole)
            root.setToolTip(self.tr("{url} as {user}").format(url=server.url, user=server.username))
            self.appendRow(root)
        else:
            root.removeRows(0, root.rowCount())
        for lib in sorted(libraries, key=lambda lib: (lib.name or "").casefold()):
            node = QStandardItem(lib.name or lib.id or "")
            node.setEditable(False)
            node.setData(lib.id, LibraryIdRole)
            node.setData(server, ServerRole)
            tip = self.tr(
                "{type} library {id}; drop files to create new items, or items from the table "
                "to copy them here"
            )
            node.setToolTip(tip.format(type=lib.type or "", id=lib.id))
            node.setIcon(self._library_icon)
            root.appendRow(node)

    def remove_server(self, server: ServerRef) -> None:
        root = self._root(server)
        if root is not None:
            self.removeRow(root.row())

    def server_index(self, server: ServerRef | None) -> QModelIndex:
        root = self._root(server) if server is not None else None
        return root.index() if root is not None else QModelIndex()

    def library_index(self, server: ServerRef | None, library_id: str | None) -> QModelIndex:
        """The row of `library_id` of `server` (invalid when it is not listed)."""
        root = self._root(server) if server is not None else None
        if root is None or not library_id:
            return QModelIndex()
        for row in range(root.rowCount()):
            node = root.child(row)
            if node.data(LibraryIdRole) == library_id:
                return node.index()
        return QModelIndex()

    def first_library(self, server: ServerRef | None = None) -> QModelIndex:
        """The first library of `server` (of the first server that has one when None)."""
        roots = (
            [self._root(server)] if server is not None else map(self.item, range(self.rowCount()))
        )
        for root in roots:
            if root is not None and root.rowCount():
                return root.child(0).index()
        return QModelIndex()
