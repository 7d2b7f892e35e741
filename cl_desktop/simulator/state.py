"""Shared state of the service: the state lock, logins, sessions, expiry.

``State`` is the base of the operation mixins (``libraries.py``, ``updates.py``,
``downloads.py``); ``backend.Backend`` combines them.  Every public method takes
the state lock only for metadata work: byte I/O on the data endpoints happens
between ``begin_*`` and ``finish_*``/``note_*`` calls with the lock released.
Files that become garbage under the lock (discarded uploads, replaced
versions) are handed to the store's shredder after it is released.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .args import opt_int
from .certs import Certificate, parse_pem
from .config import SimulatorConfig
from .errors import (
    ACCOUNT_LOCKED_ID,
    PASSWORD_EXPIRED_ID,
    ApiError,
    invalid_argument,
    not_allowed,
    not_found,
    unauthenticated,
    unauthorized,
)
from .faults import Faults
from .models import JSON, DownloadSession, Item, Library, Login, Principal, UpdateSession, iso_time
from .store import Store

log = logging.getLogger(__name__)


def _refused(user: str, msg_id: str, why: str) -> ApiError:
    """A login refused for the account's state, worded as vCenter words it (docs/PROTOCOL.md)."""
    log.info("login refused for user %r: %s", user, why)
    return ApiError("UNAUTHENTICATED", f"Authentication failed: {why}.", msg_id=msg_id, args=[user])


class State:
    """The service's in-memory and durable state, and the helpers every operation uses."""

    def __init__(
        self, config: SimulatorConfig, data_dir: Path, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.store = Store(data_dir)
        self.logins: dict[str, Login] = {}
        self.update_sessions: dict[str, UpdateSession] = {}
        self.download_sessions: dict[str, DownloadSession] = {}
        self.upload_tokens: dict[str, tuple[str, str]] = {}  # token -> (session, file)
        self.download_tokens: dict[str, tuple[str, str]] = {}
        self.client_tokens: dict[tuple[str, str, str], str] = {}  # (user, kind, token) -> id
        # user -> {"accepted": n, "refused": n}: tests count logins (renewals, refused retries)
        self.login_counts: dict[str, dict[str, int]] = {}
        self.faults = Faults(self.expire_session, self.expire_logins, config.prepare_stage_delay)
        self._timers: set[threading.Timer] = set()
        self._closed = False
        self._trusted: tuple[tuple[str, ...], list[Certificate]] = ((), [])

    def trusted_certificates(self) -> list[Certificate]:
        """The parsed `config.trusted_certificates` (read again when the setting changes)."""
        pems = tuple(self.config.trusted_certificates)
        if pems != self._trusted[0]:
            parsed = [c for pem in pems for c in parse_pem(pem.encode("ascii", "replace"))]
            self._trusted = (pems, parsed)
        return self._trusted[1]

    @contextmanager
    def _locked(self) -> Iterator[list[Path]]:
        """Hold the state lock; paths appended to the yielded list are discarded afterwards."""
        trash: list[Path] = []
        try:
            with self.lock:
                self._reap(trash)
                yield trash
        finally:
            for path in trash:
                self.store.shredder.discard(path)

    def _reap(self, trash: list[Path]) -> None:
        now = self.clock()
        timeout = self.config.session_timeout
        for update_session in list(self.update_sessions.values()):
            if now - update_session.last_activity > timeout:
                log.info(
                    "update session expired after %.1f s idle", now - update_session.last_activity
                )
                self._drop_update_session(update_session, trash)
        for download_session in list(self.download_sessions.values()):
            if now - download_session.last_activity > timeout:
                log.info(
                    "download session expired after %.1f s idle",
                    now - download_session.last_activity,
                )
                self._drop_download_session(download_session)
        for token, login in list(self.logins.items()):
            if now - login.last_accessed > self.config.login_timeout:
                del self.logins[token]

    def reap(self) -> None:
        """Expire idle sessions and logins now (the service calls this periodically)."""
        with self._locked():
            pass

    def _drop_update_session(self, update_session: UpdateSession, trash: list[Path]) -> None:
        update_session.gone = True
        self._discard_upload_content(update_session, trash)
        self.update_sessions.pop(update_session.id, None)

    def _discard_upload_content(self, update_session: UpdateSession, trash: list[Path]) -> None:
        for file in update_session.files.values():
            if file.token is not None:
                self.upload_tokens.pop(file.token, None)
            if file.temp is not None:
                trash.append(file.temp)
                file.temp = None
            file.generation += 1  # stops a running PUT
            if file.puller is not None:
                file.puller.abort()  # and a running PULL, even one blocked on its source

    def _drop_download_session(self, download_session: DownloadSession) -> None:
        download_session.gone = True
        self._revoke_download_tokens(download_session)
        self.download_sessions.pop(download_session.id, None)

    def _revoke_download_tokens(self, download_session: DownloadSession) -> None:
        for file in download_session.files.values():
            if file.token is not None:
                self.download_tokens.pop(file.token, None)
                file.token = None

    def close(self) -> None:
        """Stop pending timers (prepare stages)."""
        with self.lock:
            self._closed = True
            timers = list(self._timers)
            self._timers.clear()
            pullers = [
                file.puller
                for update_session in self.update_sessions.values()
                for file in update_session.files.values()
                if file.puller is not None
            ]
        for timer in timers:
            timer.cancel()
        for puller in pullers:
            puller.abort()
        for puller in pullers:  # aborted: each ends within its current read
            if puller.thread.is_alive():
                puller.thread.join(timeout=2)

    def expire_session(self, session_id: str) -> bool:
        with self._locked() as trash:
            update_session = self.update_sessions.get(session_id)
            if update_session is not None:
                self._drop_update_session(update_session, trash)
                return True
            download_session = self.download_sessions.get(session_id)
            if download_session is not None:
                self._drop_download_session(download_session)
                return True
            return False

    def expire_logins(self) -> int:
        with self.lock:
            n = len(self.logins)
            self.logins.clear()
            return n

    def set_password(self, user: str, password: str) -> None:
        """Change a user's password (an administrator's change on the server). Logins already
        made stay valid until they expire or end, as on vCenter; KeyError for an unknown user."""
        with self.lock:
            for accounts in (self.config.users, self.config.readonly_users):
                if user in accounts:
                    accounts[user] = password
                    return
        raise KeyError(user)

    def _count_login(self, user: str, outcome: str) -> None:
        with self.lock:
            counts = self.login_counts.setdefault(user, {"accepted": 0, "refused": 0})
            counts[outcome] += 1

    def login(self, user: str, password: str) -> str:
        readonly: bool
        if user in self.config.users:
            expected, readonly = self.config.users[user], False
        elif user in self.config.readonly_users:
            expected, readonly = self.config.readonly_users[user], True
        else:
            expected, readonly = None, False
        if user in self.config.locked_users:  # a locked account says so whatever the password
            raise _refused(user, ACCOUNT_LOCKED_ID, f"the account '{user}' is locked")
        if expected is None or not hmac.compare_digest(
            expected.encode("utf-8"), password.encode("utf-8")
        ):
            log.info("login refused for user %r", user)
            self._count_login(user, "refused")
            raise ApiError(
                "UNAUTHENTICATED",
                "Authentication failed: wrong user name or password.",
                msg_id="com.vmware.vapi.endpoint.method.authentication.failed",
            )
        if user in self.config.expired_password_users:
            raise _refused(user, PASSWORD_EXPIRED_ID, f"the password of '{user}' has expired")
        token = secrets.token_hex(16)
        now = self.clock()
        with self._locked():
            self.logins[token] = Login(user, readonly, now, now)
        self._count_login(user, "accepted")
        log.info("user %r logged in", user)
        return token

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise unauthenticated()
        with self._locked():
            login = self.logins.get(token)
            if login is None:
                raise unauthenticated()
            login.last_accessed = self.clock()
            return Principal(login.user, login.readonly)

    def logout(self, token: str | None) -> None:
        with self._locked():
            if token is None or self.logins.pop(token, None) is None:
                raise unauthenticated()

    def session_info(self, token: str | None) -> JSON:
        with self._locked():
            login = self.logins.get(token or "")
            if login is None:
                raise unauthenticated()
            return {
                "user": login.user,
                "created_time": iso_time(login.created),
                "last_accessed_time": iso_time(login.last_accessed),
            }

    @staticmethod
    def _require_write(principal: Principal, privilege: str) -> None:
        if principal.readonly:
            raise unauthorized(principal.user, privilege)

    def _idempotent(self, principal: Principal, kind: str, token: str | None) -> str | None:
        if token is None:
            return None
        return self.client_tokens.get((principal.user, kind, token))

    def _remember(self, principal: Principal, kind: str, token: str | None, ident: str) -> None:
        if token is not None:
            self.client_tokens[(principal.user, kind, token)] = ident

    def _library(self, library_id: str) -> Library:
        library = self.store.libraries.get(library_id)
        if library is None:
            raise not_found("library", library_id)
        return library

    def _item(self, item_id: str) -> Item:
        item = self.store.items.get(item_id)
        if item is None:
            raise not_found("library item", item_id)
        return item

    # Another user's session answers NOT_FOUND, as vCenter does for sessions the caller
    # cannot see: it neither confirms the id nor lets the caller touch it.

    def _update_session(self, principal: Principal, session_id: str) -> UpdateSession:
        update_session = self.update_sessions.get(session_id)
        if update_session is None or update_session.user != principal.user:
            raise not_found("update session", session_id)
        return update_session

    def _download_session(self, principal: Principal, session_id: str) -> DownloadSession:
        download_session = self.download_sessions.get(session_id)
        if download_session is None or download_session.user != principal.user:
            raise not_found("download session", session_id)
        return download_session

    @staticmethod
    def _require_active(state: str, session_id: str, operation: str) -> None:
        if state != "ACTIVE":
            raise not_allowed(
                f"Cannot {operation} session '{session_id}': it is {state}, not ACTIVE.",
                operation,
                state,
                session_id,
                key="session_not_active",
            )

    @staticmethod
    def _progress(value: Any, key: str, current: int) -> int | None:
        progress = opt_int(value, key)
        if progress is None:
            return None
        if not 0 <= progress <= 100:
            raise invalid_argument(
                f"'{key}' must be between 0 and 100, got {progress}.",
                str(progress),
                key="invalid_progress",
            )
        if progress <= current:
            raise invalid_argument(
                f"'{key}' must be greater than the current progress {current}, got {progress}.",
                str(progress),
                str(current),
                key="invalid_progress",
            )
        return progress

    def dump(self) -> JSON:
        """A JSON view of everything, for tests: no passwords, no login tokens and no data
        URIs (each carries the token that lets anyone move the file's bytes)."""
        with self._locked():
            timeout = self.config.session_timeout
            return {
                "default_library_id": self.store.default_library_id,
                "libraries": [
                    library.model(self.store.server_guid)
                    for library in self.store.libraries.values()
                ],
                "items": [
                    {**item.model(), "files": [file.info() for file in item.files.values()]}
                    for item in self.store.items.values()
                ],
                "update_sessions": [
                    {
                        "id": update_session.id,
                        "user": update_session.user,
                        **update_session.model(timeout, None, self.trusted_certificates()),
                        "files": [
                            _without_uri(file.info("")) for file in update_session.files.values()
                        ],
                    }
                    for update_session in self.update_sessions.values()
                ],
                "download_sessions": [
                    {
                        "id": download_session.id,
                        "user": download_session.user,
                        **download_session.model(timeout),
                        "files": [
                            _without_uri(file.info("")) for file in download_session.files.values()
                        ],
                    }
                    for download_session in self.download_sessions.values()
                ],
                "logins": [
                    {"user": login.user, "readonly": login.readonly}
                    for login in self.logins.values()
                ],
                "login_counts": {user: dict(n) for user, n in self.login_counts.items()},
                "faults": self.faults.snapshot(),
            }


def _without_uri(info: JSON) -> JSON:
    return {k: v for k, v in info.items() if k not in ("upload_endpoint", "download_endpoint")}
