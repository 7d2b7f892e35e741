"""What the GUI tests share: the app built against the embedded service, canned prompts, drops,
and waits (the fixtures that use them are in tests/ui/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication, QWidget
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import AppConfig, Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.connections import CertificateChange, CertificateDetails
from cl_desktop.services.errors import ErrorInfo
from cl_desktop.transfers.jobs import JobSnapshot, JobState, WarningDecision
from cl_desktop.ui.dialogs import NameAndDescription, Prompts
from cl_desktop.ui.download_dialog import DownloadChoice, DownloadQuestion
from cl_desktop.ui.import_dialog import ImportRequest, ImportTarget
from cl_desktop.ui.queue_model import STATE
from cl_desktop.ui.quit_prompt import QuitChoice

# The offscreen platform cannot resize or raise native windows; it says so, harmlessly.
IGNORED_QT_MESSAGES = [
    "This plugin does not support propagateSizeHints",
    "This plugin does not support raise",
]


@dataclass
class FakePrompts:
    """Canned answers for every question the window asks, and a record of the questions."""

    login: LoginRequest | None = None
    confirm_answer: bool = True
    directory: str = ""
    open_files: list[str] = field(default_factory=list)
    save_path: str = ""
    confirmations: list[tuple[str, list[str]]] = field(default_factory=list)
    errors: list[ErrorInfo] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    logins_asked: int = 0
    # every login question (the request the dialog would show, the error it would say)
    login_questions: list[tuple[LoginRequest | None, ErrorInfo | None]] = field(
        default_factory=list
    )
    # answers by the question, when set (else `login`, once)
    answer_login: Callable[[LoginRequest | None, ErrorInfo | None], LoginRequest | None] | None = (
        None
    )
    # certificate questions: trust a new one? replace a changed one's pin?
    trust_answer: bool = True
    trust_questions: list[tuple[LoginRequest, CertificateDetails]] = field(default_factory=list)
    replace_pin_answer: bool = False
    changes_shown: list[tuple[LoginRequest, CertificateChange]] = field(default_factory=list)
    text_answer: str | None = None  # None: the user cancels
    texts_asked: list[str] = field(default_factory=list)
    # managing libraries and items: the answers to the name dialog, in order (None: Cancel),
    # the questions it was asked (title, initial, datastore ids), and the delete confirmations
    names: list[NameAndDescription | None] = field(default_factory=list)
    name_questions: list[tuple[str, NameAndDescription, list[str]]] = field(default_factory=list)
    delete_answer: bool = True
    delete_confirmations: list[tuple[str, list[str]]] = field(default_factory=list)
    # a signed OVF's warnings: the answers in order (the types to ignore; None: Cancel upload,
    # also when none is left), and the questions (the job's title, its decision)
    warning_answers: list[frozenset[str] | None] = field(default_factory=list)
    warning_questions: list[tuple[str, WarningDecision]] = field(default_factory=list)
    # Import from URL: the dialog's answer (None: Cancel) and the https source's certificate
    import_answer: ImportRequest | None = None
    import_questions: list[ImportTarget] = field(default_factory=list)
    source_certificate_answer: bool = True
    source_certificates: list[tuple[str, CertificateDetails]] = field(default_factory=list)
    # the download options (loose/.ova, if it exists): None answers with the question's
    # remembered defaults; `download_cancel` answers Cancel
    download_choice: DownloadChoice | None = None
    download_cancel: bool = False
    download_questions: list[DownloadQuestion] = field(default_factory=list)
    # quitting with transfers unfinished: the answer, and the questions (running, queued)
    quit_answer: QuitChoice = QuitChoice.CANCEL
    quit_questions: list[tuple[int, int]] = field(default_factory=list)
    # files of an item about to be replaced: the answer, and the questions (text, lines)
    replace_answer: bool = True
    replace_confirmations: list[tuple[str, list[str]]] = field(default_factory=list)

    def prompts(self) -> Prompts:
        return Prompts(
            ask_login=self._ask_login,
            ask_trust=self._ask_trust,
            show_certificate_changed=self._show_certificate_changed,
            confirm=self._confirm,
            show_error=lambda _parent, error: self.errors.append(error),
            ask_directory=lambda _parent, _caption, _start: self.directory,
            ask_open_files=lambda _parent, _caption, _start: list(self.open_files),
            ask_save_file=lambda _parent, _caption, _start, _filters: self.save_path,
            open_folder=lambda path: self.opened.append(path) is None,
            ask_text=self._ask_text,
            ask_name=self._ask_name,
            confirm_delete=self._confirm_delete,
            ask_warnings=self._ask_warnings,
            ask_import_url=self._ask_import_url,
            accept_source_certificate=self._accept_source_certificate,
            ask_download_options=self._ask_download_options,
            ask_quit=self._ask_quit,
            confirm_replace=self._confirm_replace,
        )

    def _ask_quit(self, _parent: Any, running: int, queued: int) -> QuitChoice:
        self.quit_questions.append((running, queued))
        return self.quit_answer

    def _confirm_replace(self, _parent: Any, _title: str, text: str, lines: Sequence[str]) -> bool:
        self.replace_confirmations.append((text, list(lines)))
        return self.replace_answer

    def _ask_warnings(
        self, _parent: Any, title: str, decision: WarningDecision
    ) -> frozenset[str] | None:
        self.warning_questions.append((title, decision))
        return self.warning_answers.pop(0) if self.warning_answers else None

    def _ask_import_url(self, _parent: Any, target: ImportTarget) -> ImportRequest | None:
        self.import_questions.append(target)
        return self.import_answer

    def _accept_source_certificate(
        self, _parent: Any, url: str, details: CertificateDetails
    ) -> bool:
        self.source_certificates.append((url, details))
        return self.source_certificate_answer

    def _ask_download_options(
        self, _parent: Any, question: DownloadQuestion
    ) -> DownloadChoice | None:
        self.download_questions.append(question)
        if self.download_cancel:
            return None
        return self.download_choice or question.initial

    def _ask_name(
        self, _parent: Any, title: str, initial: NameAndDescription, datastores: Sequence[Any]
    ) -> NameAndDescription | None:
        self.name_questions.append((title, initial, [d.datastore for d in datastores]))
        return self.names.pop(0) if self.names else None

    def _confirm_delete(self, _parent: Any, _title: str, text: str, lines: Sequence[str]) -> bool:
        self.delete_confirmations.append((text, list(lines)))
        return self.delete_answer

    def _ask_login(
        self, _parent: Any, initial: LoginRequest | None, error: ErrorInfo | None
    ) -> LoginRequest | None:
        self.logins_asked += 1
        self.login_questions.append((initial, error))
        if self.answer_login is not None:
            return self.answer_login(initial, error)
        login, self.login = self.login, None  # answer once: a failed login must not loop
        return login

    def _ask_trust(self, _parent: Any, request: LoginRequest, details: CertificateDetails) -> bool:
        self.trust_questions.append((request, details))
        return self.trust_answer

    def _show_certificate_changed(
        self, _parent: Any, request: LoginRequest, change: CertificateChange
    ) -> bool:
        self.changes_shown.append((request, change))
        return self.replace_pin_answer

    def _ask_text(self, _parent: Any, title: str, _label: str, _initial: str) -> str | None:
        self.texts_asked.append(title)
        return self.text_answer

    def _confirm(self, _parent: Any, _title: str, text: str, lines: Sequence[str]) -> bool:
        self.confirmations.append((text, list(lines)))
        return self.confirm_answer


def build_app(tmp_path: Path, prompts: FakePrompts, **config: Any) -> Application:
    return Application(
        AppConfig(
            data_dir=tmp_path / "app-data",
            settings_path=tmp_path / "settings.ini",
            **config,
        ),
        prompts=prompts.prompts(),
    )


def start_logged_in(
    qtbot: QtBot, tmp_path: Path, prompts: FakePrompts, url: str, user: str, password: str
) -> Application:
    """The application started and logged in, its first library's items listed."""
    prompts.login = LoginRequest(url, user, password)
    app = build_app(tmp_path, prompts)
    app.start()
    qtbot.waitUntil(lambda: app.window.library_id is not None, timeout=10000)
    wait_items_loaded(qtbot, app)
    return app


def close_app(app: Application) -> None:
    app.shutdown()
    app.window.close()
    app.window.deleteLater()
    app.deleteLater()


def wait_items_loaded(qtbot: QtBot, app: Application) -> None:
    qtbot.waitUntil(lambda: not app.window.items_label.text().startswith("Loading"), timeout=10000)


def refresh_until_listed(qtbot: QtBot, app: Application, name: str) -> None:
    """Refresh the window and wait until its item list shows `name`."""
    app.window.refresh()
    qtbot.waitUntil(lambda: app.window.item_model.row_of_name(name) >= 0, timeout=10000)


def create_listed_item(
    qtbot: QtBot, app: Application, client: ContentLibraryClient, library_id: str, name: str
) -> str:
    """A "file" item made straight through the client, once the window lists it; its id."""
    item_id = client.items.create(library_id, name, type="file")
    refresh_until_listed(qtbot, app, name)
    return item_id


def select_library(qtbot: QtBot, app: Application, name: str) -> None:
    window = app.window
    root = window.library_model.item(0)
    for row in range(root.rowCount()):
        node = root.child(row)
        if node.text() == name:
            window.library_tree.setCurrentIndex(node.index())
            qtbot.waitUntil(lambda: window.item_model.rowCount() > 0, timeout=10000)
            wait_items_loaded(qtbot, app)
            return
    raise AssertionError(f"no library {name!r}")


def select_item(qtbot: QtBot, app: Application, name: str) -> None:
    window = app.window
    qtbot.waitUntil(lambda: window.item_model.row_of_name(name) >= 0, timeout=10000)
    row = window.item_model.row_of_name(name)
    index = window.item_proxy.mapFromSource(window.item_model.index(row, 0))
    window.item_view.setCurrentIndex(index)
    window.item_view.selectRow(index.row())


def item_row_point(app: Application, name: str) -> QPoint:
    window = app.window
    row = window.item_model.row_of_name(name)
    assert row >= 0, f"no item {name!r} in the table"
    index = window.item_proxy.mapFromSource(window.item_model.index(row, 0))
    return window.item_view.visualRect(index).center()


def drop_files(view: QAbstractItemView, paths: Sequence[Path], pos: QPoint) -> bool:
    """Drag `paths` (file URLs, as a file manager does) onto `view` at `pos` and drop them.

    Returns whether the drop was accepted.
    """
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    target: QWidget = view.viewport()
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(target, enter)
    move = QDragMoveEvent(pos, action, mime, buttons, mods)
    QApplication.sendEvent(target, move)
    drop = QDropEvent(QPointF(pos), action, mime, buttons, mods)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def jobs(app: Application) -> list[JobSnapshot]:
    return app.window.dock.queue_model.snapshots()


def wait_jobs(
    qtbot: QtBot, app: Application, count: int, state: JobState, timeout: int = 20000
) -> list[JobSnapshot]:
    """Wait until the queue model shows `count` jobs, all in `state` (in the State column too,
    which the model repaints on its timer)."""
    model = app.window.dock.queue_model
    shown = str(state).capitalize()

    def check() -> bool:
        snaps = jobs(app)
        return (
            len(snaps) == count
            and all(s.state is state for s in snaps)
            and all(model.index(row, STATE).data() == shown for row in range(count))
        )

    try:
        qtbot.waitUntil(check, timeout=timeout)
    except AssertionError:
        raise AssertionError(
            f"expected {count} jobs {state}: {[(s.state, s.error_message) for s in jobs(app)]}"
        ) from None
    return jobs(app)
