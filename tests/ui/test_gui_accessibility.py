"""Accessibility of the main window: every control named for a screen reader, every menu
action reachable from the keyboard."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtGui import QAccessible, QColor, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QFrame,
    QHeaderView,
    QLineEdit,
    QMenu,
    QProgressBar,
    QScrollBar,
    QTabBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from cl_desktop.app import Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.ui import colors
from cl_desktop.ui.colors import error_color
from cl_desktop.ui.connect_dialog import ConnectDialog
from cl_desktop.ui.dialogs import NameDialog
from cl_desktop.ui.download_dialog import DownloadChoice, DownloadOptionsDialog, DownloadQuestion
from cl_desktop.ui.import_dialog import ImportTarget, ImportUrlDialog

INTERACTIVE = (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QProgressBar,
    QTabBar,
)


def accessible_name(widget: QWidget) -> str:
    """What a screen reader says for the widget (its own name, else its text)."""
    face = QAccessible.queryAccessibleInterface(widget)
    return face.text(QAccessible.Text.Name).strip() if face is not None else ""


def unnamed_controls(root: QWidget) -> list[str]:
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, INTERACTIVE) or isinstance(widget, QScrollBar | QHeaderView):
            continue
        if widget.objectName().startswith("qt_"):  # Qt's own (dock title buttons, ...)
            continue
        parent = widget.parentWidget()
        if parent is not None and parent.objectName().startswith("qt_"):
            continue
        if isinstance(parent, QLineEdit):  # its clear button: the line edit is named
            continue
        if isinstance(parent, QFrame) and isinstance(parent.parentWidget(), QComboBox):
            continue  # a combo box's popup list: the combo box is named
        if not accessible_name(widget):
            path = []
            node: QWidget | None = widget
            while node is not None and node is not root:
                path.append(node.objectName() or type(node).__name__)
                node = node.parentWidget()
            missing.append("/".join(reversed(path)))
    return missing


def test_every_control_of_the_window_has_an_accessible_name(gui: Application) -> None:
    missing = unnamed_controls(gui.window)
    assert missing == [], "\n".join(missing)


def menu_actions(menu: QMenu) -> list:
    found = []
    for action in menu.actions():
        if action.isSeparator():
            continue
        if action.menu() is not None:
            found += menu_actions(action.menu())
        else:
            found.append(action)
    return found


def test_every_menu_action_has_a_shortcut_or_mnemonic(gui: Application) -> None:
    bar = gui.window.menuBar()
    lacking = []
    for top in bar.actions():
        assert "&" in top.text(), f"menu {top.text()!r} has no mnemonic"
        for action in menu_actions(top.menu()):
            mnemonic = QKeySequence.mnemonic(action.text())
            if mnemonic.isEmpty() and action.shortcut().isEmpty():
                lacking.append(f"{top.text()} > {action.text()}")
    assert lacking == []


def palette_with_text(text: str, base: str) -> QPalette:
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Text, QColor(text))
    palette.setColor(QPalette.ColorRole.Base, QColor(base))
    return palette


def test_error_colours_follow_a_light_or_a_dark_palette() -> None:
    on_white = error_color(palette_with_text("black", "white"))
    on_black = error_color(palette_with_text("white", "black"))
    assert on_white.hue() == on_black.hue() == 0  # red both times...
    assert on_white.lightness() < 100 < 150 < on_black.lightness()  # ...readable on each


def test_the_ui_has_no_colour_of_its_own() -> None:
    """Colours come from the palette (ui/colors.py derives the few it needs from it): a fixed
    colour, or a style sheet's, is unreadable on one of light and dark themes."""
    ui = Path(colors.__file__).parent
    fixed = re.compile(r"#[0-9a-fA-F]{3,6}\b|QColor\(\s*\d|setStyleSheet\(")
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(ui.glob("*.py"))
        if path.name != "colors.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if fixed.search(line)
    ]
    assert found == []


def test_the_dialogs_controls_have_accessible_names(qtbot: QtBot, tmp_path: Path) -> None:
    dialogs = [
        ConnectDialog(None, LoginRequest("https://vc.example.com", "admin", "")),
        NameDialog(None, "New library", "", "", ()),
        DownloadOptionsDialog(
            None,
            DownloadQuestion("demo-vm", str(tmp_path), True, ["demo-vm"], DownloadChoice()),
        ),
        ImportUrlDialog(None, ImportTarget("Demo library", "demo-vm")),
    ]
    for dialog in dialogs:
        qtbot.addWidget(dialog)
        missing = unnamed_controls(dialog)
        assert missing == [], f"{type(dialog).__name__}: {missing}"


def test_tab_goes_from_the_tree_to_the_filter_items_and_details(gui: Application) -> None:
    window = gui.window
    order = []
    widget = window.library_tree.nextInFocusChain()
    wanted = {window.filter_edit, window.item_view, window.details, window.dock.queue_view}
    while widget is not window.library_tree and len(order) < 200:
        if widget in wanted:
            order.append(widget.objectName())
        widget = widget.nextInFocusChain()
    assert order == ["filterEdit", "itemView", "details", "queueView"]
