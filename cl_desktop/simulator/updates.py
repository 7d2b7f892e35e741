"""UpdateSession, its files, and the upload side of the data endpoint."""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .args import (
    as_spec,
    check_client_token,
    check_file_name,
    opt_int,
    opt_str,
    parse_warning_behavior,
    req_str,
)
from .errors import ApiError, invalid_argument, localizable, not_allowed
from .models import (
    CHECKSUM_ALGORITHMS,
    JSON,
    ItemFile,
    Principal,
    UpdateSession,
    UploadFile,
    client_error,
)
from .state import State

log = logging.getLogger(__name__)


@dataclass
class UploadTicket:
    """One data PUT in flight: which file it feeds and into which temp file."""

    session: UpdateSession
    file: UploadFile
    generation: int
    temp: Path
    algorithm: str  # extra digest to compute besides SHA1 (or "SHA1")


class UpdateOps(State):
    """UpdateSession operations; uploads become visible to the item only on complete."""

    def create_update_session(self, p: Principal, spec: Any, client_token: str | None) -> str:
        self._require_write(p, "ContentLibrary.UpdateSession")
        spec = as_spec(spec, "create spec")
        client_token = check_client_token(client_token)
        item_id = req_str(spec, "library_item_id")
        behavior = parse_warning_behavior(spec.get("warning_behavior"))
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

    def get_update_session(self, p: Principal, session_id: str) -> JSON:
        with self._locked():
            return self._update_session(p, session_id).model(self.config.session_timeout)

    def list_update_sessions(self, p: Principal, item_id: str | None) -> list[str]:
        with self._locked():
            if item_id:
                self._item(item_id)
            return [
                s.id
                for s in self.update_sessions.values()
                if s.user == p.user and (not item_id or s.item_id == item_id)
            ]

    def update_update_session(self, p: Principal, session_id: str, spec: Any) -> None:
        self._require_write(p, "ContentLibrary.UpdateSession")
        spec = as_spec(spec, "update spec")
        behavior = parse_warning_behavior(spec.get("warning_behavior"))
        with self._locked():
            us = self._update_session(p, session_id)
            self._require_active(us.state, us.id, "update")
            if behavior is not None:
                us.warning_behavior = behavior
            us.last_activity = self.clock()

    def keep_alive_update(self, p: Principal, session_id: str, client_progress: Any) -> None:
        self._require_write(p, "ContentLibrary.UpdateSession")
        with self._locked():
            us = self._update_session(p, session_id)
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

    def complete_update_session(self, p: Principal, session_id: str) -> None:
        self._require_write(p, "ContentLibrary.UpdateSession")
        with self._locked() as trash:
            us = self._update_session(p, session_id)
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
                self.store.save_item(item)
            us.state = "DONE"
            us.last_activity = now
            self._discard_upload_content(us, trash)
            log.info("update session completed; item content version %d", item.content_version)

    def cancel_update_session(self, p: Principal, session_id: str) -> None:
        self._require_write(p, "ContentLibrary.UpdateSession")
        with self._locked() as trash:
            us = self._update_session(p, session_id)
            self._require_active(us.state, us.id, "cancel")
            us.state = "CANCELED"
            us.last_activity = self.clock()
            self._discard_upload_content(us, trash)

    def fail_update_session(self, p: Principal, session_id: str, message: Any) -> None:
        self._require_write(p, "ContentLibrary.UpdateSession")
        if not isinstance(message, str):
            raise invalid_argument(
                "'client_error_message' is required.", "client_error_message", key="missing_field"
            )
        with self._locked() as trash:
            us = self._update_session(p, session_id)
            self._require_active(us.state, us.id, "fail")
            us.state = "ERROR"
            us.error_message = client_error(message)
            us.last_activity = self.clock()
            self._discard_upload_content(us, trash)

    def delete_update_session(self, p: Principal, session_id: str) -> None:
        self._require_write(p, "ContentLibrary.UpdateSession")
        with self._locked() as trash:
            us = self._update_session(p, session_id)
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

    def add_file(self, p: Principal, session_id: str, spec: Any, base: str) -> JSON:
        self._require_write(p, "ContentLibrary.UpdateSession")
        spec = as_spec(spec, "file spec")
        name = req_str(spec, "name")
        check_file_name(name)
        source_type = opt_str(spec, "source_type") or "PUSH"
        size = opt_int(spec.get("size"), "size")
        if size is not None and size < 0:
            raise invalid_argument("'size' must not be negative.", key="invalid_size")
        checksum = spec.get("checksum_info")
        if checksum is not None:
            checksum = as_spec(checksum, "checksum_info")
            algorithm = opt_str(checksum, "algorithm") or "SHA1"
            if algorithm not in CHECKSUM_ALGORITHMS:
                raise invalid_argument(
                    f"Unknown checksum algorithm '{algorithm}'.", algorithm, key="invalid_algorithm"
                )
            value = req_str(checksum, "checksum")
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
            us = self._update_session(p, session_id)
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

    def get_upload_file(self, p: Principal, session_id: str, name: str | None, base: str) -> JSON:
        with self._locked():
            us = self._update_session(p, session_id)
            return self._upload_file(us, name).info(base)

    def list_upload_files(self, p: Principal, session_id: str, base: str) -> list[JSON]:
        with self._locked():
            us = self._update_session(p, session_id)
            return [f.info(base) for f in us.files.values()]

    def remove_file(self, p: Principal, session_id: str, name: str | None) -> None:
        self._require_write(p, "ContentLibrary.UpdateSession")
        with self._locked() as trash:
            us = self._update_session(p, session_id)
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

    def validate_files(self, p: Principal, session_id: str) -> JSON:
        with self._locked():
            us = self._update_session(p, session_id)
            self._require_active(us.state, us.id, "validate")
            missing, invalid = self._validation(us)
            return {
                "has_errors": bool(missing or invalid),
                "missing_files": missing,
                "invalid_files": invalid,
            }

    def begin_upload(self, token: str, name: str, declared: int | None = None) -> UploadTicket:
        """Start a PUT of ``declared`` body bytes (None: chunked)."""
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
            if declared is not None and f.expected_size is not None and declared > f.expected_size:
                # Refused before a byte is read: the body cannot be the file that was added.
                raise invalid_argument(
                    f"The body of {name} ({declared} bytes) is longer than its declared size "
                    f"of {f.expected_size} bytes.",
                    name,
                    key="body_too_long",
                )
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
