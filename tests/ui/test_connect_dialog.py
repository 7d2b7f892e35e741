"""The connection dialog (profiles, recent servers, passwords) and the certificate dialogs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
import trustme
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QDialog, QLabel, QWidget
from pytestqt.qtbot import QtBot

from cl_desktop import paths
from cl_desktop.credentials import profiles
from cl_desktop.credentials.passwords import Passwords
from cl_desktop.services.connection import Connector, LoginRequest
from cl_desktop.services.connections import (
    CertificateChange,
    CertificateDetails,
    ConnectionService,
    Profile,
)
from cl_desktop.services.errors import ErrorInfo, ErrorKind
from cl_desktop.services.tasks import BackgroundTasks
from cl_desktop.ui.connect_dialog import NO_KEYRING_NOTE, ConnectDialog
from cl_desktop.ui.dialogs import Prompts
from cl_desktop.ui.trust_dialog import (
    REPLACE_BUTTON,
    TRUST_BUTTON,
    CertificateChangedDialog,
    TrustDialog,
    ask_trust,
    show_certificate_changed,
)
from tests.support.accounts import MemoryKeyring
from tests.support.tls import issue_cert


@pytest.fixture
def book() -> Iterator[ConnectionService]:
    """The ConnectionService as the dialog's profile book (nothing is connected here)."""
    tasks = BackgroundTasks()
    yield ConnectionService(Connector(), tasks, Passwords())
    tasks.shutdown()


LAB = Profile("lab", "vc-lab.test:8443", "admin", "api", None, True, True)
PROD = Profile("prod", "vc.test", "administrator@vsphere.local")


@pytest.fixture
def saved() -> None:
    profiles.save(LAB)
    profiles.save(PROD)
    profiles.set_last_used("lab")
    profiles.add_recent("old.test", "root")
    Passwords().remember(LAB.server, LAB.user, "lab-secret")


def _item(dialog: ConnectDialog, text_start: str) -> int:
    for row in range(dialog.profile_list.count()):
        if dialog.profile_list.item(row).text().startswith(text_start):
            return row
    raise AssertionError(f"no profile {text_start!r}")


@pytest.mark.usefixtures("saved")
def test_the_last_used_profile_is_preselected_and_others_pick_up(
    qtbot: QtBot, book: ConnectionService
) -> None:
    dialog = ConnectDialog(None, None, None, book)
    qtbot.addWidget(dialog)
    assert dialog.profile_list.currentItem().text() == "lab (admin on vc-lab.test:8443)"
    assert (dialog.name.text(), dialog.server.text(), dialog.username.text()) == (
        "lab", "vc-lab.test:8443", "admin",
    )  # fmt: skip
    assert dialog.password.text() == "lab-secret"  # from the keyring
    assert dialog.remember.isChecked() and dialog.connect_on_start.isChecked()
    assert dialog.dialect.currentData() == "api"
    assert dialog.request() == LoginRequest(
        "vc-lab.test:8443", "admin", "lab-secret", None, "api", True, "lab", True
    )

    dialog.profile_list.setCurrentRow(_item(dialog, "prod"))
    assert dialog.server.text() == "vc.test" and dialog.password.text() == ""
    assert not dialog.remember.isChecked() and dialog.dialect.currentData() == "auto"

    assert dialog.recent_list.item(0).text() == "root on old.test"
    dialog.recent_list.itemClicked.emit(dialog.recent_list.item(0))
    assert (dialog.name.text(), dialog.server.text(), dialog.username.text()) == (
        "", "old.test", "root",
    )  # fmt: skip
    assert dialog.profile_list.currentItem() is None
    assert not dialog.remove_button.isEnabled()


@pytest.mark.usefixtures("saved")
def test_edit_save_remove_and_forget_password(
    qtbot: QtBot, book: ConnectionService, memory_keyring: MemoryKeyring
) -> None:
    dialog = ConnectDialog(None, None, None, book)
    qtbot.addWidget(dialog)
    entry = (paths.KEYRING_SERVICE, paths.keyring_key(LAB.server, LAB.user))
    assert memory_keyring.passwords[entry] == "lab-secret"
    qtbot.mouseClick(dialog.forget_button, Qt.MouseButton.LeftButton)
    assert entry not in memory_keyring.passwords
    assert dialog.password.text() == "" and not dialog.remember.isChecked()
    assert dialog.status.text() == "The stored password of admin on vc-lab.test:8443 was forgotten."

    dialog.server.setText("vc-lab2.test")  # edit, then save without connecting
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert profiles.find("lab") == Profile("lab", "vc-lab2.test", "admin", "api", None,
                                           False, True)  # fmt: skip
    assert dialog.profile_list.currentItem().text() == "lab (admin on vc-lab2.test)"

    qtbot.mouseClick(dialog.new_button, Qt.MouseButton.LeftButton)
    assert dialog.server.text() == "" and not dialog.connect_button.isEnabled()
    dialog.server.setText("new.test")
    dialog.username.setText("me")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert profiles.find("me@new.test") is not None  # named after the server

    Passwords().remember("vc.test", PROD.user, "prod-secret")
    dialog.profile_list.setCurrentRow(_item(dialog, "prod"))
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    assert [p.name for p in book.profiles()] == ["lab", "me@new.test"]
    assert Passwords().lookup("vc.test", PROD.user) is None  # its password went with it
    assert dialog.profile_list.count() == 2 and dialog.server.text() == ""


def test_a_failed_attempt_keeps_the_typed_password_and_says_why(
    qtbot: QtBot, book: ConnectionService
) -> None:
    typed = LoginRequest("vc.test", "admin", "typed-pw", remember_password=True)
    error = ErrorInfo("Wrong user or password", "the server refused the login", ErrorKind.AUTH)
    dialog = ConnectDialog(None, typed, error, book)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.password.text() == "typed-pw" and dialog.remember.isChecked()
    assert dialog.error_label.isVisible()
    assert dialog.error_label.text() == "Wrong user or password: the server refused the login"
    assert dialog.focusWidget() is dialog.password
    assert dialog.request() == typed
    dialog.show_error(None)
    assert not dialog.error_label.isVisible()


def test_the_password_just_refused_is_not_sent_again_unchanged(
    qtbot: QtBot, book: ConnectionService
) -> None:
    typed = LoginRequest("vc.test", "admin", "typed-pw")
    refused = ErrorInfo("Wrong user name or password", "refused", ErrorKind.AUTH)
    dialog = ConnectDialog(None, typed, refused, book)
    qtbot.addWidget(dialog)
    assert not dialog.connect_button.isEnabled()  # Enter again would count another failure
    assert "refused" in dialog.connect_button.toolTip()
    dialog.password.setText("typed-pw2")
    assert dialog.connect_button.isEnabled()
    dialog.password.setText("typed-pw")
    assert not dialog.connect_button.isEnabled()
    dialog.username.setText("administrator@vsphere.local")  # another account may try it
    assert dialog.connect_button.isEnabled()

    unreachable = ErrorInfo("Connection refused", "nothing listens", ErrorKind.CONNECTION)
    again = ConnectDialog(None, typed, unreachable, book)
    qtbot.addWidget(again)
    assert again.connect_button.isEnabled()  # trying the same again is fine there


def test_without_a_keyring_the_dialog_says_the_password_lasts_the_run(qtbot: QtBot) -> None:
    tasks = BackgroundTasks()
    with_keyring = ConnectDialog(None, None, None, ConnectionService(Connector(), tasks))
    qtbot.addWidget(with_keyring)
    assert not with_keyring.keyring_note.isVisibleTo(with_keyring)
    keyring.set_keyring(keyring.backends.fail.Keyring())
    headless = ConnectDialog(None, None, None, ConnectionService(Connector(), tasks, Passwords()))
    qtbot.addWidget(headless)
    assert headless.keyring_note.isVisibleTo(headless)
    assert headless.keyring_note.text() == NO_KEYRING_NOTE
    assert "kept in memory until you quit" in NO_KEYRING_NOTE
    tasks.shutdown()


def test_without_a_book_it_is_the_plain_form(qtbot: QtBot) -> None:
    dialog = ConnectDialog(None, LoginRequest("vc.test", "admin", ""), None)
    qtbot.addWidget(dialog)
    assert not dialog.profile_list.isVisibleTo(dialog)
    assert not dialog.save_button.isVisibleTo(dialog)
    assert dialog.focusWidget() is dialog.password


# --- certificates -------------------------------------------------------------------------------


@pytest.fixture
def details(tmp_path: Path) -> CertificateDetails:
    served = issue_cert(trustme.CA(), tmp_path / "cert", "vc.test", "10.0.0.7")
    return CertificateDetails.from_pem(served.cert.read_text())


def _texts(dialog: QWidget) -> str:
    return "\n".join(label.text() for label in dialog.findChildren(QLabel))


def test_the_trust_dialog_shows_what_to_compare(qtbot: QtBot, details: CertificateDetails) -> None:
    dialog = TrustDialog(None, "other.test", details)
    qtbot.addWidget(dialog)
    shown = _texts(dialog)
    for part in (details.subject, details.issuer, "vc.test, 10.0.0.7",
                 details.sha1_colons, details.not_after.strftime("%Y-%m-%d")):  # fmt: skip
        assert part in shown, part
    assert details.sha256_colons in shown.replace("\n", ":")  # in two lines
    assert "The certificate is for vc.test, 10.0.0.7, not for other.test." in shown
    assert dialog.trust_button.text() == TRUST_BUTTON
    assert dialog.cancel_button.isDefault()
    qtbot.mouseClick(dialog.trust_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted

    later = details.not_after + timedelta(days=1)
    expired = TrustDialog(None, "vc.test", details, now=later)
    qtbot.addWidget(expired)
    assert "The certificate expired on" in _texts(expired)
    assert "not for" not in _texts(expired)


def _change(details: CertificateDetails) -> CertificateChange:
    return CertificateChange("vc.test", 443, "ab" * 32, details.sha256, "CN=old",
                             "2026-01-02T03:04:05+00:00", details)  # fmt: skip


def test_the_changed_dialog_shows_both_fingerprints_and_asks_twice(
    qtbot: QtBot, details: CertificateDetails
) -> None:
    answers: list[bool] = []
    asked: list[tuple[str, str]] = []

    def confirm(_parent: QWidget | None, where: str, new: str) -> bool:
        asked.append((where, new))
        return answers.pop(0)

    dialog = CertificateChangedDialog(None, _change(details), confirm)
    qtbot.addWidget(dialog)
    shown = _texts(dialog)
    assert "WARNING: the certificate of vc.test:443 has changed!" in shown
    assert "AB:AB:AB:AB" in shown and "2026-01-02 03:04 UTC" in shown
    assert details.sha256_colons in shown.replace("\n", ":")
    buttons = [b.text() for b in dialog.buttons.buttons()]
    assert sorted(buttons) == sorted(["Cancel", REPLACE_BUTTON])  # no other way out
    assert dialog.cancel_button.isDefault() and not dialog.replace_button.isDefault()

    dialog.show()
    answers.append(False)  # replace, then "no" at the second question: still open
    qtbot.mouseClick(dialog.replace_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    answers.append(True)
    qtbot.mouseClick(dialog.replace_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert asked == [("vc.test:443", details.sha256_colons)] * 2


def test_prompts_carry_the_certificate_questions() -> None:
    prompts = Prompts()
    assert prompts.ask_trust is ask_trust
    assert prompts.show_certificate_changed is show_certificate_changed


# --- texts: no stray ampersands, nothing cut off ------------------------------------------------

_MNEMONIC = re.compile(r"&(.)")


def _mnemonic(text: str) -> str | None:
    """The mnemonic letter of a text, None without one; AssertionError for a stray '&'."""
    singles = [m.group(1) for m in _MNEMONIC.finditer(text) if m.group(1) != "&"]
    assert len(singles) <= 1 and all(c.isalnum() for c in singles), f"stray '&' in {text!r}"
    return singles[0].lower() if singles else None


def _check_texts(dialog: QWidget) -> None:
    letters: list[str] = []
    assert "&" not in dialog.windowTitle()
    for label in dialog.findChildren(QLabel):
        if not label.isVisibleTo(dialog) or not label.text():
            continue
        if label.buddy() is None or label.textFormat() == Qt.TextFormat.PlainText:
            assert "&" not in label.text() or label.buddy() is not None, label.text()
        if label.buddy() is not None and (letter := _mnemonic(label.text())):
            letters.append(letter)
        if label.wordWrap():
            assert label.height() >= label.heightForWidth(label.width()), label.text()
        else:
            assert label.width() >= label.sizeHint().width(), label.text()
    for button in dialog.findChildren(QAbstractButton):
        if not button.isVisibleTo(dialog) or not button.text():
            continue
        if letter := _mnemonic(button.text()):
            letters.append(letter)
        assert button.width() >= button.sizeHint().width(), button.text()
    assert len(letters) == len(set(letters)), f"a mnemonic used twice: {sorted(letters)}"


@pytest.mark.usefixtures("saved")
def test_texts_are_whole_and_free_of_stray_ampersands(
    qtbot: QtBot, details: CertificateDetails
) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # the note shows too
    error = ErrorInfo("Certificate problem", "the certificate could not be verified " * 3)
    tasks = BackgroundTasks()
    headless = ConnectionService(Connector(), tasks, Passwords())
    dialogs: list[QWidget] = [
        ConnectDialog(None, None, error, headless),
        TrustDialog(None, "other.test", details),
        CertificateChangedDialog(None, _change(details)),
    ]
    for dialog in dialogs:
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        _check_texts(dialog)
    tasks.shutdown()
