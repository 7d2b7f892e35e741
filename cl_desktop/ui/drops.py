"""Files dropped from a file manager onto a view: which paths, where, and the highlight.

The item table and the library tree both accept drops; `FileDrops` does the part they share
(accepting only local files, tracking and painting the target, handing the drop on), and each
view says only where a drop would land. `TakesFileDrops` forwards a view's drag events to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QRect, Qt
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QPainter,
    QPen,
)
from PySide6.QtWidgets import QAbstractItemView


def local_paths(mime: QMimeData) -> list[str]:
    """The local files in a drag (URLs from a file manager); remote URLs are ignored."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


@dataclass(frozen=True)
class DropSpot:
    """Where a drop would land: what the view hands on (an item, a library id, None for
    "the library itself") and the area to highlight."""

    target: Any
    rect: QRect


class FileDrops:
    """The drag-and-drop of local files onto `view`; the view forwards its drag events here
    and calls `paint` after painting itself.

    `locate(pos)` says where a drop at `pos` lands (None: nowhere), `enabled()` whether the view
    takes drops at all now, and `dropped(target, paths)` receives an accepted drop.
    """

    def __init__(
        self,
        view: QAbstractItemView,
        locate: Callable[[QPoint], DropSpot | None],
        dropped: Callable[[Any, list[str]], None],
        enabled: Callable[[], bool] = lambda: True,
        payload: Callable[[QMimeData], Any] = local_paths,  # what a drag brings (falsy: none)
    ) -> None:
        view.setAcceptDrops(True)
        view.viewport().setAcceptDrops(True)
        view.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self._view = view
        self._locate = locate
        self._dropped = dropped
        self._enabled = enabled
        self._payload = payload
        self._highlight: QRect | None = None

    def _spot(self, mime: QMimeData, pos: QPoint) -> tuple[DropSpot | None, Any]:
        paths = self._payload(mime) if self._enabled() else []
        return (self._locate(pos) if paths else None), paths

    def _set_highlight(self, rect: QRect | None) -> None:
        self._highlight = rect
        self._view.viewport().update()

    def enter(self, event: QDragEnterEvent) -> None:
        if self._enabled() and self._payload(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def move(self, event: QDragMoveEvent) -> None:
        spot, _ = self._spot(event.mimeData(), event.position().toPoint())
        self._set_highlight(spot.rect if spot is not None else None)
        if spot is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def leave(self, event: QDragLeaveEvent) -> None:
        self._set_highlight(None)
        event.accept()

    def drop(self, event: QDropEvent) -> None:
        self._set_highlight(None)
        spot, paths = self._spot(event.mimeData(), event.position().toPoint())
        if spot is None:
            event.ignore()
            return
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        self._dropped(spot.target, paths)

    def paint(self) -> None:
        """Highlight the drop target (call at the end of the view's paintEvent)."""
        if self._highlight is None:
            return
        view = self._view
        painter = QPainter(view.viewport())
        painter.setPen(QPen(view.palette().highlight().color(), 2))
        fill = QColor(view.palette().highlight().color())
        fill.setAlpha(40)
        painter.fillRect(self._highlight, fill)
        painter.drawRect(self._highlight.adjusted(1, 1, -1, -1))
        painter.end()


class TakesFileDrops:
    """Mixin (before the Qt view class) that hands the view's drag events to `_drops`; the view
    still calls `_drops.paint()` at the end of its paintEvent."""

    _drops: FileDrops

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self._drops.enter(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self._drops.move(event)

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._drops.leave(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._drops.drop(event)
