"""The Help menu: About, Show log, and the user guide (F1).

The user guide is the "## User guide" section of README.md, shown in a window of its own: the
README beside the package (a source checkout, or a bundle that ships it), else the one in the
installed package's metadata (pip puts it there as the long description). Only when neither is
found does the menu open `PROJECT_URL`, the project's page, in the browser.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Callable
from pathlib import Path

import PySide6
from PySide6.QtCore import QCoreApplication, Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import cl_desktop

from .actions import add_actions, make_action

LICENCE = "Apache-2.0"
PROJECT_URL = "https://pypi.org/project/cl-desktop/"  # shows the README, user guide included
GUIDE_HEADING = "## User guide"
DISTRIBUTION = "cl-desktop"

UrlOpener = Callable[[QUrl], bool]


def default_opener(url: QUrl) -> bool:
    return QDesktopServices.openUrl(url)


def versions() -> list[str]:
    """The application's, Python's, Qt's and PySide6's versions and the platform, one a line.

    Not translated: the crash report's details (read by the maintainers) begin with them."""
    return [
        f"cl_desktop {cl_desktop.__version__}",
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        f"Qt {qVersion()}, PySide6 {PySide6.__version__}",
        f"Platform: {platform.platform()}",
    ]


def show_log(log_file: Path | None, open_url: UrlOpener) -> str:
    """Open the log file in the desktop's viewer; "" when done, else what went wrong."""
    if log_file is None or not log_file.is_file():
        if log_file:
            return QCoreApplication.translate(
                "HelpMenu", "There is no log file ({file}): it could not be written."
            ).format(file=log_file)
        return QCoreApplication.translate(
            "HelpMenu", "There is no log file: it could not be written."
        )
    if not open_url(QUrl.fromLocalFile(str(log_file))):
        return QCoreApplication.translate(
            "HelpMenu", "No program opened the log file {file}."
        ).format(file=log_file)
    return ""


# --- the user guide -----------------------------------------------------------------------------


def readme_candidates() -> list[Path]:
    """Where a README.md may be: a PyInstaller bundle's folder, then the source checkout."""
    found = []
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        found.append(Path(bundle) / "README.md")
    found.append(Path(cl_desktop.__file__).resolve().parents[1] / "README.md")
    return found


def _installed_readme() -> str:
    from importlib import metadata

    try:
        info = metadata.metadata(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return ""
    payload = getattr(info, "get_payload", lambda: "")()  # the README, Metadata-Version 2.1+
    return str(payload or (info.get_all("Description") or [""])[0])


def guide_section(readme: str) -> str:
    """The "## User guide" section of a README (up to the next "## "), or ""."""
    match = re.search(rf"^{re.escape(GUIDE_HEADING)}[ \t]*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    return f"{GUIDE_HEADING}{match.group(1).rstrip()}\n" if match else ""


def user_guide(candidates: list[Path] | None = None) -> tuple[str, QUrl]:
    """The user guide's Markdown and where it is from (its links are relative to that): the
    first README that has one, else the installed package's; ("", the project's page) when
    none is found."""
    for path in candidates if candidates is not None else readme_candidates():
        try:
            text = guide_section(path.read_text(encoding="utf-8"))
        except OSError:
            continue
        if text:
            return text, QUrl.fromLocalFile(str(path))
    text = guide_section(_installed_readme()) if candidates is None else ""
    return text, QUrl(PROJECT_URL)


class GuideWindow(QDialog):
    """The user guide, rendered from its Markdown; links open in the browser (one within the
    README opens the README)."""

    def __init__(
        self, markdown: str, base: QUrl, open_url: UrlOpener, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("userGuide")
        self.setWindowTitle(self.tr("User guide"))
        self.resize(720, 640)
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(lambda url: open_url(base.resolved(url)))
        self.browser.setMarkdown(markdown)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


# --- About --------------------------------------------------------------------------------------


def _folder_link(text: str, folder: Path) -> str:
    """`text`, translated, with its {link} made a link to `folder`."""
    url = QUrl.fromLocalFile(str(folder)).toString()
    return text.format(link=f'<a href="{url}">{folder}</a>')


class AboutDialog(QDialog):
    """Version, licence, the Qt and Python versions, and the data and log folders as links."""

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        open_url: UrlOpener,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle(self.tr("About cl_desktop"))
        about = self.tr("A transfer manager for VMware vSphere Content Library.")
        licence = self.tr("Licence: {licence}").format(licence=LICENCE)
        html = f"<h3>cl_desktop {cl_desktop.__version__}</h3><p>{about}</p><p>{licence}</p>"
        heading = QLabel(html, self)
        self.versions = QLabel("<br>".join(versions()[1:]), self)
        self.versions.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        links = [
            _folder_link(self.tr("Data folder: {link}"), data_dir),
            _folder_link(self.tr("Log folder: {link}"), log_dir),
        ]
        self.folders = QLabel("<br>".join(links), self)
        self.folders.setOpenExternalLinks(False)
        self.folders.linkActivated.connect(lambda link: open_url(QUrl(link)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        for widget in (heading, self.versions, self.folders, buttons):
            layout.addWidget(widget)


# --- the menu -----------------------------------------------------------------------------------


class HelpMenu:
    """Adds the Help menu to `window` (last in its menu bar) and owns its dialogs."""

    def __init__(
        self,
        window: QMainWindow,
        data_dir: Path,
        log_file: Path,
        open_url: UrlOpener = default_opener,
        show_status: Callable[[str, bool], None] | None = None,
        readmes: list[Path] | None = None,
    ) -> None:
        self.window = window
        self.data_dir = data_dir
        self.log_file = log_file
        self.open_url = open_url
        self._show_status = show_status
        self._readmes = readmes  # None: readme_candidates() and the installed package's
        self.about_dialog: AboutDialog | None = None
        self.guide_window: GuideWindow | None = None
        self.guide_action = make_action(
            window,
            QCoreApplication.translate("HelpMenu", "&User guide"),
            self.show_user_guide,
            shortcut=QKeySequence.StandardKey.HelpContents,
            tip=QCoreApplication.translate(
                "HelpMenu", "How to connect, browse, upload, download and follow the transfers"
            ),
        )
        self.log_action = make_action(
            window,
            QCoreApplication.translate("HelpMenu", "Show &log"),
            self.show_log,
            icon="log",
            tip=QCoreApplication.translate("HelpMenu", "Open the application's log file"),
        )
        self.about_action = make_action(
            window,
            QCoreApplication.translate("HelpMenu", "&About cl_desktop"),
            self.show_about,
            icon="about",
        )
        self.menu = window.menuBar().addMenu(QCoreApplication.translate("HelpMenu", "&Help"))
        add_actions(self.menu, [self.guide_action, self.log_action, None, self.about_action])
        window.addAction(self.guide_action)  # F1 works wherever the focus is

    def _open(self, url: QUrl) -> bool:
        return self.open_url(url)  # the opener of the moment (tests replace it)

    def show_user_guide(self) -> None:
        text, base = user_guide(self._readmes)
        if not text:
            self.open_url(base)
            return
        if self.guide_window is None:
            self.guide_window = GuideWindow(text, base, self._open, self.window)
        self.guide_window.show()
        self.guide_window.raise_()

    def show_log(self) -> None:
        problem = show_log(self.log_file, self.open_url)
        if problem and self._show_status is not None:
            self._show_status(problem, True)

    def show_about(self) -> None:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(
                self.data_dir, self.log_file.parent, self._open, self.window
            )
        self.about_dialog.show()
        self.about_dialog.raise_()
