"""The Content Library state machine, independent of the HTTP dialect.

Every public method takes the state lock only for metadata work; byte I/O on
the data endpoints happens in ``transfer.py`` between ``begin_*`` and
``finish_*``/``note_*`` calls, with the lock released.  Files that become
garbage under the lock (discarded uploads, replaced versions) are unlinked
after the lock is released.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import SimulatorConfig
from .errors import (
    ApiError,
    invalid_argument,
    localizable,
    not_allowed,
    not_found,
    unauthenticated,
    unauthorized,
)
from .faults import Faults
from .models import (
    CHECKSUM_ALGORITHMS,
    DATASTORE_ID,
    DATASTORE_NAME,
    JSON,
    DownloadFile,
    DownloadSession,
    Item,
    ItemFile,
    Library,
    Login,
    Principal,
    UpdateSession,
    UploadFile,
    client_error,
    iso_time,
)
from .store import Store

log = logging.getLogger(__name__)

WARNING_TYPES = (
    "SELF_SIGNED_CERTIFICATE",
    "EXPIRED_CERTIFICATE",
    "NOT_YET_VALID_CERTIFICATE",
    "UNTRUSTED_CERTIFICATE",
)


@dataclass
class UploadTicket:
    """One data PUT in flight: which file it feeds and into which temp file."""

    session: UpdateSession
    file: UploadFile
    generation: int
    temp: Path
    algorithm: str  # extra digest to compute besides SHA1 (or "SHA1")


@dataclass
class DownloadTicket:
    """One data GET in flight."""

    session: DownloadSession
    file: DownloadFile
    path: Path
    size: int


# -- argument helpers -------------------------------------------------------------------


def _spec(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        raise invalid_argument(f"The {what} is required.", what, key="missing_spec")
    if not isinstance(value, dict):
        raise invalid_argument(f"The {what} must be a JSON object.", what, key="invalid_spec")
    return value


def _opt_str(spec: dict[str, Any], key: str) -> str | None:
    value = spec.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid_argument(f"'{key}' must be a string.", key, key="invalid_type")
    return value


def _req_str(spec: dict[str, Any], key: str) -> str:
    value = _opt_str(spec, key)
    if value is None or value == "":
        raise invalid_argument(f"'{key}' is required.", key, key="missing_field")
    return value


def _opt_int(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_argument(f"'{key}' must be an integer.", key, key="invalid_type")
    return value


def _check_client_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        uuid.UUID(token)
    except (ValueError, AttributeError, TypeError):
        raise invalid_argument(
            f"The client token '{token}' is not a UUID.", str(token), key="invalid_client_token"
        ) from None
    return token


def _check_file_name(name: str) -> None:
    bad = name in (".", "..") or any(c in name for c in "/\\\0") or len(name.encode("utf-8")) > 200
    if bad:
        raise invalid_argument(
            f"The file name '{name}' is not valid (no path separators, at most 200 bytes).",
            name,
            key="invalid_file_name",
        )


def _warning_behavior(value: Any) -> list[JSON] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid_argument("'warning_behavior' must be a list.", key="invalid_type")
    out: list[JSON] = []
    for entry in value:
        if not isinstance(entry, dict) or entry.get("type") not in WARNING_TYPES:
            raise invalid_argument(
                f"Invalid warning behavior {entry!r}: 'type' must be one of "
                + ", ".join(WARNING_TYPES)
                + ".",
                key="invalid_warning_behavior",
            )
        out.append({"type": entry["type"], "ignored": bool(entry.get("ignored", False))})
    return out


class Backend:
    """All Content Library operations.  Thread-safe."""

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

    # -- locking and housekeeping -------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[list[Path]]:
        """Hold the state lock; paths appended to the yielded list are unlinked afterwards."""
        trash: list[Path] = []
        try:
            with self.lock:
                self._reap(trash)
                yield trash
        finally:
            for path in trash:
                path.unlink(missing_ok=True)

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

    # -- fault hooks ----------------------------------------------------------------------

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

    # -- authentication -------------------------------------------------------------------

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

    # -- datastores -------------------------------------------------------------------------

    def datastores(self) -> list[JSON]:
        usage = shutil.disk_usage(self.store.root)
        return [
            {
                "datastore": DATASTORE_ID,
                "name": DATASTORE_NAME,
                "type": "VMFS",
                "free_space": usage.free,
                "capacity": usage.total,
            }
        ]

    def datastore(self, datastore_id: str) -> JSON:
        if datastore_id != DATASTORE_ID:
            raise not_found("datastore", datastore_id)
        usage = shutil.disk_usage(self.store.root)
        return {
            "name": DATASTORE_NAME,
            "type": "VMFS",
            "accessible": True,
            "free_space": usage.free,
            "multiple_host_access": False,
            "thin_provisioning_supported": True,
        }

    # -- libraries --------------------------------------------------------------------------

    def _library(self, library_id: str) -> Library:
        lib = self.store.libraries.get(library_id)
        if lib is None:
            raise not_found("library", library_id)
        return lib

    def list_libraries(self) -> list[str]:
        with self._locked():
            return list(self.store.libraries)

    def get_library(self, library_id: str) -> JSON:
        with self._locked():
            return self._library(library_id).model(self.store.server_guid)

    def find_libraries(self, spec: Any) -> list[str]:
        spec = _spec(spec, "find spec")
        name = _opt_str(spec, "name")
        lib_type = _opt_str(spec, "type")
        backing = spec.get("storage_backing")
        if name is None and lib_type is None and backing is None:
            raise invalid_argument(
                "At least one of 'name', 'type' or 'storage_backing' must be specified.",
                key="empty_find_spec",
            )
        with self._locked():
            out = []
            for lib in self.store.libraries.values():
                if name is not None and lib.name.casefold() != name.casefold():
                    continue
                if lib_type is not None and lib.type != lib_type:
                    continue
                if isinstance(backing, dict) and backing.get("datastore_id") not in (
                    None,
                    DATASTORE_ID,
                ):
                    continue
                out.append(lib.id)
            return out

    def create_library(self, p: Principal, spec: Any, client_token: str | None) -> str:
        self._require_write(p, "ContentLibrary.CreateLocalLibrary")
        spec = _spec(spec, "create spec")
        client_token = _check_client_token(client_token)
        name = _req_str(spec, "name")
        description = _opt_str(spec, "description") or ""
        lib_type = _opt_str(spec, "type") or "LOCAL"
        if lib_type != "LOCAL":
            raise invalid_argument(
                f"Library type '{lib_type}' cannot be created here; only LOCAL libraries.",
                lib_type,
                key="invalid_library_type",
            )
        backings = spec.get("storage_backings")
        if not isinstance(backings, list) or not backings:
            raise invalid_argument(
                "'storage_backings' must list one storage backing.", key="missing_storage_backing"
            )
        for b in backings:
            if not isinstance(b, dict) or b.get("type", "DATASTORE") != "DATASTORE":
                raise invalid_argument(
                    "Only DATASTORE storage backings are supported.", key="invalid_storage_backing"
                )
            ds = b.get("datastore_id")
            if ds != DATASTORE_ID:
                raise invalid_argument(
                    f"The datastore '{ds}' does not exist.", str(ds), key="invalid_datastore"
                )
        with self._locked():
            known = self._idempotent(p, "library", client_token)
            if known is not None:
                return known
            for lib in self.store.libraries.values():
                if lib.name.casefold() == name.casefold():
                    raise ApiError(
                        "ALREADY_EXISTS",
                        f"A library with the name '{name}' already exists.",
                        key="duplicate_library_name",
                        args=[name],
                    )
            now = self.clock()
            lib = Library(str(uuid.uuid4()), name, description, now, now)
            self.store.libraries[lib.id] = lib
            self.store.save()
            self._remember(p, "library", client_token, lib.id)
            return lib.id

    def delete_library(self, p: Principal, library_id: str) -> None:
        self._require_write(p, "ContentLibrary.DeleteLocalLibrary")
        with self._locked() as trash:
            lib = self._library(library_id)
            for item in [i for i in self.store.items.values() if i.library_id == lib.id]:
                self._remove_item(item, trash)
            del self.store.libraries[lib.id]
            self.store.save()
        shutil.rmtree(self.store.library_dir(library_id), ignore_errors=True)

    # -- items -------------------------------------------------------------------------------

    def _item(self, item_id: str) -> Item:
        item = self.store.items.get(item_id)
        if item is None:
            raise not_found("library item", item_id)
        return item

    def _name_taken(self, library_id: str, name: str, other_than: str | None = None) -> None:
        for item in self.store.items.values():
            if (
                item.library_id == library_id
                and item.id != other_than
                and item.name.casefold() == name.casefold()
            ):
                raise ApiError(
                    "ALREADY_EXISTS",
                    f"Operation is not supported since a library item with the name '{name}' "
                    f"already exists in library '{library_id}'.",
                    key="duplicate_item_name_unsupported_in_library",
                    args=[name, library_id],
                )

    def list_items(self, library_id: str | None) -> list[str]:
        if not library_id:
            raise invalid_argument("'library_id' is required.", "library_id", key="missing_field")
        with self._locked():
            self._library(library_id)
            return [i.id for i in self.store.items.values() if i.library_id == library_id]

    def get_item(self, item_id: str) -> JSON:
        with self._locked():
            return self._item(item_id).model()

    def find_items(self, spec: Any) -> list[str]:
        spec = _spec(spec, "find spec")
        name = _opt_str(spec, "name")
        library_id = _opt_str(spec, "library_id")
        item_type = _opt_str(spec, "type")
        source_id = _opt_str(spec, "source_id")
        cached = spec.get("cached")
        if all(v is None for v in (name, library_id, item_type, source_id, cached)):
            raise invalid_argument(
                "At least one property of the find spec must be specified.", key="empty_find_spec"
            )
        with self._locked():
            out = []
            for item in self.store.items.values():
                if name is not None and item.name.casefold() != name.casefold():
                    continue
                if library_id is not None and item.library_id != library_id:
                    continue
                if item_type is not None and item.type != item_type:
                    continue
                if source_id is not None:
                    continue  # local items have no source
                if cached is not None and bool(item.files) != bool(cached):
                    continue
                out.append(item.id)
            return out

    def create_item(self, p: Principal, spec: Any, client_token: str | None) -> str:
        self._require_write(p, "ContentLibrary.AddLibraryItem")
        spec = _spec(spec, "create spec")
        client_token = _check_client_token(client_token)
        library_id = _req_str(spec, "library_id")
        name = _req_str(spec, "name")
        description = _opt_str(spec, "description") or ""
        item_type = _opt_str(spec, "type") or ""
        with self._locked():
            known = self._idempotent(p, "item", client_token)
            if known is not None:
                return known
            lib = self._library(library_id)
            self._name_taken(lib.id, name)
            now = self.clock()
            item = Item(str(uuid.uuid4()), lib.id, name, description, item_type, now, now)
            self.store.items[item.id] = item
            self.store.save()
            self._remember(p, "item", client_token, item.id)
            return item.id

    def update_item(self, p: Principal, item_id: str, spec: Any) -> None:
        self._require_write(p, "ContentLibrary.UpdateLibraryItem")
        spec = _spec(spec, "update spec")
        name = _opt_str(spec, "name")
        description = _opt_str(spec, "description")
        version = spec.get("version")
        if name == "":
            raise invalid_argument("'name' must not be empty.", key="invalid_name")
        with self._locked():
            item = self._item(item_id)
            if version is not None and str(version) != str(item.version):
                raise ApiError(
                    "CONCURRENT_CHANGE",
                    f"The library item '{item_id}' was changed by someone else "
                    f"(version {item.version}, update based on {version}).",
                    key="concurrent_change",
                    args=[item_id, str(item.version), str(version)],
                )
            if name is not None and name != item.name:
                self._name_taken(item.library_id, name, other_than=item.id)
                item.name = name
            if description is not None:
                item.description = description
            item.metadata_version += 1
            item.version += 1
            item.last_modified_time = self.clock()
            self.store.save()

    def _remove_item(self, item: Item, trash: list[Path]) -> None:
        for f in item.files.values():
            trash.append(self.store.absolute(f.blob))
        for us in list(self.update_sessions.values()):
            if us.item_id == item.id and us.state == "ACTIVE":
                us.state = "ERROR"
                us.error_message = localizable(
                    "com.vmware.vdcs.cls-main.item_deleted",
                    f"The library item '{item.id}' was deleted.",
                    [item.id],
                )
                self._discard_upload_content(us, trash)
        for ds in self.download_sessions.values():
            if ds.item_id == item.id and ds.state == "ACTIVE":
                ds.state = "ERROR"
                ds.error_message = localizable(
                    "com.vmware.vdcs.cls-main.item_deleted",
                    f"The library item '{item.id}' was deleted.",
                    [item.id],
                )
                self._revoke_download_tokens(ds)
        del self.store.items[item.id]

    def delete_item(self, p: Principal, item_id: str) -> None:
        self._require_write(p, "ContentLibrary.DeleteLibraryItem")
        with self._locked() as trash:
            item = self._item(item_id)
            item_dir = self.store.item_dir(item)
            self._remove_item(item, trash)
            self.store.save()
        shutil.rmtree(item_dir, ignore_errors=True)

    def item_files(self, item_id: str) -> list[JSON]:
        with self._locked():
            return [f.info() for f in self._item(item_id).files.values()]

    def item_file(self, item_id: str, name: str | None) -> JSON:
        if not name:
            raise invalid_argument("'name' is required.", "name", key="missing_field")
        with self._locked():
            f = self._item(item_id).files.get(name)
            if f is None:
                raise ApiError(
                    "NOT_FOUND",
                    f"The file '{name}' does not exist in library item '{item_id}'.",
                    key="file_not_found",
                    args=[name, item_id],
                )
            return f.info()

    def storage(self, item_id: str, file_name: str | None = None) -> list[JSON]:
        with self._locked():
            item = self._item(item_id)
            files = list(item.files.values())
            if file_name is not None:
                files = [f for f in files if f.name == file_name]
                if not files:
                    raise ApiError(
                        "NOT_FOUND",
                        f"The file '{file_name}' does not exist in library item '{item_id}'.",
                        key="file_not_found",
                        args=[file_name, item_id],
                    )
            return [f.storage_info(item.library_id, item.id) for f in files]

    # -- update sessions ---------------------------------------------------------------------

    def _update_session(self, session_id: str) -> UpdateSession:
        us = self.update_sessions.get(session_id)
        if us is None:
            raise not_found("update session", session_id)
        return us

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

    def create_update_session(self, p: Principal, spec: Any, client_token: str | None) -> str:
        self._require_write(p, "ContentLibrary.UpdateSession")
        spec = _spec(spec, "create spec")
        client_token = _check_client_token(client_token)
        item_id = _req_str(spec, "library_item_id")
        behavior = _warning_behavior(spec.get("warning_behavior"))
        with self._locked():
            known = self._idempotent(p, "update", client_token)
            if known is not None:
                return known
            item = self._item(item_id)
            for other in self.update_sessions.values():
                if other.item_id == item.id and other.state == "ACTIVE":
                    raise ApiError(
                        "RESOURCE_BUSY",
                        f"The library item '{item.id}' already has an active update session "
                        f"'{other.id}'; complete, cancel or fail it first.",
                        key="update_session_exists",
                        args=[item.id, other.id],
                    )
            us = UpdateSession(
                id=str(uuid.uuid4()),
                user=p.user,
                item_id=item.id,
                content_version=str(item.content_version),
                last_activity=self.clock(),
                warning_behavior=behavior,
            )
            # The session starts from a snapshot of the item's files.
            for f in item.files.values():
                us.files[f.name] = UploadFile(f.name, "NONE", "READY", carried=f)
            self.update_sessions[us.id] = us
            self._remember(p, "update", client_token, us.id)
            return us.id

    def get_update_session(self, session_id: str) -> JSON:
        with self._locked():
            return self._update_session(session_id).model(self.config.session_timeout)

    def list_update_sessions(self, p: Principal, item_id: str | None) -> list[str]:
        with self._locked():
            if item_id:
                self._item(item_id)
            return [
                s.id
                for s in self.update_sessions.values()
                if s.user == p.user and (not item_id or s.item_id == item_id)
            ]

    def update_update_session(self, session_id: str, spec: Any) -> None:
        spec = _spec(spec, "update spec")
        behavior = _warning_behavior(spec.get("warning_behavior"))
        with self._locked():
            us = self._update_session(session_id)
            self._require_active(us.state, us.id, "update")
            if behavior is not None:
                us.warning_behavior = behavior
            us.last_activity = self.clock()

    @staticmethod
    def _progress(value: Any, key: str, current: int) -> int | None:
        progress = _opt_int(value, key)
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

    def keep_alive_update(self, session_id: str, client_progress: Any) -> None:
        with self._locked():
            us = self._update_session(session_id)
            self._require_active(us.state, us.id, "keep alive")
            progress = self._progress(client_progress, "client_progress", us.client_progress)
            if progress is not None:
                us.client_progress = progress
            us.last_activity = self.clock()

    def _validation(self, us: UpdateSession) -> tuple[list[str], list[JSON]]:
        missing: list[str] = []
        invalid: list[JSON] = []
        for f in us.files.values():
            if f.carried is not None:
                continue
            if f.status == "ERROR":
                invalid.append(
                    {
                        "name": f.name,
                        "error_message": f.error
                        or localizable(
                            "com.vmware.vdcs.cls-main.file_error", f"File {f.name} failed."
                        ),
                    }
                )
            elif f.status != "READY":
                missing.append(f.name)
        return missing, invalid

    def complete_update_session(self, session_id: str) -> None:
        with self._locked() as trash:
            us = self._update_session(session_id)
            self._require_active(us.state, us.id, "complete")
            item = self._item(us.item_id)
            missing, invalid = self._validation(us)
            if missing or invalid:
                parts = []
                if missing:
                    parts.append("not received: " + ", ".join(missing))
                if invalid:
                    parts.append(
                        "in error: "
                        + "; ".join(
                            f"{e['name']} ({e['error_message']['default_message']})"
                            for e in invalid
                        )
                    )
                detail = "; ".join(parts)
                raise not_allowed(
                    f"Cannot complete update session '{us.id}': file(s) {detail}.",
                    "complete",
                    us.state,
                    detail,
                    key="session_files_not_ready",
                )
            now = self.clock()
            new_files: dict[str, ItemFile] = {}
            changed = False
            for f in us.files.values():
                if f.carried is not None:
                    new_files[f.name] = f.carried
                    continue
                if f.temp is None or f.size is None or f.sha1 is None:
                    raise AssertionError(f"READY file {f.name} without content")
                if not f.keep_in_storage:
                    trash.append(f.temp)  # consumed by the type adapter, not stored
                    f.temp = None
                    continue
                old = item.files.get(f.name)
                version = old.version + 1 if old is not None else 1
                dest = self.store.blob_path(item, f.name, version)
                dest.parent.mkdir(parents=True, exist_ok=True)
                f.temp.replace(dest)
                f.temp = None
                new_files[f.name] = ItemFile(
                    f.name, f.size, version, f.sha1, self.store.relative(dest)
                )
                changed = True
            for name, old in item.files.items():
                if new_files.get(name) is not old:
                    trash.append(self.store.absolute(old.blob))
                    changed = True
            if changed:
                item.files = new_files
                item.content_version += 1
                item.version += 1
                item.last_modified_time = now
                self.store.save()
            us.state = "DONE"
            us.last_activity = now
            self._discard_upload_content(us, trash)
            log.info("update session completed; item content version %d", item.content_version)

    def cancel_update_session(self, session_id: str) -> None:
        with self._locked() as trash:
            us = self._update_session(session_id)
            self._require_active(us.state, us.id, "cancel")
            us.state = "CANCELED"
            us.last_activity = self.clock()
            self._discard_upload_content(us, trash)

    def fail_update_session(self, session_id: str, message: Any) -> None:
        if not isinstance(message, str):
            raise invalid_argument(
                "'client_error_message' is required.", "client_error_message", key="missing_field"
            )
        with self._locked() as trash:
            us = self._update_session(session_id)
            self._require_active(us.state, us.id, "fail")
            us.state = "ERROR"
            us.error_message = client_error(message)
            us.last_activity = self.clock()
            self._discard_upload_content(us, trash)

    def delete_update_session(self, session_id: str) -> None:
        with self._locked() as trash:
            us = self._update_session(session_id)
            if us.state == "ACTIVE":
                raise not_allowed(
                    f"Cannot delete update session '{us.id}' while it is ACTIVE; "
                    "complete, cancel or fail it first.",
                    "delete",
                    us.state,
                    us.id,
                    key="session_active",
                )
            self._drop_update_session(us, trash)

    # -- update session files ------------------------------------------------------------------

    def _upload_file(self, us: UpdateSession, name: str | None) -> UploadFile:
        if not name:
            raise invalid_argument("'file_name' is required.", "file_name", key="missing_field")
        f = us.files.get(name)
        if f is None:
            raise invalid_argument(
                f"The file '{name}' is not part of update session '{us.id}'.",
                name,
                us.id,
                key="file_not_in_session",
            )
        return f

    def add_file(self, session_id: str, spec: Any, base: str) -> JSON:
        spec = _spec(spec, "file spec")
        name = _req_str(spec, "name")
        _check_file_name(name)
        source_type = _opt_str(spec, "source_type") or "PUSH"
        size = _opt_int(spec.get("size"), "size")
        if size is not None and size < 0:
            raise invalid_argument("'size' must not be negative.", key="invalid_size")
        checksum = spec.get("checksum_info")
        if checksum is not None:
            checksum = _spec(checksum, "checksum_info")
            algorithm = _opt_str(checksum, "algorithm") or "SHA1"
            if algorithm not in CHECKSUM_ALGORITHMS:
                raise invalid_argument(
                    f"Unknown checksum algorithm '{algorithm}'.", algorithm, key="invalid_algorithm"
                )
            value = _req_str(checksum, "checksum")
            checksum = {"algorithm": algorithm, "checksum": value.lower()}
        if source_type == "PULL":
            raise invalid_argument(
                "PULL is not supported by this simulator; use PUSH.", key="pull_unsupported"
            )
        if source_type != "PUSH":
            raise invalid_argument(
                f"Unknown source type '{source_type}'.", source_type, key="invalid_source_type"
            )
        with self._locked() as trash:
            us = self._update_session(session_id)
            self._require_active(us.state, us.id, "add a file to")
            item = self._item(us.item_id)
            old = us.files.get(name)
            generation = 0
            if old is not None:
                # Re-adding a name restarts that file (a retry); stop its transfer.
                if old.token is not None:
                    self.upload_tokens.pop(old.token, None)
                if old.temp is not None:
                    trash.append(old.temp)
                generation = old.generation + 1
            keep = not (item.type.lower() == "ovf" and name.lower().endswith((".mf", ".cert")))
            f = UploadFile(
                name=name,
                source_type="PUSH",
                status="WAITING_FOR_TRANSFER",
                keep_in_storage=keep,
                expected_size=size,
                expected_checksum=checksum,
                token=secrets.token_hex(16),
                generation=generation,
            )
            assert f.token is not None
            self.upload_tokens[f.token] = (us.id, name)
            us.files[name] = f
            us.last_activity = self.clock()
            return f.info(base)

    def get_upload_file(self, session_id: str, name: str | None, base: str) -> JSON:
        with self._locked():
            us = self._update_session(session_id)
            return self._upload_file(us, name).info(base)

    def list_upload_files(self, session_id: str, base: str) -> list[JSON]:
        with self._locked():
            us = self._update_session(session_id)
            return [f.info(base) for f in us.files.values()]

    def remove_file(self, session_id: str, name: str | None) -> None:
        with self._locked() as trash:
            us = self._update_session(session_id)
            self._require_active(us.state, us.id, "remove a file from")
            f = self._upload_file(us, name)
            if f.token is not None:
                self.upload_tokens.pop(f.token, None)
            if f.temp is not None:
                trash.append(f.temp)
                f.temp = None
            f.generation += 1
            del us.files[f.name]
            us.last_activity = self.clock()

    def validate_files(self, session_id: str) -> JSON:
        with self._locked():
            us = self._update_session(session_id)
            self._require_active(us.state, us.id, "validate")
            missing, invalid = self._validation(us)
            return {
                "has_errors": bool(missing or invalid),
                "missing_files": missing,
                "invalid_files": invalid,
            }

    # -- upload data endpoint ----------------------------------------------------------------

    def begin_upload(self, token: str, name: str) -> UploadTicket:
        with self._locked() as trash:
            ref = self.upload_tokens.get(token)
            us = self.update_sessions.get(ref[0]) if ref is not None else None
            if ref is None or us is None or ref[1] != name:
                raise ApiError(
                    "NOT_FOUND",
                    "The upload URI is not valid (unknown, expired or superseded).",
                    key="transfer_uri_not_found",
                )
            self._require_active(us.state, us.id, "upload to")
            f = us.files[name]
            if f.temp is not None:
                trash.append(f.temp)  # a new PUT supersedes an earlier one
            f.generation += 1
            f.temp = self.store.new_temp()
            f.status = "TRANSFERRING"
            f.bytes_transferred = 0
            f.size = f.sha1 = f.checksum = None
            f.error = None
            us.last_activity = self.clock()
            return UploadTicket(us, f, f.generation, f.temp, f.algorithm)

    @staticmethod
    def upload_alive(ticket: UploadTicket) -> bool:
        # Read without the lock: plain attribute reads are atomic and a stale
        # answer only delays the abort by one chunk.
        us = ticket.session
        return not us.gone and us.state == "ACTIVE" and ticket.file.generation == ticket.generation

    def upload_progress(self, ticket: UploadTicket, total: int) -> None:
        ticket.file.bytes_transferred = total
        ticket.session.last_activity = self.clock()

    def finish_upload(
        self,
        ticket: UploadTicket,
        received: int,
        complete: bool,
        digests: dict[str, str],
        failure: str | None = None,
    ) -> bool:
        """Record the outcome of a PUT; False if the file was taken away meanwhile."""
        with self._locked() as trash:
            f = ticket.file
            if not self.upload_alive(ticket):
                trash.append(ticket.temp)
                return False
            f.bytes_transferred = received
            ticket.session.last_activity = self.clock()
            error: str | None = failure
            if error is None and not complete:
                error = f"The transfer of {f.name} ended early after {received} bytes."
            if error is None and f.expected_size is not None and f.expected_size != received:
                error = (
                    f"Size mismatch for {f.name}: expected {f.expected_size} bytes, got {received}."
                )
            if error is None and f.expected_checksum is not None:
                want = str(f.expected_checksum["checksum"])
                got = digests[f.algorithm]
                if want != got:
                    error = (
                        f"Checksum mismatch for {f.name} ({f.algorithm}): "
                        f"expected {want}, got {got}."
                    )
            if error is not None:
                f.status = "ERROR"
                f.error = localizable(
                    "com.vmware.vdcs.cls-main.file_transfer_error", error, [f.name]
                )
                f.temp = None
                trash.append(ticket.temp)
                log.info("upload failed: %s", error)
                return True
            f.status = "READY"
            f.size = received
            f.sha1 = digests["SHA1"]
            f.checksum = digests[f.algorithm]
            return True

    # -- download sessions -------------------------------------------------------------------

    def _download_session(self, session_id: str) -> DownloadSession:
        ds = self.download_sessions.get(session_id)
        if ds is None:
            raise not_found("download session", session_id)
        return ds

    def create_download_session(self, p: Principal, spec: Any, client_token: str | None) -> str:
        self._require_write(p, "ContentLibrary.DownloadSession")
        spec = _spec(spec, "create spec")
        client_token = _check_client_token(client_token)
        item_id = _req_str(spec, "library_item_id")
        with self._locked():
            known = self._idempotent(p, "download", client_token)
            if known is not None:
                return known
            item = self._item(item_id)
            ds = DownloadSession(
                id=str(uuid.uuid4()),
                user=p.user,
                item_id=item.id,
                content_version=str(item.content_version),
                last_activity=self.clock(),
            )
            for f in item.files.values():
                ds.files[f.name] = DownloadFile(f.name, f.size, f.sha1, self.store.absolute(f.blob))
            self.download_sessions[ds.id] = ds
            self._remember(p, "download", client_token, ds.id)
            return ds.id

    def get_download_session(self, session_id: str) -> JSON:
        with self._locked():
            return self._download_session(session_id).model(self.config.session_timeout)

    def list_download_sessions(self, p: Principal, item_id: str | None) -> list[str]:
        with self._locked():
            if item_id:
                self._item(item_id)
            return [
                s.id
                for s in self.download_sessions.values()
                if s.user == p.user and (not item_id or s.item_id == item_id)
            ]

    def keep_alive_download(self, session_id: str, progress: Any) -> None:
        with self._locked():
            ds = self._download_session(session_id)
            self._require_active(ds.state, ds.id, "keep alive")
            value = self._progress(progress, "progress", ds.client_progress)
            if value is not None:
                ds.client_progress = value
            ds.last_activity = self.clock()

    def cancel_download_session(self, session_id: str) -> None:
        with self._locked():
            ds = self._download_session(session_id)
            self._require_active(ds.state, ds.id, "cancel")
            ds.state = "CANCELED"
            ds.last_activity = self.clock()
            self._revoke_download_tokens(ds)

    def fail_download_session(self, session_id: str, message: Any) -> None:
        if not isinstance(message, str):
            raise invalid_argument(
                "'client_error_message' is required.", "client_error_message", key="missing_field"
            )
        with self._locked():
            ds = self._download_session(session_id)
            self._require_active(ds.state, ds.id, "fail")
            ds.state = "ERROR"
            ds.error_message = client_error(message)
            ds.last_activity = self.clock()
            self._revoke_download_tokens(ds)

    def delete_download_session(self, session_id: str) -> None:
        with self._locked():
            self._drop_download_session(self._download_session(session_id))

    def _download_file(self, ds: DownloadSession, name: str | None) -> DownloadFile:
        if not name:
            raise invalid_argument("'file_name' is required.", "file_name", key="missing_field")
        f = ds.files.get(name)
        if f is None:
            raise invalid_argument(
                f"The file '{name}' is not part of download session '{ds.id}'.",
                name,
                ds.id,
                key="file_not_in_session",
            )
        return f

    def list_download_files(self, session_id: str, base: str) -> list[JSON]:
        with self._locked():
            ds = self._download_session(session_id)
            return [f.info(base) for f in ds.files.values()]

    def get_download_file(self, session_id: str, name: str | None, base: str) -> JSON:
        with self._locked():
            return self._download_file(self._download_session(session_id), name).info(base)

    def prepare_file(
        self, session_id: str, name: str | None, endpoint_type: Any, base: str
    ) -> JSON:
        endpoint = endpoint_type or "HTTPS"
        if endpoint != "HTTPS":
            raise invalid_argument(
                f"Endpoint type '{endpoint}' is not supported by this simulator; use HTTPS.",
                str(endpoint),
                key="invalid_endpoint_type",
            )
        with self._locked():
            ds = self._download_session(session_id)
            self._require_active(ds.state, ds.id, "prepare a file in")
            f = self._download_file(ds, name)
            if f.status in ("UNPREPARED", "ERROR"):
                f.status = "PREPARE_REQUESTED"
                f.error = None
                f.stage += 1
                self._schedule_stage(ds, f, f.stage)
            ds.last_activity = self.clock()
            return f.info(base)

    def _schedule_stage(self, ds: DownloadSession, f: DownloadFile, stage: int) -> None:
        if self._closed:
            return
        timer = threading.Timer(self.faults.prepare_stage_delay, self._advance, (ds, f, stage))
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def _advance(self, ds: DownloadSession, f: DownloadFile, stage: int) -> None:
        with self.lock:
            self._timers = {t for t in self._timers if t.is_alive()}
            if ds.gone or ds.state != "ACTIVE" or f.stage != stage:
                return
            if f.status == "PREPARE_REQUESTED":
                f.status = "PREPARING"
                self._schedule_stage(ds, f, stage)
            elif f.status == "PREPARING":
                if f.blob.exists():
                    f.status = "PREPARED"
                    f.token = secrets.token_hex(16)
                    self.download_tokens[f.token] = (ds.id, f.name)
                else:
                    f.status = "ERROR"
                    f.error = localizable(
                        "com.vmware.vdcs.cls-main.content_changed",
                        f"The content of {f.name} changed after the download session was "
                        "created; create a new download session.",
                        [f.name],
                    )

    # -- download data endpoint ---------------------------------------------------------------

    def begin_download(self, token: str, name: str) -> DownloadTicket:
        with self._locked():
            ref = self.download_tokens.get(token)
            ds = self.download_sessions.get(ref[0]) if ref is not None else None
            if ref is None or ds is None or ref[1] != name or ds.state != "ACTIVE":
                raise ApiError(
                    "NOT_FOUND",
                    "The download URI is not valid (unknown, expired, canceled or failed).",
                    key="transfer_uri_not_found",
                )
            f = ds.files[name]
            ds.last_activity = self.clock()
            return DownloadTicket(ds, f, f.blob, f.size)

    @staticmethod
    def download_alive(ticket: DownloadTicket) -> bool:
        ds = ticket.session
        return not ds.gone and ds.state == "ACTIVE" and ticket.file.token is not None

    def note_download(self, ticket: DownloadTicket, n: int) -> None:
        ticket.file.bytes_transferred += n
        ticket.session.last_activity = self.clock()

    # -- control API ------------------------------------------------------------------------

    def dump(self, base: str = "") -> JSON:
        """A JSON view of everything, for tests (no passwords, no login tokens)."""
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
                        "files": [f.info(base) for f in us.files.values()],
                    }
                    for us in self.update_sessions.values()
                ],
                "download_sessions": [
                    {
                        "id": ds.id,
                        "user": ds.user,
                        **ds.model(timeout),
                        "files": [f.info(base) for f in ds.files.values()],
                    }
                    for ds in self.download_sessions.values()
                ],
                "logins": [
                    {"user": lg.user, "readonly": lg.readonly} for lg in self.logins.values()
                ],
                "faults": self.faults.snapshot(),
            }
