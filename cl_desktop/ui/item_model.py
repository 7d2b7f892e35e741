"""ItemTableModel: the items of one library, and the filter/sort proxy in front of it."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QModelIndex,
    QObject,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QIcon, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyle

from cl_desktop.api.models import ItemModel

from . import format as fmt

NAME, TYPE, SIZE, CACHED, CONTENT_VERSION, MODIFIED, NOTE = range(7)
HEADERS = (
    str(QT_TRANSLATE_NOOP("ItemTableModel", "Name")),
    str(QT_TRANSLATE_NOOP("ItemTableModel", "Type")),
    str(QT_TRANSLATE_NOOP("ItemTableModel", "Size")),
    str(QT_TRANSLATE_NOOP("ItemTableModel", "Cached")),
    str(QT_TRANSLATE_NOOP("ItemTableModel", "Content version")),
    str(QT_TRANSLATE_NOOP("ItemTableModel", "Last modified")),
    str(QT_TRANSLATE_NOOP("ItemTableModel", "Note")),
)
# What the Note column says of an item a local upload job is filling, or left empty. The
# notes are kept (and compared) as these; the cell shows them translated.
UPLOADING = str(QT_TRANSLATE_NOOP("ItemTableModel", "uploading"))
LEFTOVER = str(QT_TRANSLATE_NOOP("ItemTableModel", "empty, created by a failed upload"))
ItemRole = int(Qt.ItemDataRole.UserRole) + 1  # the ItemModel, on the Name column
SortRole = int(Qt.ItemDataRole.UserRole) + 2  # numeric sort keys: Size, Content version
NUMERIC_COLUMNS = (SIZE, CONTENT_VERSION)
RESET_ABOVE = 200  # more new items than this: rebuild the whole table in one reset
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ALIGNMENT_ROLE = int(Qt.ItemDataRole.TextAlignmentRole)
_TYPE_ICONS = {
    "iso": QStyle.StandardPixmap.SP_DriveCDIcon,
    "ovf": QStyle.StandardPixmap.SP_ComputerIcon,
    "vm-template": QStyle.StandardPixmap.SP_ComputerIcon,
}


def item_of(index: QModelIndex) -> ItemModel | None:
    """The ItemModel of any cell of a row (of the model or of a proxy in front of it)."""
    if not index.isValid():
        return None
    value = index.siblingAtColumn(NAME).data(ItemRole)
    return value if isinstance(value, ItemModel) else None


def _version_key(text: str | None) -> int:
    return int(text) if text and text.isdigit() else -1


class ItemTableModel(QStandardItemModel):
    """Library items as rows, with the cell values on the C++ side.

    Cells are read-only through the view (it has no edit triggers), so their default flags
    do. Painting, filtering and sorting 10,000 items then run without calling back into Python
    (each call back is slow, and slower still while transfer threads hold the GIL). Reloads
    of the same library update only the rows that changed, so a refresh during transfers
    costs little. Source rows keep their order; the proxy sorts.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setHorizontalHeaderLabels([self.tr(header) for header in HEADERS])
        self._items: list[ItemModel] = []
        self._icons: dict[str, QIcon] = {}
        self._notes: dict[str, str] = {}

    # --- content ---------------------------------------------------------------------------

    def set_items(self, items: Iterable[ItemModel]) -> None:
        """Show `items`: rows of unchanged items stay, changed ones are rewritten in place."""
        new = list(items)
        known = {item.id for item in self._items}
        added = sum(1 for item in new if item.id not in known)
        if added > RESET_ABOVE or not self._items:
            self._reset(new)
            return
        self.keep_only({item.id or "" for item in new})
        self.add_items(new)

    def keep_only(self, ids: Collection[str]) -> int:
        """Remove the rows of items not in `ids` (gone from the server); how many."""
        gone = [row for row, item in enumerate(self._items) if item.id not in ids]
        for gone_row in reversed(gone):
            del self._items[gone_row]
            self.removeRow(gone_row)
        return len(gone)

    def add_items(self, items: Sequence[ItemModel]) -> None:
        """Rewrite the rows of changed items in place and append the new ones in one batch
        (one insert and one change for the proxy, not a pair of signals per row)."""
        if not self._items:
            self._reset(list(items))
            return
        rows = {item.id: row for row, item in enumerate(self._items)}
        fresh: list[ItemModel] = []
        changed: list[int] = []
        for item in items:
            row = rows.get(item.id)
            if row is None:
                rows[item.id] = -1  # twice in one page: once
                fresh.append(item)
            elif row >= 0 and self._items[row] != item:
                self._items[row] = item
                changed.append(row)
        if changed:  # rewritten quietly, then one change over their span
            blocked = self.blockSignals(True)
            try:
                for row in changed:
                    for column, cell in enumerate(self._cells(self._items[row])):
                        self.setItem(row, column, cell)
            finally:
                self.blockSignals(blocked)
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), NOTE))
        if not fresh:
            return
        first = len(self._items)
        cells = [self._cells(item) for item in fresh]
        self.insertRows(first, len(fresh))  # empty rows: the proxy sees one insert
        blocked = self.blockSignals(True)
        try:
            for row, row_cells in enumerate(cells, first):
                for column, cell in enumerate(row_cells):
                    self.setItem(row, column, cell)
        finally:
            self.blockSignals(blocked)
        self._items.extend(fresh)
        # then one change for the filled rows: the proxy filters and sorts them once
        self.dataChanged.emit(self.index(first, 0), self.index(first + len(fresh) - 1, NOTE))

    def set_notes(self, notes: Mapping[str, str]) -> None:
        """The Note column: item id -> note (an item not named has none)."""
        old, self._notes = self._notes, dict(notes)
        for row, item in enumerate(self._items):
            note = self._notes.get(item.id or "", "")
            if note != old.get(item.id or "", ""):
                self.setItem(row, NOTE, QStandardItem(self._note_text(note)))

    def note(self, item_id: str) -> str:
        return self._notes.get(item_id, "")

    @staticmethod
    def _note_text(note: str) -> str:
        return QCoreApplication.translate("ItemTableModel", note) if note else ""

    def _reset(self, items: list[ItemModel]) -> None:
        # Row by row, a sorting proxy would re-sort after every insert; one reset lets it
        # sort once.
        self.beginResetModel()
        blocked = self.blockSignals(True)
        try:
            self.removeRows(0, self.rowCount())
            self._items = items
            for item in items:
                self.appendRow(self._cells(item))
        finally:
            self.blockSignals(blocked)
        self.endResetModel()

    def clear(self) -> None:  # unlike QStandardItemModel.clear, keeps the header labels
        self._items.clear()
        self.removeRows(0, self.rowCount())

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting is the proxy's job: source rows must stay in the order of `items()`."""

    def item_at(self, row: int) -> ItemModel:
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

    def _cells(self, item: ItemModel) -> list[QStandardItem]:
        # Called 10,000 times for a big library: plain ints for roles, no enum conversions
        # (setFlags and friends), so that a reset stays well under a second.
        name = QStandardItem(self._icon(item.type), item.name or item.id or "")
        name.setData(item, ItemRole)
        if item.description:
            tip = f"{item.name}\n{item.description}"  # the server's words: nothing to translate
            name.setToolTip(tip)
        size = QStandardItem(fmt.size(item.size))
        size.setData(item.size if item.size is not None else -1, SortRole)
        size.setData(_RIGHT, _ALIGNMENT_ROLE)
        version = QStandardItem(item.content_version or "")
        version.setData(_version_key(item.content_version), SortRole)
        version.setData(_RIGHT, _ALIGNMENT_ROLE)
        return [
            name,
            QStandardItem(item.type or ""),
            size,
            QStandardItem(fmt.yes_no(item.cached)),
            version,
            QStandardItem(fmt.timestamp(item.last_modified_time)),  # ISO-like: sorts as text
            QStandardItem(self._note_text(self._notes.get(item.id or "", ""))),
        ]

    def _icon(self, item_type: str | None) -> QIcon:
        key = (item_type or "").lower()
        icon = self._icons.get(key)
        if icon is None:
            pixmap = _TYPE_ICONS.get(key, QStyle.StandardPixmap.SP_FileIcon)
            icon = self._icons[key] = QApplication.style().standardIcon(pixmap)
        return icon


class ItemFilterProxy(QSortFilterProxyModel):
    """Filters by name as you type and sorts, both in C++ (numbers by their value)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setFilterKeyColumn(NAME)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        numeric = column in NUMERIC_COLUMNS
        self.setSortRole(SortRole if numeric else Qt.ItemDataRole.DisplayRole)
        super().sort(column, order)
