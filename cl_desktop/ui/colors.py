"""Colours for error, warning and success text, derived from the palette in use.

Qt's palette has no "error" role: these take the hue from the meaning and the lightness from
the palette's text colour, so they read on a light and on a dark palette alike (dark red on
white, light red on black) instead of a fixed red that vanishes on a dark theme.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

ERROR_HUE = 0
WARNING_HUE = 35
SUCCESS_HUE = 130


def tinted(palette: QPalette, hue: int) -> QColor:
    """A saturated colour of `hue` about as readable as the palette's own text."""
    text = palette.color(QPalette.ColorRole.Text).lightness()
    lightness = round(0.4 * text + 0.6 * 128)  # toward the middle: saturated, still legible
    return QColor.fromHsl(hue, 200, lightness)


def error_color(palette: QPalette | None = None) -> QColor:
    return tinted(palette or QApplication.palette(), ERROR_HUE)


def warning_color(palette: QPalette | None = None) -> QColor:
    return tinted(palette or QApplication.palette(), WARNING_HUE)


def success_color(palette: QPalette | None = None) -> QColor:
    return tinted(palette or QApplication.palette(), SUCCESS_HUE)


def show_as_error(widget: QWidget, error: bool) -> None:
    """Error text in the error colour, other text in the palette's own (no style sheet)."""
    palette = QApplication.palette(widget)
    if error:
        palette.setColor(QPalette.ColorRole.WindowText, error_color(palette))
        palette.setColor(QPalette.ColorRole.Text, error_color(palette))
    widget.setPalette(palette)
