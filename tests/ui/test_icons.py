"""Icons through ui/icons.py: the application icon's sizes, the action icons on every toolbar and
menu, drawn crisp at high DPI in the palette's colours, and the queue's direction arrows."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QMenu, QToolBar, QWidgetAction
from pytestqt.qtbot import QtBot

from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobSpec, JobState, ServerRef
from cl_desktop.ui import icons
from cl_desktop.ui.actions import make_action
from cl_desktop.ui.queue_model import DIRECTION, ITEM, QueueModel
from tests.support.gui import FakePrompts, build_app, close_app


def _ink(image: QImage, min_alpha: int = 255) -> list[QColor]:
    """The colours of the pixels at least that opaque."""
    return [
        image.pixelColor(x, y)
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).alpha() >= min_alpha
    ]


def test_app_icon_has_every_png_size_and_the_svg(qapp: QGuiApplication) -> None:
    icon = icons.app_icon()
    sizes = {(s.width(), s.height()) for s in icon.availableSizes()}
    assert sizes == {(n, n) for n in (16, 24, 32, 48, 64, 128, 256, 512)}
    for n in icons.APP_ICON_SIZES:
        image = QImage(str(icons.app_icon_png(n)))
        assert (image.width(), image.height()) == (n, n)
    # between the PNG sizes the SVG master draws it
    assert icon.pixmap(QSize(40, 40)).size() == QSize(40, 40)


@pytest.mark.parametrize("name", icons.action_icon_names())
def test_action_icon_is_drawn_at_device_pixels(qapp: QGuiApplication, name: str) -> None:
    icon = icons.action_icon(name)
    assert not icon.isNull()
    for size, scale in ((16, 1.0), (24, 1.5), (24, 2.0)):
        pixmap = icon.pixmap(QSize(size, size), scale)
        assert pixmap.size() == QSize(round(size * scale), round(size * scale))  # not upscaled
        assert pixmap.devicePixelRatio() == scale
        assert len(_ink(pixmap.toImage(), min_alpha=128)) > size  # something is drawn


def test_action_icons_follow_the_palette(qapp: QGuiApplication) -> None:
    original = qapp.palette()
    try:
        for text in ("#ff0000", "#00ff00"):
            palette = QPalette(original)
            palette.setColor(QPalette.ColorRole.WindowText, QColor(text))
            qapp.setPalette(palette)
            ink = _ink(icons.action_icon("pause").pixmap(QSize(32, 32)).toImage())
            assert {c.name() for c in ink} == {text}
        disabled = icons.action_icon("pause").pixmap(QSize(32, 32), 1.0, QIcon.Mode.Disabled)
        expected = qapp.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        assert {c.name() for c in _ink(disabled.toImage())} == {expected.name()}
    finally:
        qapp.setPalette(original)


def test_unknown_icon_name_is_an_error(qtbot: QtBot) -> None:
    with pytest.raises(KeyError, match="no icon named 'uplaod'"):
        icons.action_icon("uplaod")
    menu = QMenu()
    qtbot.addWidget(menu)
    with pytest.raises(KeyError):
        make_action(menu, "Upload", lambda: None, icon="uplaod")


def test_every_toolbar_and_window_action_has_an_icon(
    qtbot: QtBot, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    app = build_app(tmp_path, fake_prompts)
    try:
        window = app.window
        bars = window.findChildren(QToolBar)
        assert len(bars) >= 4  # main, queue, history, sessions
        actions = [
            a
            for bar in bars
            for a in bar.actions()
            if not a.isSeparator() and not isinstance(a, QWidgetAction)  # a label on a bar
        ]
        assert len(actions) >= 20
        missing = [a.text() for a in actions if a.icon().isNull()]
        assert missing == []
        dock = window.dock
        named = {
            "connect": window.connect_action,
            "refresh": window.refresh_action,
            "upload": window.upload_action,
            "download": window.download_action,
            "cancel": dock.cancel_action,
            "pause": dock.pause_action,
            "resume": dock.resume_action,
            "retry": dock.retry_action,
            "remove": dock.remove_action,
            "sessions": window.sessions_action,
            "settings": window.settings_action,
            "about": app.help.about_action,
            "log": app.help.log_action,
        }
        for name, action in named.items():
            assert action.icon().cacheKey() == icons.action_icon(name).cacheKey(), name
    finally:
        close_app(app)


def test_queue_direction_icons_are_the_upload_and_download_arrows(qtbot: QtBot) -> None:
    server = ServerRef("https://vc.example", "user")
    model = QueueModel()
    for job_id, direction in ((1, Direction.UPLOAD), (2, Direction.DOWNLOAD)):
        spec = JobSpec(direction, server, "lib", item_name="item", paths=("/t/a.iso",))
        model.update_job(JobSnapshot(job_id, spec, JobState.QUEUED))
    up, down = (model.index(row, DIRECTION).data(Qt.ItemDataRole.DecorationRole) for row in (0, 1))
    assert up.cacheKey() == icons.action_icon("upload").cacheKey()
    assert down.cacheKey() == icons.action_icon("download").cacheKey()
    # told apart by colour too: green up, blue down (a style's arrows are both grey)
    up_ink = {c.name() for c in _ink(up.pixmap(QSize(24, 24)).toImage())}
    down_ink = {c.name() for c in _ink(down.pixmap(QSize(24, 24)).toImage())}
    assert "#2e9d57" in up_ink and "#2f74c0" in down_ink


def test_a_copy_row_has_its_own_icon_label_and_target(qtbot: QtBot) -> None:
    """A copy is neither an upload nor a download: its own arrow (not Copy item ID's pages),
    "Copy", and where it goes in the item cell."""
    server, other = ServerRef("https://vc.example", "user"), ServerRef("https://vc2", "v")
    model = QueueModel()
    for job_id, target in ((1, None), (2, other)):
        spec = JobSpec(Direction.COPY, server, "lib", item_id="i", item_name="web",
                       target_server=target, target_library_id="lib2")  # fmt: skip
        model.update_job(JobSnapshot(job_id, spec, JobState.QUEUED))
    icon = model.index(0, DIRECTION).data(Qt.ItemDataRole.DecorationRole)
    assert icon.cacheKey() == icons.action_icon("copy-to").cacheKey()
    assert icon.cacheKey() != icons.action_icon("copy").cacheKey()
    assert model.index(0, DIRECTION).data() == "Copy"
    assert model.index(0, ITEM).data() == "web -> web"
    assert model.index(1, ITEM).data() == "web -> web on v@vc2"


def test_a_shared_icon_changed_by_its_user_keeps_drawing(qapp: QGuiApplication) -> None:
    """Changing a copy makes Qt clone the engine: the clone must stay alive (it crashed)."""
    icon = QIcon(icons.action_icon("upload"))
    small = QPixmap(16, 16)
    small.fill(QColor("#ff00ff"))
    icon.addPixmap(small)  # the engine ignores added pixmaps; what matters is the clone
    gc.collect()
    pixmap = icon.pixmap(QSize(24, 24))
    assert pixmap.size() == QSize(24, 24)
    assert "#2e9d57" in {c.name() for c in _ink(pixmap.toImage())}
    assert not icons.action_icon("upload").pixmap(QSize(24, 24)).isNull()  # the original too
