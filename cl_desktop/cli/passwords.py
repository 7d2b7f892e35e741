"""Where the password comes from: CL_PASSWORD (a destination account, --to-server/--to-user:
CL_TO_PASSWORD), else the keyring, else a prompt on a terminal."""

from __future__ import annotations

import getpass
import os
import sys

from cl_desktop.paths import KEYRING_SERVICE, keyring_key

from .errors import NoPassword

__all__ = ["KEYRING_SERVICE", "keyring_key", "password_for"]


def password_for(server: str, user: str, variable: str = "CL_PASSWORD") -> str:
    """`variable` names the environment variable to read first (CL_TO_PASSWORD for the
    account of a command's destination, --to-server/--to-user)."""
    env = os.environ.get(variable)
    if env:
        return env
    import keyring  # only now: importing it costs a quarter second at every start
    import keyring.errors

    try:
        stored = keyring.get_password(KEYRING_SERVICE, keyring_key(server, user))
    except keyring.errors.KeyringError:
        stored = None
    if stored:
        return stored
    if sys.stdin.isatty():
        return getpass.getpass(f"Password for {user} on {server}: ")
    raise NoPassword(
        f"no password for {user} on {server}: set {variable}, store the password in the "
        f"keyring (service {KEYRING_SERVICE!r}, entry {keyring_key(server, user)!r}), or run "
        "on a terminal to be asked for it"
    )
