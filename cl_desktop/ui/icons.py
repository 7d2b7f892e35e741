"""Every icon of the window comes from here: the application icon and the action icons.

The files live in the top-level `resources/`, reached from the package through the symbolic link
`cl_desktop/resources` (package data: a wheel and the PyInstaller bundle copy the files, keeping
the package's folder layout), so every kind of install finds them next to this module. Action icons
are SVGs drawn in `currentColor`, rendered at the size and device pixel ratio asked for (crisp at
any scale) in the palette's text colour of the icon's mode, so they follow a light or dark palette
and look disabled when disabled; their accents (green up, blue down, red stop) are fixed colours.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRect, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
ICONS_DIR = RESOURCES / "icons"
APP_ICON_SVG = RESOURCES / "cl-desktop.svg"
APP_ICON_PNG_DIR = RESOURCES / "png"
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def app_icon_png(size: int) -> Path:
    return APP_ICON_PNG_DIR / f"cl-desktop-{size}.png"


def action_icon_names() -> list[str]:
    return sorted(p.stem for p in ICONS_DIR.glob("*.svg"))


@cache
def app_icon() -> QIcon:
    """The application icon: the rendered PNGs (what window managers take) and the SVG master
    for any other size."""
    icon = QIcon()
    for size in APP_ICON_SIZES:
        icon.addFile(str(app_icon_png(size)), QSize(size, size))
    icon.addFile(str(APP_ICON_SVG))
    return icon


def _text_colour(mode: QIcon.Mode) -> QColor:
    palette = QGuiApplication.palette()
    if mode == QIcon.Mode.Disabled:
        return palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    if mode == QIcon.Mode.Selected:
        return palette.color(QPalette.ColorRole.HighlightedText)
    return palette.color(QPalette.ColorRole.WindowText)


class _SvgEngine(QIconEngine):
    """An SVG drawn in the palette's colour for the icon's mode, at the size asked for."""

    def __init__(self, name: str, svg: str) -> None:
        super().__init__()
        self._name = name
        self._svg = svg
        self._pixmaps: dict[tuple[int, int, str], QPixmap] = {}

    def _renderer(self, mode: QIcon.Mode) -> QSvgRenderer:
        colour = _text_colour(mode)
        if mode == QIcon.Mode.Disabled:  # the accents fade too
            svg = self._svg.replace('stroke="#', 'stroke-opacity="0.45" stroke="#')
        else:
            svg = self._svg
        return QSvgRenderer(QByteArray(svg.replace("currentColor", colour.name()).encode()))

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        self._renderer(mode).render(painter, rect)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        # Drawn at the device pixels asked for, so it is sharp at 125 %, 150 %, 200 %...
        width, height = round(size.width() * scale), round(size.height() * scale)
        key = (width, height, f"{mode.value}{_text_colour(mode).name()}")
        pixmap = self._pixmaps.get(key)
        if pixmap is None:
            pixmap = QPixmap(width, height)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._renderer(mode).render(painter, QRect(0, 0, width, height))
            painter.end()
            self._pixmaps[key] = pixmap
        result = QPixmap(pixmap)
        result.setDevicePixelRatio(scale)
        return result

    def clone(self) -> QIconEngine:
        # Qt clones an engine when a shared QIcon is changed (addPixmap...); the copy must outlive
        # this call, so it is referenced like the originals.
        copy = _SvgEngine(self._name, self._svg)
        _engines.setdefault(self._name, []).append(copy)
        return copy


# The engines stay referenced here: a QIcon does not keep its Python engine alive.
_engines: dict[str, list[_SvgEngine]] = {}


@cache
def action_icon(name: str) -> QIcon:
    """The action icon `name` (a file `resources/icons/NAME.svg`); a name with no file is a bug."""
    path = ICONS_DIR / f"{name}.svg"
    if not path.is_file():
        raise KeyError(f"no icon named {name!r} in {ICONS_DIR}")
    engine = _SvgEngine(name, path.read_text(encoding="utf-8"))
    _engines.setdefault(name, []).append(engine)
    return QIcon(engine)
