"""Connector: one logged-in REST client per server and account, shared by browsing and transfers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cl_desktop.api import ContentLibraryClient, TlsSettings, normalize_server
from cl_desktop.api.errors import Unauthenticated
from cl_desktop.credentials import trust
from cl_desktop.transfers.errors import NotConnected
from cl_desktop.transfers.jobs import ServerRef

ClientFactory = Callable[[ServerRef, str], ContentLibraryClient]
_DIALECTS: dict[str, Literal["auto", "api", "rest"]] = {"api": "api", "rest": "rest"}


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
    once (the client itself logs in again when its session expires). Passwords are kept in
    memory for the session only.
    """

    def __init__(self, factory: ClientFactory = default_client_factory) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._passwords: dict[tuple[str, str], str] = {}
        self._clients: dict[tuple[str, str], ContentLibraryClient] = {}
        self._login_locks: dict[tuple[str, str], threading.Lock] = {}

    @staticmethod
    def _key(ref: ServerRef) -> tuple[str, str]:
        return normalize_server(ref.url), ref.username

    def set_password(self, ref: ServerRef, password: str) -> None:
        """Remember the password; a changed one replaces the cached client."""
        key = self._key(ref)
        with self._lock:
            if self._passwords.get(key) != password:
                self._passwords[key] = password
                old = self._clients.pop(key, None)
            else:
                old = None
        if old is not None:
            old.http.close()

    def __call__(self, ref: ServerRef) -> ContentLibraryClient:
        key = self._key(ref)
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                return client
            if key not in self._passwords:
                # The queue keeps such a job waiting until a login to its server.
                raise NotConnected(
                    f"not connected to {ref.url} as {ref.username} in this session",
                    operation="connect",
                )
            login_lock = self._login_locks.setdefault(key, threading.Lock())
        with login_lock:  # one login per account even when several workers start at once
            with self._lock:
                client = self._clients.get(key)
                password = self._passwords[key]
            if client is not None:
                return client
            client = self._factory(ref, password)
            try:
                client.login()
            except Unauthenticated:
                # A refused password is forgotten: queued jobs then wait for a good login
                # instead of failing with this one.
                with self._lock:
                    if self._passwords.get(key) == password:
                        del self._passwords[key]
                client.http.close()
                raise
            with self._lock:
                self._clients[key] = client
            return client

    def connected(self, ref: ServerRef) -> bool:
        with self._lock:
            return self._key(ref) in self._clients

    def disconnect(self, ref: ServerRef) -> None:
        """Log out of `ref` (best effort) and forget its client and password, so later calls
        raise NotConnected until the next login (stand-in until the renewal work lands)."""
        key = self._key(ref)
        with self._lock:
            self._passwords.pop(key, None)
            client = self._clients.pop(key, None)
        if client is not None:
            try:
                client.close()
            except Exception:  # logging out is a courtesy: the session expires anyway
                client.http.close()

    def close_all(self) -> None:
        """Log out of every server (best effort; call from a background thread at exit)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()
