"""The Help menu: About (versions, licence, folders as links), Show log, the user guide on F1."""

from __future__ import annotations

import platform
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

import cl_desktop
from cl_desktop import logs
from cl_desktop.app import Application
from cl_desktop.ui.help_menu import PROJECT_URL, guide_section, user_guide

ROOT = Path(__file__).resolve().parents[2]


def opener(app: Application) -> list[QUrl]:
    opened: list[QUrl] = []
    app.help.open_url = lambda url: opened.append(url) is None
    return opened


def test_the_help_menu_comes_last_with_guide_log_and_about(gui: Application) -> None:
    menus = [a.text() for a in gui.window.menuBar().actions()]
    assert menus[-1] == "&Help"
    items = [a.text() for a in gui.help.menu.actions() if not a.isSeparator()]
    assert items == ["&User guide", "Show &log", "&About cl_desktop"]


def test_about_names_the_versions_the_licence_and_links_the_folders(
    qtbot: QtBot, gui: Application
) -> None:
    opened = opener(gui)
    gui.help.about_action.trigger()
    dialog = gui.help.about_dialog
    assert dialog is not None and dialog.isVisible()
    text = " ".join(label.text() for label in dialog.findChildren(type(dialog.folders)))
    for expected in (
        f"cl_desktop {cl_desktop.__version__}",
        "Licence: Apache-2.0",
        f"Python {platform.python_version()}",
        f"Qt {qVersion()}, PySide6 {PySide6.__version__}",
    ):
        assert expected in text
    data_url = QUrl.fromLocalFile(str(gui.data_dir)).toString()
    log_dir = logs.log_dir(gui.config.data_dir)
    log_url = QUrl.fromLocalFile(str(log_dir)).toString()
    assert f'href="{data_url}"' in dialog.folders.text()
    assert f'href="{log_url}"' in dialog.folders.text()
    dialog.folders.linkActivated.emit(log_url)  # what a click on the link does
    assert opened == [QUrl(log_url)]
    assert opened[0].toLocalFile() == str(log_dir)
    dialog.close()


def test_show_log_opens_the_window_log_file_or_says_there_is_none(gui: Application) -> None:
    opened = opener(gui)
    log_file = logs.log_dir(gui.config.data_dir) / logs.WINDOW_LOG
    assert gui.help.log_file == log_file
    assert not log_file.exists()  # nothing set up logging in this test
    gui.help.log_action.trigger()
    assert opened == []
    assert gui.window.status_label.text().startswith("There is no log file")
    log_file.parent.mkdir(parents=True)
    log_file.write_text("a line\n")
    gui.help.log_action.trigger()
    assert opened == [QUrl.fromLocalFile(str(log_file))]


def test_f1_shows_the_readmes_user_guide(qtbot: QtBot, gui: Application) -> None:
    gui.window.activateWindow()
    qtbot.waitUntil(gui.window.isActiveWindow, timeout=5000)
    QTest.keyClick(gui.window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: gui.help.guide_window is not None, timeout=5000)
    guide = gui.help.guide_window
    assert guide is not None and guide.isVisible()
    text = guide.browser.toPlainText()
    assert text.startswith("User guide")
    for step in ("Connect.", "Browse.", "Upload.", "Download.", "Queue.", "Sessions."):
        assert step in text
    assert "Drag files" in text
    # a link to another section of the README opens the README
    opened = opener(gui)
    guide.browser.anchorClicked.emit(QUrl("#connect-to-a-real-vcenter"))
    assert [(u.toLocalFile(), u.fragment()) for u in opened] == [
        (str(ROOT / "README.md"), "connect-to-a-real-vcenter")
    ]
    guide.close()


def test_without_a_readme_the_guide_opens_the_project_page(gui: Application) -> None:
    opened = opener(gui)
    gui.help._readmes = [Path("/nonexistent/README.md")]
    gui.help.guide_action.trigger()
    assert opened == [QUrl(PROJECT_URL)]
    assert gui.help.guide_window is None


def test_the_guide_is_the_readme_section_up_to_the_next_heading() -> None:
    readme = "# App\n\nintro\n\n## User guide\n\n1. do this\n\n## Next\n\nother\n"
    assert guide_section(readme) == "## User guide\n\n1. do this\n"
    assert guide_section("# App\n\n## Other\n") == ""
    text, base = user_guide([ROOT / "README.md"])
    assert text.startswith("## User guide\n")
    assert base == QUrl.fromLocalFile(str(ROOT / "README.md"))
    assert user_guide([ROOT / "nonexistent.md"]) == ("", QUrl(PROJECT_URL))
