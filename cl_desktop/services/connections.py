"""ConnectionService: the login flow of the window, with certificate trust, profiles and passwords.

    connect_to(request) -> check the trust store's pin -> log in (through the Connector)
        -> connected(ServerRef)                       passwords, profile, recent servers saved
        -> trust_needed(request, CertificateDetails)  untrusted: ask, then trust_and_connect
        -> certificate_changed(request, CertificateChange)  never replaced without replace_pin
        -> connection_failed(request, ErrorInfo)

Network work runs on the BackgroundTasks pool; signals arrive on the GUI thread.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from cl_desktop.api import normalize_server
from cl_desktop.api.errors import (
    CertificateExpired,
    CertificateNotYetValid,
    HostnameMismatch,
    TlsTrustError,
)
from cl_desktop.api.transport import colon_hex, origin
from cl_desktop.credentials import profiles, trust
from cl_desktop.credentials.certificates import CertificateDetails, read_certificate
from cl_desktop.credentials.passwords import Passwords
from cl_desktop.credentials.profiles import Profile, RecentServer
from cl_desktop.credentials.trust import CertificateChanged
from cl_desktop.transfers.jobs import ServerRef

from .connection import Connector, LoginRequest
from .errors import ErrorInfo, ErrorKind
from .tasks import BackgroundTasks

__all__ = [
    "CertificateChange",
    "CertificateDetails",
    "ConnectionService",
    "Profile",
    "RecentServer",
]

log = logging.getLogger(__name__)

# What a certificate's own dates and names refuse, whoever signed it: never offered for trust.
_REFUSED = {
    cls.reason: cls for cls in (CertificateExpired, CertificateNotYetValid, HostnameMismatch)
}

_Key = tuple[str, str]  # (normalized server URL, user)


@dataclass(frozen=True)
class CertificateChange:
    """A pinned server presents another certificate: both fingerprints, as SSH shows them."""

    host: str
    port: int
    old_sha256: str
    new_sha256: str
    old_subject: str
    trusted_at: str  # when the old one was trusted (ISO 8601, UTC)
    presented: CertificateDetails | None  # None when it could not be read a second time

    @property
    def old_sha256_colons(self) -> str:
        return colon_hex(self.old_sha256)

    @property
    def new_sha256_colons(self) -> str:
        return colon_hex(self.new_sha256)


@dataclass(frozen=True)
class _TrustNeeded:
    details: CertificateDetails


@dataclass(frozen=True)
class _Changed:
    change: CertificateChange


def _key(ref: ServerRef) -> _Key:
    return normalize_server(ref.url), ref.username


def _where(server: str) -> tuple[str, int]:
    _, host, port = origin(normalize_server(server))
    return host, port or 443


class ConnectionService(QObject):
    """Connects the window to servers, one or several, and remembers how.

    Signals:
        connected(ServerRef)
        connection_failed(LoginRequest, ErrorInfo)
        trust_needed(LoginRequest, CertificateDetails): the certificate is not trusted;
            answer with trust_and_connect(request, details), or drop it.
        certificate_changed(LoginRequest, CertificateChange): refused; only replace_pin
            (a deliberate second action) trusts the new one.
        password_needed(ServerRef): queued jobs wait for this server and no password is
            stored (emitted once per server and run, by ensure_connected / connect_on_start).
        disconnected(ServerRef)
    """

    connected = Signal(object)
    connection_failed = Signal(object, object)
    trust_needed = Signal(object, object)
    certificate_changed = Signal(object, object)
    password_needed = Signal(object)
    disconnected = Signal(object)

    def __init__(
        self,
        connector: Connector,
        tasks: BackgroundTasks,
        passwords: Passwords | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._connector = connector
        self._tasks = tasks
        self._passwords = passwords or Passwords()
        self._servers: dict[_Key, ServerRef] = {}
        self._connecting: set[_Key] = set()
        self._asked: set[_Key] = set()  # password_needed already emitted this run

    # --- connecting -----------------------------------------------------------------------

    def connect_to(self, request: LoginRequest) -> None:
        self._start(request, silent=False)

    def _start(self, request: LoginRequest, *, silent: bool) -> None:
        """`silent`: a stored password, tried without asking; if the server refuses it, the
        user is asked (password_needed) instead of shown an error."""
        try:
            ref = request.ref
        except ValueError as exc:  # not a server address
            error = ErrorInfo("Not a server address", str(exc), ErrorKind.CONNECTION)
            self.connection_failed.emit(request, error)
            return
        key = _key(ref)
        self._connecting.add(key)
        live = key in self._servers  # a failed second attempt must not end a working login

        def attempt() -> _TrustNeeded | _Changed | None:
            try:
                outcome = self._log_in(request, ref)
            except BaseException:
                if not live:
                    self._forget_login(ref)
                raise
            if outcome is not None and not live:
                self._forget_login(ref)
            return outcome

        def done(outcome: _TrustNeeded | _Changed | None) -> None:
            self._connecting.discard(key)
            if isinstance(outcome, _TrustNeeded):
                self.trust_needed.emit(request, outcome.details)
            elif isinstance(outcome, _Changed):
                self.certificate_changed.emit(request, outcome.change)
            else:
                self._logged_in(request, ref)

        def failed(error: ErrorInfo) -> None:
            self._connecting.discard(key)
            if silent and error.kind is ErrorKind.AUTH:
                if key not in self._asked:
                    self._asked.add(key)
                    self.password_needed.emit(ref)
                return
            self.connection_failed.emit(request, error)

        self._tasks.run(attempt, done, failed)

    def _log_in(self, request: LoginRequest, ref: ServerRef) -> _TrustNeeded | _Changed | None:
        """On a worker thread: None when logged in, else what the user must decide."""
        url = ref.url
        try:
            trust.check_server(url)
            self._connector.set_password(ref, request.password)
            self._connector(ref)
            return None
        except CertificateChanged as exc:
            return _Changed(self._change(url, exc))
        except TlsTrustError as exc:
            if not exc.pinnable:
                raise  # expired, not yet valid, for another name: named, never trusted
            if request.ca_file or not url.startswith("https://"):
                raise  # the CA file the user named does not vouch for it: say so
            try:
                trust.check_server(url)  # the certificate changed since the first check
            except CertificateChanged as exc:
                return _Changed(self._change(url, exc))
            if trust.pin_for(*_where(url)) is not None:
                raise  # pinned and matching, yet refused: not a question of trust
            try:
                details = read_certificate(url)
            except Exception:
                log.info("could not read the certificate of %s", url, exc_info=True)
                raise  # the first error (this one chained) says more
            # An unknown issuer is checked first: an expired or misnamed certificate of an
            # unknown CA arrives here too, and pinning would hide what is wrong with it.
            for problem in details.problems(_where(url)[0]):
                raise _REFUSED[problem.kind](problem.text, operation="login") from None
            return _TrustNeeded(details)

    @staticmethod
    def _change(url: str, exc: CertificateChanged) -> CertificateChange:
        pin = trust.pin_for(exc.host, exc.port)
        try:
            presented: CertificateDetails | None = read_certificate(url)
        except Exception:
            presented = None
        return CertificateChange(
            exc.host,
            exc.port,
            exc.old_sha256,
            exc.new_sha256,
            pin.subject if pin else "",
            pin.trusted_at if pin else "",
            presented,
        )

    def _forget_login(self, ref: ServerRef) -> None:
        """A failed attempt leaves no password behind for queued jobs to try."""
        try:
            self._connector.disconnect(ref)
        except Exception:
            log.debug("forgetting the failed login to %s", ref.url, exc_info=True)

    def _logged_in(self, request: LoginRequest, ref: ServerRef) -> None:
        if request.remember_password:
            self._passwords.remember(request.server, request.username, request.password)
        else:
            self._passwords.forget(request.server, request.username)
        try:
            if request.remember_server:
                name = request.profile or ref.label
                profiles.save(self._profile_of(request, name))
                profiles.set_last_used(name)
                profiles.add_recent(request.server, request.username)
        except OSError as exc:  # a damaged profiles file must not undo a good login
            log.warning("could not save the connection profile: %s", exc)
        key = _key(ref)
        self._servers[key] = ref
        self._asked.discard(key)
        self.connected.emit(ref)

    @staticmethod
    def _profile_of(request: LoginRequest, name: str) -> Profile:
        dialect = request.dialect if request.dialect in ("api", "rest") else "auto"
        return Profile(
            name,
            request.server,
            request.username,
            dialect,  # type: ignore[arg-type]  # checked just above
            request.ca_file or None,
            request.remember_password,
            request.connect_on_start,
        )

    def trust_and_connect(self, request: LoginRequest, details: CertificateDetails) -> None:
        """Pin `details` (the certificate the user looked at) for the server, connect again."""
        host, port = _where(request.server)
        trust.trust(host, port, details.sha256, details.subject)
        self.connect_to(request)

    def replace_pin(self, request: LoginRequest, change: CertificateChange) -> None:
        """The deliberate action: trust the changed certificate instead of the old one."""
        subject = change.presented.subject if change.presented else ""
        trust.trust(change.host, change.port, change.new_sha256, subject)
        self.connect_to(request)

    def disconnect_server(self, server: ServerRef) -> None:
        """Log out (in the background, best effort) and forget the session's password."""
        key = _key(server)
        ref = self._servers.pop(key, None)
        if ref is None:
            return
        self._tasks.run(lambda: self._forget_login(ref))
        self.disconnected.emit(ref)

    def servers(self) -> tuple[ServerRef, ...]:
        """The servers connected now, in the order they were connected."""
        return tuple(self._servers.values())

    def is_connected(self, server: ServerRef) -> bool:
        return _key(server) in self._servers

    def is_connecting(self, server: ServerRef) -> bool:
        """A login to `server` is under way (its outcome not signalled yet)."""
        return _key(server) in self._connecting

    # --- queued jobs waiting for a login -----------------------------------------------------

    def ensure_connected(self, server: ServerRef) -> None:
        """Connect to a server queued jobs wait for: silently with a stored password, else
        emit password_needed(server), once per server in this run."""
        key = _key(server)
        if key in self._servers or key in self._connecting:
            return
        request = self.request_for(server)
        if request.password:
            self._start(request, silent=True)
        elif key not in self._asked:
            self._asked.add(key)
            self.password_needed.emit(server)

    def request_for(self, server: ServerRef, password: str | None = None) -> LoginRequest:
        """A login request for `server`: its saved profile's settings, the stored password."""
        profile = self._profile_for(server)
        if profile is None:
            stored = self.stored_password(server.url, server.username) or ""
            request = LoginRequest(server.url, server.username, stored, server.ca_file,
                                   dialect=server.dialect)  # fmt: skip
        else:
            request = self.request_from_profile(profile)
        if password is not None:
            request = dataclasses.replace(request, password=password)
        return request

    def request_from_profile(self, profile: Profile) -> LoginRequest:
        stored = self.stored_password(profile.server, profile.user) or ""
        return LoginRequest(
            profile.server,
            profile.user,
            stored,
            profile.ca_file,
            dialect=profile.dialect,
            remember_password=profile.remember_password,
            profile=profile.name,
            connect_on_start=profile.connect_on_start,
        )

    @staticmethod
    def _profile_for(server: ServerRef) -> Profile | None:
        wanted = _key(server)
        for profile in profiles.list_profiles():
            try:
                if (normalize_server(profile.server), profile.user) == wanted:
                    return profile
            except ValueError:
                continue
        return None

    def connect_on_start(self) -> None:
        """Connect the profiles marked "connect on start" (password_needed where none is
        stored)."""
        for profile in self.start_profiles():
            try:
                ref = self.request_from_profile(profile).ref
            except ValueError:
                log.warning("profile %r names no server address", profile.name)
                continue
            self.ensure_connected(ref)

    # --- profiles and passwords --------------------------------------------------------------

    @property
    def keyring_available(self) -> bool:
        """False on a box without a working keyring: passwords last until the app quits."""
        return self._passwords.persistent

    def stored_password(self, server: str, user: str) -> str | None:
        return self._passwords.lookup(server, user)

    def forget_password(self, server: str, user: str) -> None:
        self._passwords.forget(server, user)

    @staticmethod
    def profiles() -> list[Profile]:
        return profiles.list_profiles()

    @staticmethod
    def start_profiles() -> list[Profile]:
        return [p for p in profiles.list_profiles() if p.connect_on_start]

    @staticmethod
    def last_used_profile() -> Profile | None:
        return profiles.last_used()

    @staticmethod
    def recent_servers() -> list[RecentServer]:
        return profiles.recent()

    @staticmethod
    def save_profile(profile: Profile) -> None:
        profiles.save(profile)

    def remove_profile(self, name: str) -> None:
        """Remove a saved profile and the password stored for it."""
        profile = profiles.find(name)
        if profile is not None:
            self.forget_password(profile.server, profile.user)
            profiles.remove(name)
