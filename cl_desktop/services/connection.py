"""Connector: one logged-in REST client per server and account, shared by browsing and transfers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from cl_desktop.api import ContentLibraryClient, TlsSettings, normalize_server
from cl_desktop.api.errors import Unauthenticated
from cl_desktop.credentials import trust
from cl_desktop.transfers.errors import NotConnected
from cl_desktop.transfers.jobs import ServerRef

ClientFactory = Callable[[ServerRef, str], ContentLibraryClient]
_DIALECTS: dict[str, Literal["auto", "api", "rest"]] = {"api": "api", "rest": "rest"}


class StoredPasswords(Protocol):
    """Where saved passwords are looked up: `cl_desktop.credentials.passwords.Passwords`."""

    def lookup(self, server: str, user: str) -> str | None: ...


@dataclass(frozen=True)
class LoginRequest:
    """What the connection dialog asks for (the password stays in memory only, unless
    `remember_password` puts it in the keyring)."""

    server: str
    username: str
    password: str
    ca_file: str | None = None
    dialect: str = "auto"  # "auto", "api" or "rest"
    remember_password: bool = False
    profile: str = ""  # the saved profile it is for; "" saves one named after the server
    connect_on_start: bool = False
    # False: no profile, last-used or recent entry is kept (the demo server's passing login)
    remember_server: bool = True

    def __repr__(self) -> str:  # never show the password in logs or tracebacks
        return f"LoginRequest(server={self.server!r}, username={self.username!r}, password=***)"

    @property
    def ref(self) -> ServerRef:
        return ServerRef(
            normalize_server(self.server),
            self.username,
            dialect=self.dialect if self.dialect in _DIALECTS else "auto",
            ca_file=self.ca_file or None,
        )


def default_client_factory(ref: ServerRef, password: str) -> ContentLibraryClient:
    """A client trusting the server as the job says, else as the trust store's pin does.

    The pin is looked up here, at each login, not copied into jobs: a certificate trusted
    again later applies to queued jobs too. API calls and data transfers share the client's
    session, so the data URLs are verified against the same pin.
    """
    url = normalize_server(ref.url)
    tls = trust.tls_for(url, TlsSettings(ca_file=ref.ca_file, pin_sha256=ref.pin_sha256))
    return ContentLibraryClient(
        url,
        ref.username,
        password,
        dialect=_DIALECTS.get(ref.dialect, "auto"),
        tls=tls,
    )


class Connector:
    """`connector(ref)` -> a logged-in client for that server (the TransferQueue's connector).

    Thread-safe: workers and background tasks call it concurrently; each account logs in
    once, and the client logs in again by itself when its login expires. The password is the
    one given to `set_password` (kept in memory for the session only), else the one `passwords`
    holds (the keyring), so a queued job of a server whose password is stored runs without
    a prompt. A refused password is forgotten, and a stored one that was refused is not used
    again in this session (vCenter locks accounts after failed logins): the account's jobs
    then wait for a new login (`set_password`).
    """

    def __init__(
        self,
        factory: ClientFactory = default_client_factory,
        passwords: StoredPasswords | None = None,
    ) -> None:
        self._factory = factory
        self._stored = passwords
        self._lock = threading.Lock()
        self._passwords: dict[tuple[str, str], str] = {}
        self._refused: dict[tuple[str, str], set[str]] = {}  # not to be tried again
        self._disconnected: set[tuple[str, str]] = set()  # the stored password waits too
        self._clients: dict[tuple[str, str], ContentLibraryClient] = {}
        self._login_locks: dict[tuple[str, str], threading.Lock] = {}

    @staticmethod
    def _key(ref: ServerRef) -> tuple[str, str]:
        return normalize_server(ref.url), ref.username

    def set_password(self, ref: ServerRef, password: str) -> None:
        """Remember the password; a changed one replaces the cached client."""
        key = self._key(ref)
        with self._lock:
            self._refused.pop(key, None)  # a new login: the stored one may be good again
            self._disconnected.discard(key)
            if self._passwords.get(key) != password:
                self._passwords[key] = password
                old = self._clients.pop(key, None)
            else:
                old = None
        if old is not None:
            old.http.close()

    def connected(self, ref: ServerRef) -> bool:
        """Whether a logged-in client for that account exists (no login is attempted)."""
        with self._lock:
            return self._key(ref) in self._clients

    def disconnect(self, ref: ServerRef) -> None:
        """Log out of that account (best effort) and forget its client and in-memory
        password: later calls raise NotConnected until `set_password` (a stored password is
        not used either until then: disconnecting is the user's choice)."""
        key = self._key(ref)
        with self._lock:
            client = self._clients.pop(key, None)
            self._passwords.pop(key, None)
            self._disconnected.add(key)
        if client is not None:
            client.close()

    def __call__(self, ref: ServerRef) -> ContentLibraryClient:
        key = self._key(ref)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                return client
            login_lock = self._login_locks.setdefault(key, threading.Lock())
        with login_lock:  # one login per account even when several workers start at once
            with self._lock:
                client = self._clients.get(key)
                password = self._passwords.get(key)
            if client is not None:
                return client
            if password is None:
                password = self._stored_password(ref)
            if password is None:
                # The queue keeps such a job waiting until a login to its server.
                raise NotConnected(
                    f"not connected to {ref.url} as {ref.username} in this session",
                    operation="connect",
                )
            client = self._factory(ref, password)
            try:
                client.login()
            except Unauthenticated:
                # A refused password is forgotten: queued jobs then wait for a good login
                # instead of failing with this one.
                self._forget(key, password)
                client.http.close()
                raise
            client.password_source = lambda refused: self._renewal_password(ref, client, refused)
            with self._lock:
                self._clients[key] = client
            return client

    def _stored_password(self, ref: ServerRef) -> str | None:
        """The keyring's password of the account, unless it was refused in this session."""
        if self._stored is None:
            return None
        key = self._key(ref)
        with self._lock:
            if key in self._disconnected:
                return None
            refused = set(self._refused.get(key, ()))
        # One entry however the server is written (paths.keyring_key): the CLI's too.
        password = self._stored.lookup(key[0], ref.username)
        return None if not password or password in refused else password

    def _forget(self, key: tuple[str, str], password: str) -> None:
        with self._lock:
            if self._passwords.get(key) == password:
                del self._passwords[key]
            self._refused.setdefault(key, set()).add(password)  # the keyring's too, if equal

    def _renewal_password(
        self, ref: ServerRef, client: ContentLibraryClient, refused: str
    ) -> str | None:
        """A client's renewed login was refused (the password was changed on the server):
        forget that password, offer the stored one if it differs, else drop the client so
        that the account's jobs wait for a new login."""
        key = self._key(ref)
        self._forget(key, refused)
        other = self._stored_password(ref)
        if other is not None:
            return other
        with self._lock:
            if self._clients.get(key) is client:
                del self._clients[key]
        return None

    def close_all(self) -> None:
        """Log out of every server (best effort; call from a background thread at exit)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()
