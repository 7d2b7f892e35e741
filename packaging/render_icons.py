"""Render the application icon's PNG sizes from its SVG master (QtSvg), for committing.

    python packaging/render_icons.py           # (re)write resources/png/*.png
    python packaging/render_icons.py --check   # exit 1 if a size is missing or the wrong size

Run it after changing resources/cl-desktop.svg. Window managers, the Linux icon
theme (hicolor/NxN/apps) and the Windows/macOS icon files (.ico/.icns, see packaging/README.md)
take these PNGs; the window also has the SVG for the sizes in between.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed

from PySide6.QtCore import QRectF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

from cl_desktop.ui.icons import APP_ICON_SIZES, APP_ICON_SVG, app_icon_png  # noqa: E402


def render(size: int, renderer: QSvgRenderer) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def check() -> list[str]:
    problems = []
    for size in APP_ICON_SIZES:
        image = QImage(str(app_icon_png(size)))
        if image.isNull():
            problems.append(f"{app_icon_png(size)}: missing or unreadable")
        elif (image.width(), image.height()) != (size, size):
            problems.append(f"{app_icon_png(size)}: {image.width()}x{image.height()}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the committed PNGs")
    args = parser.parse_args()
    _app = QGuiApplication(sys.argv[:1])
    if args.check:
        problems = check()
        print("\n".join(problems) or "all PNG sizes present")
        return 1 if problems else 0
    renderer = QSvgRenderer(str(APP_ICON_SVG))
    if not renderer.isValid():
        print(f"error: {APP_ICON_SVG} is not a valid SVG", file=sys.stderr)
        return 1
    for size in APP_ICON_SIZES:
        path = app_icon_png(size)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not render(size, renderer).save(str(path), "PNG"):
            print(f"error: could not write {path}", file=sys.stderr)
            return 1
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
