"""ProgressDelegate: draws a job's progress as a native progress bar inside its cell."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from .queue_model import ProgressRole


class ProgressDelegate(QStyledItemDelegate):
    """Paints `ProgressRole` (0..1) as a progress bar; cells without it paint as text."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        fraction = index.data(ProgressRole)
        if fraction is None:
            super().paint(painter, option, index)
            return
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        # The selection background first, so a selected row stays highlighted.
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(3, 3, -3, -3)
        bar.state = option.state | QStyle.StateFlag.State_Horizontal
        bar.direction = option.direction
        bar.fontMetrics = option.fontMetrics
        bar.palette = option.palette
        bar.minimum = 0
        bar.maximum = 1000
        bar.progress = max(0, min(1000, int(float(fraction) * 1000)))
        bar.text = str(index.data() or "")
        bar.textVisible = True
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)
