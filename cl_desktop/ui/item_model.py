"""ItemTableModel: the items of one library, and the filter proxy in front of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

from cl_desktop.api.models import ItemModel

from . import format as fmt

Index = QModelIndex | QPersistentModelIndex

NAME, TYPE, SIZE, CACHED, CONTENT_VERSION, MODIFIED = range(6)
HEADERS = ("Name", "Type", "Size", "Cached", "Content version", "Last modified")
ItemRole = Qt.ItemDataRole.UserRole + 1
_EPOCH = datetime.fromtimestamp(0).astimezone()


def _version_key(text: str | None) -> tuple[int, str]:
    return (int(text), "") if text and text.isdigit() else (-1, text or "")


_SORT_KEYS: dict[int, Callable[[ItemModel], Any]] = {
    NAME: lambda item: (item.name or "").casefold(),
    TYPE: lambda item: item.type or "",
    SIZE: lambda item: item.size if item.size is not None else -1,
    CACHED: lambda item: item.cached is True,
    CONTENT_VERSION: lambda item: _version_key(item.content_version),
    MODIFIED: lambda item: item.last_modified_time or _EPOCH,
}


class ItemTableModel(QAbstractTableModel):
    """Library items as rows. Sorting happens here, in Python, for the whole list at once
    (a proxy would call back into Python for every comparison); the proxy only filters."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[ItemModel] = []
        self._sort_column = NAME
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._icons: dict[str, QIcon] = {}

    # --- content ---------------------------------------------------------------------------

    def set_items(self, items: Iterable[ItemModel]) -> None:
        self.beginResetModel()
        self._items = self._sorted(items)
        self.endResetModel()

    def clear(self) -> None:
        self.set_items(())

    def item(self, row: int) -> ItemModel:
        return self._items[row]

    def items(self) -> Sequence[ItemModel]:
        return tuple(self._items)

    def row_of(self, item_id: str) -> int:
        for row, item in enumerate(self._items):
            if item.id == item_id:
                return row
        return -1

    def row_of_name(self, name: str) -> int:
        for row, item in enumerate(self._items):
            if item.name == name:
                return row
        return -1

    def _sorted(self, items: Iterable[ItemModel]) -> list[ItemModel]:
        return sorted(
            items,
            key=_SORT_KEYS[self._sort_column],
            reverse=self._sort_order == Qt.SortOrder.DescendingOrder,
        )

    # --- QAbstractItemModel ----------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == ItemRole:
            return item
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            return self._icon(item.type)
        if role == Qt.ItemDataRole.ToolTipRole and column == NAME:
            return f"{item.name}\n{item.description}" if item.description else item.name
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (SIZE, CONTENT_VERSION):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(item: ItemModel, column: int) -> str:
        if column == NAME:
            return item.name or item.id or ""
        if column == TYPE:
            return item.type or ""
        if column == SIZE:
            return fmt.size(item.size)
        if column == CACHED:
            return fmt.yes_no(item.cached)
        if column == CONTENT_VERSION:
            return item.content_version or ""
        return fmt.timestamp(item.last_modified_time)

    def _icon(self, item_type: str | None) -> QIcon:
        key = (item_type or "").lower()
        icon = self._icons.get(key)
        if icon is None:
            pixmap = {
                "iso": QStyle.StandardPixmap.SP_DriveCDIcon,
                "ovf": QStyle.StandardPixmap.SP_ComputerIcon,
                "vm-template": QStyle.StandardPixmap.SP_ComputerIcon,
            }.get(key, QStyle.StandardPixmap.SP_FileIcon)
            icon = self._icons[key] = QApplication.style().standardIcon(pixmap)
        return icon

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(HEADERS)
        ):
            return HEADERS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemNeverHasChildren
        )

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column not in _SORT_KEYS:
            return
        self.layoutAboutToBeChanged.emit()
        old_rows = {id(item): row for row, item in enumerate(self._items)}
        self._sort_column, self._sort_order = column, order
        old_items = self._items
        self._items = self._sorted(old_items)
        new_row = {old_rows[id(item)]: row for row, item in enumerate(self._items)}
        old_indexes = self.persistentIndexList()
        self.changePersistentIndexList(
            old_indexes,
            [self.index(new_row[i.row()], i.column()) for i in old_indexes],
        )
        self.layoutChanged.emit()


class ItemFilterProxy(QSortFilterProxyModel):
    """Filters by name as you type; sorting is passed on to the source model."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterKeyColumn(NAME)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)
