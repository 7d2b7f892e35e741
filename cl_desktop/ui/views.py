"""Views that accept files dropped from the file manager: the item table and the library tree."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QTreeView, QWidget

from .item_model import item_of

LibraryIdRole = Qt.ItemDataRole.UserRole + 10


def local_paths(mime: QMimeData) -> list[str]:
    """The local files in a drag (URLs from a file manager); remote URLs are ignored."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


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


def _paint_drop_target(view: QAbstractItemView, rect: QRect) -> None:
    painter = QPainter(view.viewport())
    pen = QPen(view.palette().highlight().color(), 2)
    painter.setPen(pen)
    fill = QColor(view.palette().highlight().color())
    fill.setAlpha(40)
    painter.fillRect(rect, fill)
    painter.drawRect(rect.adjusted(1, 1, -1, -1))
    painter.end()


class ItemTableView(QTableView):
    """The item table. A drop on a row uploads into that item; a drop on the empty area
    creates new items. Shows a placeholder ("Loading...", an error) when it has no rows.

    Signals:
        files_dropped(ItemModel | None, list[str]): the target item (None: the library).
    """

    files_dropped = Signal(object, list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSortingEnabled(True)
        self._placeholder = ""
        self._placeholder_is_error = False
        self._drop_rect: QRect | None = None
        self.drops_enabled = False  # no library selected: nowhere to upload to

    def set_placeholder(self, text: str, error: bool = False) -> None:
        self._placeholder, self._placeholder_is_error = text, error
        self.viewport().update()

    @property
    def placeholder(self) -> str:
        return self._placeholder

    # --- drag and drop ---------------------------------------------------------------------

    def _target(self, pos: QPoint) -> tuple[QModelIndex, QRect]:
        index = self.indexAt(pos)
        if index.isValid():
            first = self.visualRect(index.siblingAtColumn(0))
            return index, QRect(0, first.top(), self.viewport().width(), first.height())
        return index, self.viewport().rect()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.drops_enabled and local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if not (self.drops_enabled and local_paths(event.mimeData())):
            event.ignore()
            return
        _, self._drop_rect = self._target(event.position().toPoint())
        self.viewport().update()
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._drop_rect = None
        self.viewport().update()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        self._drop_rect = None
        self.viewport().update()
        paths = local_paths(event.mimeData())
        if not (self.drops_enabled and paths):
            event.ignore()
            return
        index, _ = self._target(event.position().toPoint())
        item = item_of(index)
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.files_dropped.emit(item, paths)

    # --- painting --------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if self._placeholder and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            color = (
                QColor(176, 0, 0)
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
        if self._drop_rect is not None:
            _paint_drop_target(self, self._drop_rect)


class LibraryTreeView(QTreeView):
    """Server -> libraries. Files dropped on a library become new items in it.

    Signals:
        files_dropped(str library_id, list[str])
    """

    files_dropped = Signal(str, list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self._drop_rect: QRect | None = None

    def _library_at(self, pos: QPoint) -> tuple[str | None, QRect | None]:
        index = self.indexAt(pos)
        library_id = index.data(LibraryIdRole) if index.isValid() else None
        if not library_id:
            return None, None
        return str(library_id), self.visualRect(index)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        library_id, rect = self._library_at(event.position().toPoint())
        self._drop_rect = rect
        self.viewport().update()
        if library_id and local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._drop_rect = None
        self.viewport().update()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        self._drop_rect = None
        self.viewport().update()
        library_id, _ = self._library_at(event.position().toPoint())
        paths = local_paths(event.mimeData())
        if not (library_id and paths):
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self.files_dropped.emit(library_id, paths)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._drop_rect is not None:
            _paint_drop_target(self, self._drop_rect)
