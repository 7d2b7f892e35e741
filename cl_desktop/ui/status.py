"""The status bar's message: elided to fit, whole in its tooltip and on click, errors fade."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from .colors import show_as_error

# An error stays this long, then the last ordinary message is back (it was not the newest
# news for long: a later action's message replaces it at once anyway).
ERROR_SHOWN_MS = 30_000


class StatusMessage(QLabel):
    """A one-line message that never widens the window: a long one is cut with "..." where
    it is painted, while `text()` and the tooltip keep all of it, and a click shows it whole.

    Signals:
        clicked(): the user clicked the message (the window shows it in full).
    """

    clicked = Signal()

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusMessage")
        self.setAccessibleName(self.tr("Status message"))
        # Ignored: the label takes the room the bar has, not the room its text wants.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.is_error = False
        self._calm_text = text  # the last message that was not an error
        self._clear = QTimer(self)
        self._clear.setSingleShot(True)
        self._clear.setInterval(ERROR_SHOWN_MS)
        self._clear.timeout.connect(self._error_expired)
        self.show_message(text)

    def show_message(self, text: str, error: bool = False) -> None:
        self.setText(text)
        self.setToolTip(text)
        self.setAccessibleDescription(text)
        self.is_error = error
        show_as_error(self, error)
        if error:
            self._clear.start()
        else:
            self._calm_text = text
            self._clear.stop()

    @property
    def error_pending(self) -> bool:
        """An error is on show and will be replaced by the last ordinary message."""
        return self._clear.isActive()

    def set_error_interval(self, milliseconds: int) -> None:
        self._clear.setInterval(milliseconds)

    def _error_expired(self) -> None:
        self.show_message(self._calm_text)

    def shown_text(self) -> str:
        """What is painted: the text cut to the label's width."""
        return self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, max(0, self.contentsRect().width())
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        self.style().drawItemText(
            painter,
            self.contentsRect(),
            int(align),
            self.palette(),
            self.isEnabled(),
            self.shown_text(),
            self.foregroundRole(),
        )
        painter.end()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() is Qt.MouseButton.LeftButton and self.text():
            self.clicked.emit()
        super().mouseReleaseEvent(event)
