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
from .config import SimulatorConfig
from .errors import (
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
        self.faults = Faults(self.expire_session, self.expire_logins, config.prepare_stage_delay)
        self._timers: set[threading.Timer] = set()
        self._closed = False

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
        for us in list(self.update_sessions.values()):
            if now - us.last_activity > timeout:
                log.info("update session expired after %.1f s idle", now - us.last_activity)
                self._drop_update_session(us, trash)
        for ds in list(self.download_sessions.values()):
            if now - ds.last_activity > timeout:
                log.info("download session expired after %.1f s idle", now - ds.last_activity)
                self._drop_download_session(ds)
        for token, login in list(self.logins.items()):
            if now - login.last_accessed > self.config.login_timeout:
                del self.logins[token]

    def reap(self) -> None:
        """Expire idle sessions and logins now (the service calls this periodically)."""
        with self._locked():
            pass

    def _drop_update_session(self, us: UpdateSession, trash: list[Path]) -> None:
        us.gone = True
        self._discard_upload_content(us, trash)
        self.update_sessions.pop(us.id, None)

    def _discard_upload_content(self, us: UpdateSession, trash: list[Path]) -> None:
        for f in us.files.values():
            if f.token is not None:
                self.upload_tokens.pop(f.token, None)
            if f.temp is not None:
                trash.append(f.temp)
                f.temp = None
            f.generation += 1  # stops a running PUT

    def _drop_download_session(self, ds: DownloadSession) -> None:
        ds.gone = True
        self._revoke_download_tokens(ds)
        self.download_sessions.pop(ds.id, None)

    def _revoke_download_tokens(self, ds: DownloadSession) -> None:
        for f in ds.files.values():
            if f.token is not None:
                self.download_tokens.pop(f.token, None)
                f.token = None

    def close(self) -> None:
        """Stop pending timers (prepare stages)."""
        with self.lock:
            self._closed = True
            timers = list(self._timers)
            self._timers.clear()
        for t in timers:
            t.cancel()

    def expire_session(self, session_id: str) -> bool:
        with self._locked() as trash:
            us = self.update_sessions.get(session_id)
            if us is not None:
                self._drop_update_session(us, trash)
                return True
            ds = self.download_sessions.get(session_id)
            if ds is not None:
                self._drop_download_session(ds)
                return True
            return False

    def expire_logins(self) -> int:
        with self.lock:
            n = len(self.logins)
            self.logins.clear()
            return n

    def login(self, user: str, password: str) -> str:
        readonly: bool
        if user in self.config.users:
            expected, readonly = self.config.users[user], False
        elif user in self.config.readonly_users:
            expected, readonly = self.config.readonly_users[user], True
        else:
            expected, readonly = None, False
        if expected is None or not hmac.compare_digest(
            expected.encode("utf-8"), password.encode("utf-8")
        ):
            log.info("login refused for user %r", user)
            raise ApiError(
                "UNAUTHENTICATED",
                "Authentication failed: wrong user name or password.",
                msg_id="com.vmware.vapi.endpoint.method.authentication.failed",
            )
        token = secrets.token_hex(16)
        now = self.clock()
        with self._locked():
            self.logins[token] = Login(user, readonly, now, now)
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
    def _require_write(p: Principal, privilege: str) -> None:
        if p.readonly:
            raise unauthorized(p.user, privilege)

    def _idempotent(self, p: Principal, kind: str, token: str | None) -> str | None:
        if token is None:
            return None
        return self.client_tokens.get((p.user, kind, token))

    def _remember(self, p: Principal, kind: str, token: str | None, ident: str) -> None:
        if token is not None:
            self.client_tokens[(p.user, kind, token)] = ident

    def _library(self, library_id: str) -> Library:
        lib = self.store.libraries.get(library_id)
        if lib is None:
            raise not_found("library", library_id)
        return lib

    def _item(self, item_id: str) -> Item:
        item = self.store.items.get(item_id)
        if item is None:
            raise not_found("library item", item_id)
        return item

    # Another user's session answers NOT_FOUND, as vCenter does for sessions the caller
    # cannot see: it neither confirms the id nor lets the caller touch it.

    def _update_session(self, p: Principal, session_id: str) -> UpdateSession:
        us = self.update_sessions.get(session_id)
        if us is None or us.user != p.user:
            raise not_found("update session", session_id)
        return us

    def _download_session(self, p: Principal, session_id: str) -> DownloadSession:
        ds = self.download_sessions.get(session_id)
        if ds is None or ds.user != p.user:
            raise not_found("download session", session_id)
        return ds

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
                    lib.model(self.store.server_guid) for lib in self.store.libraries.values()
                ],
                "items": [
                    {**item.model(), "files": [f.info() for f in item.files.values()]}
                    for item in self.store.items.values()
                ],
                "update_sessions": [
                    {
                        "id": us.id,
                        "user": us.user,
                        **us.model(timeout),
                        "files": [_without_uri(f.info("")) for f in us.files.values()],
                    }
                    for us in self.update_sessions.values()
                ],
                "download_sessions": [
                    {
                        "id": ds.id,
                        "user": ds.user,
                        **ds.model(timeout),
                        "files": [_without_uri(f.info("")) for f in ds.files.values()],
                    }
                    for ds in self.download_sessions.values()
                ],
                "logins": [
                    {"user": lg.user, "readonly": lg.readonly} for lg in self.logins.values()
                ],
                "faults": self.faults.snapshot(),
            }


def _without_uri(info: JSON) -> JSON:
    return {k: v for k, v in info.items() if k not in ("upload_endpoint", "download_endpoint")}
