"""The connection dialog: saved profiles and recent servers beside the login form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.connections import Profile, RecentServer
from cl_desktop.services.errors import ErrorInfo, ErrorKind

from .colors import show_as_error

# Labels are translated where shown (str(): PySide types QT_TRANSLATE_NOOP's result as object)
DIALECTS = (  # (label, value)
    (str(QT_TRANSLATE_NOOP("ConnectDialog", "Automatic")), "auto"),
    (str(QT_TRANSLATE_NOOP("ConnectDialog", "/api (vSphere 7.0 and later)")), "api"),
    (str(QT_TRANSLATE_NOOP("ConnectDialog", "/rest (vSphere 6.5 and 6.7)")), "rest"),
)
LIST_MAX_WIDTH = 420  # pixels of text the saved and recent lists widen to
NO_KEYRING_NOTE = str(
    QT_TRANSLATE_NOOP(
        "ConnectDialog",
        "No system keyring works on this computer: the password is kept in memory until you quit.",
    )
)
# vSphere's default administrator account: an example of a user name, the same in every language
EXAMPLE_USER = "administrator@vsphere.local"


class ProfileBook(Protocol):
    """Where the dialog reads and keeps profiles and passwords (the ConnectionService)."""

    @property
    def keyring_available(self) -> bool: ...

    def profiles(self) -> list[Profile]: ...

    def recent_servers(self) -> list[RecentServer]: ...

    def last_used_profile(self) -> Profile | None: ...

    def request_from_profile(self, profile: Profile) -> LoginRequest: ...

    def stored_password(self, server: str, user: str) -> str | None: ...

    def save_profile(self, profile: Profile) -> None: ...

    def remove_profile(self, name: str) -> None: ...

    def forget_password(self, server: str, user: str) -> None: ...


class ConnectDialog(QDialog):
    """Pick a saved profile or a recent server, or type one; Connect answers a LoginRequest.

    Without a `book` it is the plain form (no saved profiles)."""

    def __init__(
        self,
        parent: QWidget | None = None,
        initial: LoginRequest | None = None,
        error: ErrorInfo | None = None,
        book: ProfileBook | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Connect to vCenter"))
        self._refused: tuple[str, str, str] | None = None  # set once the form is filled
        self._book = book
        self.name = QLineEdit()
        self.name.setPlaceholderText(self.tr("optional: a name for this connection"))
        self.server = QLineEdit()
        self.server.setPlaceholderText(self.tr("host name, or host:port"))
        self.username = QLineEdit()
        self.username.setPlaceholderText(EXAMPLE_USER)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.dialect = QComboBox()
        for text, value in DIALECTS:
            self.dialect.addItem(QCoreApplication.translate("ConnectDialog", text), value)
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText(self.tr("optional: PEM file of the server's CA"))
        for field in (self.name, self.server, self.username, self.ca_file):  # placeholders whole
            hint = field.fontMetrics().horizontalAdvance(field.placeholderText())
            field.setMinimumWidth(hint + 16)
        self.browse = QPushButton(self.tr("&Browse..."))
        self.browse.clicked.connect(self._browse)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_file)
        ca_row.addWidget(self.browse)
        self.remember = QCheckBox(self.tr("Re&member the password"))
        self.connect_on_start = QCheckBox(self.tr("Connect on s&tart"))

        form = QFormLayout()
        form.addRow(self.tr("&Name:"), self.name)
        form.addRow(self.tr("&Server:"), self.server)
        form.addRow(self.tr("&User:"), self.username)
        form.addRow(self.tr("&Password:"), self.password)
        form.addRow(self.tr("Pr&otocol:"), self.dialect)
        ca_label = QLabel(self.tr("C&A file:"))
        ca_label.setBuddy(self.ca_file)  # a row of a layout gets no buddy by itself
        form.addRow(ca_label, ca_row)
        form.addRow("", self.remember)
        form.addRow("", self.connect_on_start)

        self.error_label = QLabel()
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setWordWrap(True)
        show_as_error(self.error_label, True)
        self.keyring_note = QLabel(QCoreApplication.translate("ConnectDialog", NO_KEYRING_NOTE))
        self.keyring_note.setTextFormat(Qt.TextFormat.PlainText)
        self.keyring_note.setWordWrap(True)
        self.keyring_note.setVisible(book is not None and not book.keyring_available)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.hide()

        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.keyring_note)
        right.addWidget(self.status)
        right.addStretch(1)

        self.profile_list = QListWidget()
        self.recent_list = QListWidget()
        self.new_button = QPushButton(self.tr("Ne&w"))
        self.remove_button = QPushButton(self.tr("&Remove"))
        self.forget_button = QPushButton(self.tr("&Forget password"))
        self.new_button.clicked.connect(self._new)
        self.remove_button.clicked.connect(self._remove)
        self.forget_button.clicked.connect(self._forget_password)
        self.profile_list.currentItemChanged.connect(self._profile_picked)
        self.recent_list.itemClicked.connect(self._recent_picked)
        left = QVBoxLayout()
        saved_label = QLabel(self.tr("Saved connect&ions:"))
        saved_label.setBuddy(self.profile_list)
        recent_label = QLabel(self.tr("Rec&ent servers:"))
        recent_label.setBuddy(self.recent_list)
        left.addWidget(saved_label)
        left.addWidget(self.profile_list, 2)
        left.addWidget(recent_label)
        left.addWidget(self.recent_list, 1)
        list_buttons = QHBoxLayout()
        for button in (self.new_button, self.remove_button, self.forget_button):
            list_buttons.addWidget(button)
        left.addLayout(list_buttons)

        columns = QHBoxLayout()
        if book is not None:
            columns.addLayout(left, 2)
        columns.addLayout(right, 3)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.connect_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.connect_button.setText(self.tr("&Connect"))
        self.save_button = self.buttons.addButton(
            self.tr("Sa&ve"), QDialogButtonBox.ButtonRole.ActionRole
        )
        self.save_button.setToolTip(self.tr("Save the connection without connecting"))
        self.save_button.clicked.connect(self._save)
        self.save_button.setVisible(book is not None)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_label)
        layout.addLayout(columns)
        layout.addWidget(self.buttons)
        self.server.textChanged.connect(self._check)
        self.username.textChanged.connect(self._check)

        self.show_error(error)
        self._fill_lists()
        if initial is not None:
            self._fill(initial)
            self._select_profile(initial.profile)
        elif book is not None and (last := book.last_used_profile()) is not None:
            self._select_profile(last.name)
            self._fill(book.request_from_profile(last))
        # The very password just refused is not sent again unchanged (an Enter key held down
        # or pressed twice): vCenter locks an account after a few failed logins.
        refused = error is not None and error.kind is ErrorKind.AUTH
        self._refused = self._credentials() if refused else None
        self.password.textChanged.connect(self._check)
        self._check()
        (self.password if self.server.text() else self.server).setFocus()

    # --- filling in ------------------------------------------------------------------------

    def _fill_lists(self) -> None:
        if self._book is None:
            return
        self.profile_list.blockSignals(True)
        self.profile_list.clear()
        for profile in self._book.profiles():
            item = QListWidgetItem(
                self.tr("{name} ({user} on {server})").format(
                    name=profile.name, user=profile.user, server=profile.server
                )
            )
            item.setData(Qt.ItemDataRole.UserRole, profile)
            self.profile_list.addItem(item)
        self.profile_list.blockSignals(False)
        self.recent_list.clear()
        for recent in self._book.recent_servers():
            item = QListWidgetItem(
                self.tr("{user} on {server}").format(user=recent.user, server=recent.server)
            )
            item.setData(Qt.ItemDataRole.UserRole, recent)
            self.recent_list.addItem(item)
        self._fit_lists()

    def _fit_lists(self) -> None:
        """Wide enough for the entries to show whole (up to a limit: a long name scrolls)."""
        lists = (self.profile_list, self.recent_list)
        widest = max(
            (w.fontMetrics().horizontalAdvance(w.item(r).text()) for w in lists
             for r in range(w.count())),
            default=0,
        )  # fmt: skip
        for widget in lists:
            widget.setMinimumWidth(min(widest, LIST_MAX_WIDTH) + 2 * widget.frameWidth() + 12)

    def _select_profile(self, name: str) -> None:
        """Mark the profile `name` in the list without refilling the form."""
        self.profile_list.blockSignals(True)
        self.profile_list.setCurrentRow(-1)
        for row in range(self.profile_list.count()):
            profile = self.profile_list.item(row).data(Qt.ItemDataRole.UserRole)
            if name and profile.name == name:
                self.profile_list.setCurrentRow(row)
        self.profile_list.blockSignals(False)
        self._check()

    def _fill(self, request: LoginRequest) -> None:
        self.name.setText(request.profile)
        self.server.setText(request.server)
        self.username.setText(request.username)
        self.password.setText(request.password)
        index = self.dialect.findData(request.dialect)
        self.dialect.setCurrentIndex(max(index, 0))
        self.ca_file.setText(request.ca_file or "")
        self.remember.setChecked(request.remember_password)
        self.connect_on_start.setChecked(request.connect_on_start)

    def _profile_picked(self, item: QListWidgetItem | None) -> None:
        if item is not None and self._book is not None:
            self._fill(self._book.request_from_profile(item.data(Qt.ItemDataRole.UserRole)))
            self._say("")
        self._check()

    def _recent_picked(self, item: QListWidgetItem) -> None:
        recent: RecentServer = item.data(Qt.ItemDataRole.UserRole)
        self._select_profile("")
        stored = self._book.stored_password(recent.server, recent.user) if self._book else None
        self._fill(LoginRequest(recent.server, recent.user, stored or ""))
        self.remember.setChecked(stored is not None)
        self.password.setFocus()

    def _new(self) -> None:
        self._select_profile("")
        self._fill(LoginRequest("", "", ""))
        self.server.setFocus()

    # --- the profile buttons ---------------------------------------------------------------

    def _current_profile(self) -> Profile | None:
        item = self.profile_list.currentItem()
        profile: Profile | None = item.data(Qt.ItemDataRole.UserRole) if item else None
        return profile

    def _remove(self) -> None:
        profile = self._current_profile()
        if profile is None or self._book is None:
            return
        self._book.remove_profile(profile.name)
        self._fill_lists()
        self._new()
        self._say(
            self.tr("The connection {name} and its stored password were removed.").format(
                name=profile.name
            )
        )

    def _forget_password(self) -> None:
        server, user = self.server.text().strip(), self.username.text().strip()
        if self._book is None or not server or not user:
            return
        self._book.forget_password(server, user)
        self.password.clear()
        self.remember.setChecked(False)
        self._say(
            self.tr("The stored password of {user} on {server} was forgotten.").format(
                user=user, server=server
            )
        )
        self.password.setFocus()

    def _save(self) -> None:
        if self._book is None or not self._complete():
            return
        profile = self.profile()
        self._book.save_profile(profile)
        self._fill_lists()
        self._select_profile(profile.name)
        self.name.setText(profile.name)
        self._say(
            self.tr("The connection {name} was saved (without its password).").format(
                name=profile.name
            )
        )

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _complete(self) -> bool:
        return bool(self.server.text().strip() and self.username.text().strip())

    def _credentials(self) -> tuple[str, str, str]:
        return self.server.text().strip(), self.username.text().strip(), self.password.text()

    def _check(self) -> None:
        resend = self._refused is not None and self._credentials() == self._refused
        self.connect_button.setEnabled(self._complete() and not resend)
        self.connect_button.setToolTip(
            self.tr("This password was just refused; change it to try again") if resend else ""
        )
        self.save_button.setEnabled(self._complete())
        self.remove_button.setEnabled(self._current_profile() is not None)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            self.tr("CA certificate"),
            "",
            self.tr("PEM certificates (*.pem *.crt);;All files (*)"),
        )
        if path:
            self.ca_file.setText(path)

    # --- answers ---------------------------------------------------------------------------

    def show_error(self, error: ErrorInfo | None) -> None:
        """Show why the last attempt failed, above the form (the form keeps its text)."""
        self.error_label.setText(error.text if error is not None else "")
        self.error_label.setVisible(error is not None)

    def request(self) -> LoginRequest:
        return LoginRequest(
            self.server.text().strip(),
            self.username.text().strip(),
            self.password.text(),
            self.ca_file.text().strip() or None,
            dialect=str(self.dialect.currentData()),
            remember_password=self.remember.isChecked(),
            profile=self.name.text().strip(),
            connect_on_start=self.connect_on_start.isChecked(),
        )

    def profile(self) -> Profile:
        """The form as a profile, named "user@host[:port]" when no name was given (as the
        service names the profile of a login without one)."""
        request = self.request()
        try:
            default_name = request.ref.label
        except ValueError:  # not a server address: the login will say so
            default_name = f"{request.username}@{request.server}"
        return Profile(
            request.profile or default_name,
            request.server,
            request.username,
            request.dialect,  # type: ignore[arg-type]  # one of DIALECTS' values
            request.ca_file,
            request.remember_password,
            request.connect_on_start,
        )


LoginAsker = Callable[[QWidget | None, LoginRequest | None, ErrorInfo | None], LoginRequest | None]


def ask_login(
    parent: QWidget | None,
    initial: LoginRequest | None,
    error: ErrorInfo | None,
    book: ProfileBook | None = None,
) -> LoginRequest | None:
    dialog = ConnectDialog(parent, initial, error, book)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.request()


def login_asker(book: ProfileBook) -> LoginAsker:
    """`Prompts.ask_login` with saved profiles: `Prompts(ask_login=login_asker(connections))`."""
    return lambda parent, initial, error: ask_login(parent, initial, error, book)
