"""Passwords in the system keyring, under the entries the CLI reads ("USER@SERVER").

Where no keyring back end works (a headless box), passwords are kept in this process's memory
for the session only; `persistent` says which, so a dialog can tell the user.
"""

from __future__ import annotations

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.errors

from cl_desktop.paths import KEYRING_SERVICE, keyring_key


class Passwords:
    def __init__(self) -> None:
        self._session: dict[str, str] = {}
        # the null back end "stores" by dropping: no more a keyring than the failing one
        unusable = (keyring.backends.fail.Keyring, keyring.backends.null.Keyring)
        self.persistent = not isinstance(keyring.get_keyring(), unusable)

    def remember(self, server: str, user: str, password: str) -> None:
        key = keyring_key(server, user)
        if self.persistent:
            try:
                keyring.set_password(KEYRING_SERVICE, key, password)
                return
            except keyring.errors.KeyringError:
                self.persistent = False  # e.g. a locked or absent secret service
        self._session[key] = password

    def lookup(self, server: str, user: str) -> str | None:
        key = keyring_key(server, user)
        if key in self._session:
            return self._session[key]
        if not self.persistent:
            return None
        try:
            return keyring.get_password(KEYRING_SERVICE, key)
        except keyring.errors.KeyringError:
            return None

    def forget(self, server: str, user: str) -> None:
        key = keyring_key(server, user)
        self._session.pop(key, None)
        if self.persistent:
            try:
                keyring.delete_password(KEYRING_SERVICE, key)
            except keyring.errors.KeyringError:
                pass  # nothing stored (PasswordDeleteError) or no back end: nothing to forget
