"""The simulator's test accounts and an in-memory keyring, so no test touches the real one."""

from __future__ import annotations

import keyring.backend
import keyring.errors

SIM_USER, SIM_PASSWORD = "admin", "secret"
SIM_READONLY_USER, SIM_READONLY_PASSWORD = "reader", "secret"
USERS = {SIM_USER: SIM_PASSWORD}
READONLY_USERS = {SIM_READONLY_USER: SIM_READONLY_PASSWORD}


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring back end that keeps passwords in a dict."""

    priority = 1

    def __init__(self) -> None:  # no super().__init__(): KEYRING_PROPERTY_* do not apply
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(
                f"no password for {username}@{service}"
            ) from None


MEMORY_KEYRING = MemoryKeyring()
