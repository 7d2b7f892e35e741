"""The item table and the library tree: the views that accept files from a file manager."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QDrag, QPainter, QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QTreeView, QWidget

from cl_desktop.transfers.jobs import ServerRef

from .colors import error_color
from .copying import DraggedItems, dragged_items
from .drops import DropSpot, FileDrops, TakesFileDrops, local_paths
from .item_model import item_of
from .library_model import LibraryIdRole, ServerRole


def setup_table(view: QTableView, widths: dict[int, int] | None = None) -> None:
    """Row-selecting table without a grid; compact fixed-height rows (no per-row sizing, so
    large models stay fast); every column at least as wide as its title, some wider."""
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    view.setShowGrid(False)
    view.setAlternatingRowColors(True)
    rows = view.verticalHeader()
    rows.hide()
    rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    rows.setDefaultSectionSize(view.fontMetrics().height() + 8)
    header = view.horizontalHeader()
    header.setStretchLastSection(True)
    header.setSectionsMovable(True)
    model = view.model()
    metrics = header.fontMetrics()
    for column in range(model.columnCount() if model is not None else 0):
        title = str(model.headerData(column, Qt.Orientation.Horizontal) or "")
        wanted = max(header.defaultSectionSize(), metrics.horizontalAdvance(title) + 28)
        header.resizeSection(column, (widths or {}).get(column, wanted))


class ItemTableView(TakesFileDrops, QTableView):
    """The item table. A drop on a row uploads into that item; a drop on the empty area
    creates new items. Shows a placeholder ("Loading...", an error) when it has no rows.

    Signals:
        files_dropped(ItemModel | None, list[str]): the target item (None: the library).
    """

    files_dropped = Signal(object, list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSortingEnabled(True)
        self._placeholder = ""
        self._placeholder_is_error = False
        self.drops_enabled = False  # no library selected: nowhere to upload to
        self._drops = FileDrops(
            self, self._drop_spot, self.files_dropped.emit, lambda: self.drops_enabled
        )
        # the selected items may be dragged onto a library of the tree (a copy); the window
        # says what a drag carries (None: nothing to drag)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.drag_items: Callable[[], QMimeData | None] = lambda: None

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        mime = self.drag_items()
        if mime is not None:
            drag = QDrag(self)
            drag.setMimeData(mime)
            drag.exec(Qt.DropAction.CopyAction)

    def set_placeholder(self, text: str, error: bool = False) -> None:
        self._placeholder, self._placeholder_is_error = text, error
        self.viewport().update()

    @property
    def placeholder(self) -> str:
        return self._placeholder

    # --- drag and drop ---------------------------------------------------------------------

    def _drop_spot(self, pos: QPoint) -> DropSpot:
        index = self.indexAt(pos)
        if index.isValid():
            first = self.visualRect(index.siblingAtColumn(0))
            row = QRect(0, first.top(), self.viewport().width(), first.height())
            return DropSpot(item_of(index), row)
        return DropSpot(None, self.viewport().rect())

    # --- painting --------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if self._placeholder and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            color = (
                error_color(self.palette())
                if self._placeholder_is_error
                else self.palette().color(
                    self.palette().ColorGroup.Disabled, self.palette().ColorRole.Text
                )
            )
            painter.setPen(color)
            area = self.viewport().rect().adjusted(24, 24, -24, -24)
            flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
            painter.drawText(area, int(flags), self._placeholder)
            painter.end()
        self._drops.paint()


class LibraryTreeView(TakesFileDrops, QTreeView):
    """Servers -> libraries. Files dropped on a library become new items in it; items dragged
    from the item table are copied into it.

    Signals:
        files_dropped(ServerRef, str library_id, list[str])
        items_dropped(ServerRef, str library_id, DraggedItems)
    """

    files_dropped = Signal(object, str, list)
    items_dropped = Signal(object, str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self._drops = FileDrops(self, self._drop_spot, self._dropped, payload=_files_or_items)

    def _drop_spot(self, pos: QPoint) -> DropSpot | None:
        index = self.indexAt(pos)
        library_id = index.data(LibraryIdRole) if index.isValid() else None
        if not library_id:
            return None
        return DropSpot((index.data(ServerRole), str(library_id)), self.visualRect(index))

    def _dropped(self, target: tuple[ServerRef, str], payload: Any) -> None:
        if isinstance(payload, DraggedItems):
            self.items_dropped.emit(*target, payload)
        else:
            self.files_dropped.emit(*target, payload)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        self._drops.paint()


def _files_or_items(mime: QMimeData) -> DraggedItems | list[str] | None:
    """What a drag brings the tree: items of the item table, or local files."""
    return dragged_items(mime) or local_paths(mime)
