"""Building QActions and putting them into menus and toolbars."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

from cl_desktop.ui.icons import action_icon


def make_action(
    parent: QWidget,
    text: str,
    slot: Callable[[], object],
    *,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    icon: str | QStyle.StandardPixmap | None = None,  # str: an icon of ui/icons.py
    tip: str = "",
) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if isinstance(icon, str):
        action.setIcon(action_icon(icon))
    elif icon is not None:
        action.setIcon(parent.style().standardIcon(icon))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def add_actions(target: QWidget, actions: list[QAction | None]) -> None:
    """Add actions to a menu or toolbar; None is a separator."""
    for action in actions:
        if action is None:
            target.addSeparator()  # type: ignore[attr-defined]
        else:
            target.addAction(action)
