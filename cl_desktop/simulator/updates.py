"""UpdateSession, its files, and the upload side of the data endpoint."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
from .pulls import SCHEMES, Puller, Reference, normalize_thumbprint
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

    def create_update_session(
        self, principal: Principal, spec: Any, client_token: str | None
    ) -> str:
        self._require_write(principal, "ContentLibrary.UpdateSession")
        spec = as_spec(spec, "create spec")
        client_token = check_client_token(client_token)
        item_id = req_str(spec, "library_item_id")
        behavior = parse_warning_behavior(spec.get("warning_behavior"))
        with self._locked():
            known = self._idempotent(principal, "update", client_token)
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
            session = UpdateSession(
                id=str(uuid.uuid4()),
                user=principal.user,
                item_id=item.id,
                content_version=str(item.content_version),
                last_activity=self.clock(),
                warning_behavior=behavior,
            )
            # The session starts from a snapshot of the item's files.
            for file in item.files.values():
                session.files[file.name] = UploadFile(file.name, "NONE", "READY", carried=file)
            self.update_sessions[session.id] = session
            self._remember(principal, "update", client_token, session.id)
            return session.id

    def get_update_session(self, principal: Principal, session_id: str) -> JSON:
        with self._locked():
            session = self._update_session(principal, session_id)
            return session.model(self.config.session_timeout, None, self.trusted_certificates())

    def list_update_sessions(self, principal: Principal, item_id: str | None) -> list[str]:
        with self._locked():
            if item_id:
                self._item(item_id)
            return [
                s.id
                for s in self.update_sessions.values()
                if s.user == principal.user and (not item_id or s.item_id == item_id)
            ]

    def update_update_session(self, principal: Principal, session_id: str, spec: Any) -> None:
        self._require_write(principal, "ContentLibrary.UpdateSession")
        spec = as_spec(spec, "update spec")
        behavior = parse_warning_behavior(spec.get("warning_behavior"))
        with self._locked():
            session = self._update_session(principal, session_id)
            self._require_active(session.state, session.id, "update")
            if behavior is not None:
                session.warning_behavior = behavior
            session.last_activity = self.clock()

    def keep_alive_update(
        self, principal: Principal, session_id: str, client_progress: Any
    ) -> None:
        self._require_write(principal, "ContentLibrary.UpdateSession")
        with self._locked():
            session = self._update_session(principal, session_id)
            self._require_active(session.state, session.id, "keep alive")
            progress = self._progress(client_progress, "client_progress", session.client_progress)
            if progress is not None:
                session.client_progress = progress
            session.last_activity = self.clock()

    def _validation(self, session: UpdateSession) -> tuple[list[str], list[JSON]]:
        missing: list[str] = []
        invalid: list[JSON] = []
        for file in session.files.values():
            if file.carried is not None:
                continue
            if file.status == "ERROR":
                invalid.append(
                    {
                        "name": file.name,
                        "error_message": file.error
                        or localizable(
                            "com.vmware.vdcs.cls-main.file_error", f"File {file.name} failed."
                        ),
                    }
                )
            elif file.status != "READY":
                missing.append(file.name)
        return missing, invalid

    def complete_update_session(self, principal: Principal, session_id: str) -> None:
        self._require_write(principal, "ContentLibrary.UpdateSession")
        with self._locked() as trash:
            session = self._update_session(principal, session_id)
            self._require_active(session.state, session.id, "complete")
            item = self._item(session.item_id)
            if _pulls_in_flight(session):
                # As vCenter: complete returns, the session stays ACTIVE until the pulls end,
                # then completes (DONE) or, if one failed, goes to ERROR (finish_pull).
                session.completing = True
                session.last_activity = self.clock()
                return
            missing, invalid = self._validation(session)
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
                    f"Cannot complete update session '{session.id}': file(s) {detail}.",
                    "complete",
                    session.state,
                    detail,
                    key="session_files_not_ready",
                )
            self._refuse_unignored_warnings(session, trash)
            now = self.clock()
            new_files: dict[str, ItemFile] = {}
            changed = False
            for file in session.files.values():
                if file.carried is not None:
                    new_files[file.name] = file.carried
                    continue
                if file.temp is None or file.size is None or file.sha1 is None:
                    raise AssertionError(f"READY file {file.name} without content")
                if not file.keep_in_storage:
                    trash.append(file.temp)  # consumed by the type adapter, not stored
                    file.temp = None
                    continue
                old = item.files.get(file.name)
                version = old.version + 1 if old is not None else 1
                dest = self.store.blob_path(item, file.name, version)
                dest.parent.mkdir(parents=True, exist_ok=True)
                file.temp.replace(dest)
                file.temp = None
                new_files[file.name] = ItemFile(
                    file.name, file.size, version, file.sha1, self.store.relative(dest)
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
            session.state = "DONE"
            session.last_activity = now
            self._discard_upload_content(session, trash)
            log.info("update session completed; item content version %d", item.content_version)

    def _refuse_unignored_warnings(self, session: UpdateSession, trash: list[Path]) -> None:
        """A preview warning the client did not ignore fails the session at complete, as on
        vCenter: the session goes ERROR (its message names the warnings), its content is
        discarded, and complete answers NOT_ALLOWED_IN_CURRENT_STATE saying why."""
        warnings = session.unignored_warnings(time.time(), self.trusted_certificates())
        if not warnings:
            return
        kinds = ", ".join(w["type"] for w in warnings)
        text = (
            f"The update session was failed: the OVF package's signature raised warnings "
            f"that were not ignored: {kinds}. "
            + " ".join(w["message"]["default_message"] for w in warnings)
        )
        session.state = "ERROR"
        session.error_message = localizable(
            "com.vmware.vdcs.cls-main.preview_warnings_not_ignored", text, [kinds]
        )
        session.last_activity = self.clock()
        self._discard_upload_content(session, trash)
        raise not_allowed(
            f"Cannot complete update session '{session.id}': {text}",
            "complete",
            "ACTIVE",
            kinds,
            key="preview_warnings_not_ignored",
        )

    def cancel_update_session(self, principal: Principal, session_id: str) -> None:
        self._require_write(principal, "ContentLibrary.UpdateSession")
        with self._locked() as trash:
            session = self._update_session(principal, session_id)
            self._require_active(session.state, session.id, "cancel")
            session.state = "CANCELED"
            session.last_activity = self.clock()
            self._discard_upload_content(session, trash)

    def fail_update_session(self, principal: Principal, session_id: str, message: Any) -> None:
        self._require_write(principal, "ContentLibrary.UpdateSession")
        if not isinstance(message, str):
            raise invalid_argument(
                "'client_error_message' is required.", "client_error_message", key="missing_field"
            )
        with self._locked() as trash:
            session = self._update_session(principal, session_id)
            self._require_active(session.state, session.id, "fail")
            session.state = "ERROR"
            session.error_message = client_error(message)
            session.last_activity = self.clock()
            self._discard_upload_content(session, trash)

    def delete_update_session(self, principal: Principal, session_id: str) -> None:
        self._require_write(principal, "ContentLibrary.UpdateSession")
        with self._locked() as trash:
            session = self._update_session(principal, session_id)
            if session.state == "ACTIVE":
                raise not_allowed(
                    f"Cannot delete update session '{session.id}' while it is ACTIVE; "
                    "complete, cancel or fail it first.",
                    "delete",
                    session.state,
                    session.id,
                    key="session_active",
                )
            self._drop_update_session(session, trash)

    def _upload_file(self, session: UpdateSession, name: str | None) -> UploadFile:
        if not name:
            raise invalid_argument("'file_name' is required.", "file_name", key="missing_field")
        file = session.files.get(name)
        if file is None:
            raise invalid_argument(
                f"The file '{name}' is not part of update session '{session.id}'.",
                name,
                session.id,
                key="file_not_in_session",
            )
        return file

    def add_file(self, principal: Principal, session_id: str, spec: Any, base: str) -> JSON:
        self._require_write(principal, "ContentLibrary.UpdateSession")
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
        source: tuple[str, str | None] | None = None
        if source_type == "PULL":
            source = _pull_source(spec.get("source_endpoint"))
        elif source_type != "PUSH":
            raise invalid_argument(
                f"Unknown source type '{source_type}'.", source_type, key="invalid_source_type"
            )
        with self._locked() as trash:
            session = self._update_session(principal, session_id)
            self._require_active(session.state, session.id, "add a file to")
            item = self._item(session.item_id)
            old = session.files.get(name)
            generation = 0
            if old is not None:
                # Re-adding a name restarts that file (a retry); stop its transfer.
                if old.token is not None:
                    self.upload_tokens.pop(old.token, None)
                if old.temp is not None:
                    trash.append(old.temp)
                if old.puller is not None:
                    old.puller.abort()
                old.generation += 1
                generation = old.generation
            keep = not (item.type.lower() == "ovf" and name.lower().endswith((".mf", ".cert")))
            if not keep and any(
                f.source_type != "NONE" and f.name.lower().endswith(".ovf")
                for f in session.files.values()
            ):
                # vCenter reads the manifest and certificate when it takes the descriptor in
                raise not_allowed(
                    f"The file '{name}' must be added before the OVF descriptor of update "
                    f"session '{session.id}'.",
                    name,
                    session.id,
                    key="ovf_manifest_after_descriptor",
                )
            file = UploadFile(
                name=name,
                source_type=source_type,
                status="WAITING_FOR_TRANSFER",
                keep_in_storage=keep,
                expected_size=size,
                expected_checksum=checksum,
                token=secrets.token_hex(16) if source is None else None,
                generation=generation,
            )
            puller = None
            if source is None:
                assert file.token is not None
                self.upload_tokens[file.token] = (session.id, name)
            else:
                puller = self._new_puller(session, file, *source)
            session.files[name] = file
            session.last_activity = self.clock()
            info = file.info(base)
        if puller is not None:
            puller.start()  # after the lock: the thread takes it to report
        return info

    # -- PULL: the service fetches the bytes itself (pulls.py) ---------------------------------

    def _new_puller(
        self, session: UpdateSession, file: UploadFile, uri: str, thumbprint: str | None
    ) -> Puller:
        file.source_endpoint = {"uri": uri}
        if thumbprint:
            file.source_endpoint["ssl_certificate_thumbprint"] = thumbprint
        puller = Puller(
            self, session, file, file.generation, uri, thumbprint, self.config.pull_idle_timeout
        )
        file.puller = puller
        return puller

    @staticmethod
    def _pull_owns(puller: Puller) -> bool:
        session, file = puller.session, puller.file
        return (
            not session.gone
            and session.state == "ACTIVE"
            and session.files.get(file.name) is file
            and file.generation == puller.generation
            and not puller.aborted
        )

    def begin_pull(self, puller: Puller, length: int | None) -> UploadTicket | None:
        """The source answered: the file is TRANSFERRING into a new temp file (None when
        the file or its session went away meanwhile)."""
        with self._locked():
            if not self._pull_owns(puller):
                return None
            file = puller.file
            file.temp = self.store.new_temp()
            file.status = "TRANSFERRING"
            file.bytes_transferred = 0
            file.source_size = length
            puller.session.last_activity = self.clock()
            return UploadTicket(puller.session, file, file.generation, file.temp, file.algorithm)

    def pull_failed(self, puller: Puller, message: str) -> None:
        """The pull ended before any byte arrived (no answer, HTTP error, TLS refused)."""
        with self._locked() as trash:
            if not self._pull_owns(puller):
                return
            file = puller.file
            file.status = "ERROR"
            file.error = localizable(
                "com.vmware.vdcs.cls-main.file_transfer_error", message, [file.name]
            )
            file.puller = None
            self._settle_completion(puller.session, trash)

    def finish_pull(
        self,
        puller: Puller,
        ticket: UploadTicket,
        received: int,
        digests: dict[str, str],
        failure: str | None,
        references: list[Reference],
    ) -> None:
        """Record a pull's outcome (as a PUT's: size and checksum checked against the
        AddSpec); a READY .ovf brings PULL files for what its References name."""
        started: list[Puller] = []
        with self._locked() as trash:
            session, file = puller.session, puller.file
            if not self._pull_owns(puller):
                self.finish_upload(ticket, received, False, digests, "aborted")  # discards
                return
            self.finish_upload(ticket, received, failure is None, digests, failure)
            file.puller = None
            if file.status == "READY":
                for ref in references:
                    started.append(self._add_reference(session, ref, trash))
            self._settle_completion(session, trash)
        for other in started:
            other.start()

    def _add_reference(self, session: UpdateSession, ref: Reference, trash: list[Path]) -> Puller:
        old = session.files.get(ref.name)
        if old is not None and old.carried is None:
            if old.temp is not None:
                trash.append(old.temp)
            if old.puller is not None:
                old.puller.abort()
            if old.token is not None:
                self.upload_tokens.pop(old.token, None)
            old.generation += 1
        item = self._item(session.item_id)
        keep = not (item.type.lower() == "ovf" and ref.name.lower().endswith((".mf", ".cert")))
        file = UploadFile(
            name=ref.name,
            source_type="PULL",
            status="WAITING_FOR_TRANSFER",
            keep_in_storage=keep,
            expected_size=ref.size,
            generation=old.generation if old is not None else 0,
        )
        session.files[ref.name] = file
        thumbprint = None
        descriptor = next(
            (f for f in session.files.values() if f.name.lower().endswith(".ovf")), None
        )
        if descriptor is not None and descriptor.source_endpoint is not None:
            thumbprint = descriptor.source_endpoint.get("ssl_certificate_thumbprint")
        return self._new_puller(session, file, ref.uri, thumbprint)

    def _settle_completion(self, session: UpdateSession, trash: list[Path]) -> None:
        """A session completed while pulls ran: complete it now that none runs, or put it
        in ERROR with the reason a failed pull gives."""
        if not session.completing or session.state != "ACTIVE" or _pulls_in_flight(session):
            return
        session.completing = False
        try:
            self.complete_update_session(Principal(session.user, False), session.id)
        except ApiError as err:
            session.state = "ERROR"
            session.error_message = localizable("com.vmware.vdcs.cls-main.pull_failed", err.message)
            session.last_activity = self.clock()
            self._discard_upload_content(session, trash)

    def get_upload_file(
        self, principal: Principal, session_id: str, name: str | None, base: str
    ) -> JSON:
        with self._locked():
            session = self._update_session(principal, session_id)
            return self._upload_file(session, name).info(base)

    def list_upload_files(self, principal: Principal, session_id: str, base: str) -> list[JSON]:
        with self._locked():
            session = self._update_session(principal, session_id)
            return [file.info(base) for file in session.files.values()]

    def remove_file(self, principal: Principal, session_id: str, name: str | None) -> None:
        self._require_write(principal, "ContentLibrary.UpdateSession")
        with self._locked() as trash:
            session = self._update_session(principal, session_id)
            self._require_active(session.state, session.id, "remove a file from")
            file = self._upload_file(session, name)
            if file.token is not None:
                self.upload_tokens.pop(file.token, None)
            if file.puller is not None:
                file.puller.abort()
            if file.temp is not None:
                trash.append(file.temp)
                file.temp = None
            file.generation += 1
            del session.files[file.name]
            session.last_activity = self.clock()

    def validate_files(self, principal: Principal, session_id: str) -> JSON:
        with self._locked():
            session = self._update_session(principal, session_id)
            self._require_active(session.state, session.id, "validate")
            missing, invalid = self._validation(session)
            return {
                "has_errors": bool(missing or invalid),
                "missing_files": missing,
                "invalid_files": invalid,
            }

    def begin_upload(self, token: str, name: str, declared: int | None = None) -> UploadTicket:
        """Start a PUT of ``declared`` body bytes (None: chunked)."""
        with self._locked() as trash:
            ref = self.upload_tokens.get(token)
            session = self.update_sessions.get(ref[0]) if ref is not None else None
            if ref is None or session is None or ref[1] != name:
                raise ApiError(
                    "NOT_FOUND",
                    "The upload URI is not valid (unknown, expired or superseded).",
                    key="transfer_uri_not_found",
                )
            self._require_active(session.state, session.id, "upload to")
            file = session.files[name]
            if (
                declared is not None
                and file.expected_size is not None
                and declared > file.expected_size
            ):
                # Refused before a byte is read: the body cannot be the file that was added.
                raise invalid_argument(
                    f"The body of {name} ({declared} bytes) is longer than its declared size "
                    f"of {file.expected_size} bytes.",
                    name,
                    key="body_too_long",
                )
            if file.temp is not None:
                trash.append(file.temp)  # a new PUT supersedes an earlier one
            file.generation += 1
            file.temp = self.store.new_temp()
            file.status = "TRANSFERRING"
            file.bytes_transferred = 0
            file.size = file.sha1 = file.checksum = None
            file.error = None
            session.last_activity = self.clock()
            return UploadTicket(session, file, file.generation, file.temp, file.algorithm)

    @staticmethod
    def upload_alive(ticket: UploadTicket) -> bool:
        # Read without the lock: plain attribute reads are atomic and a stale
        # answer only delays the abort by one chunk.
        session = ticket.session
        return (
            not session.gone
            and session.state == "ACTIVE"
            and ticket.file.generation == ticket.generation
        )

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
            file = ticket.file
            if not self.upload_alive(ticket):
                trash.append(ticket.temp)
                return False
            file.bytes_transferred = received
            ticket.session.last_activity = self.clock()
            error: str | None = failure
            if error is None and not complete:
                error = f"The transfer of {file.name} ended early after {received} bytes."
            if error is None and file.expected_size is not None and file.expected_size != received:
                error = (
                    f"Size mismatch for {file.name}: expected {file.expected_size} bytes,"
                    f" got {received}."
                )
            if error is None and file.expected_checksum is not None:
                want = str(file.expected_checksum["checksum"])
                got = digests[file.algorithm]
                if want != got:
                    error = (
                        f"Checksum mismatch for {file.name} ({file.algorithm}): "
                        f"expected {want}, got {got}."
                    )
            if error is not None:
                file.status = "ERROR"
                file.error = localizable(
                    "com.vmware.vdcs.cls-main.file_transfer_error", error, [file.name]
                )
                file.temp = None
                trash.append(ticket.temp)
                log.info("upload failed: %s", error)
                return True
            file.status = "READY"
            file.size = received
            file.sha1 = digests["SHA1"]
            file.checksum = digests[file.algorithm]
            return True


def _pulls_in_flight(session: UpdateSession) -> bool:
    return any(
        f.source_type == "PULL" and f.status in ("WAITING_FOR_TRANSFER", "TRANSFERRING")
        for f in session.files.values()
    )


def _pull_source(value: Any) -> tuple[str, str | None]:
    """(uri, thumbprint) of a PULL AddSpec's source_endpoint: http or https only."""
    if value is None:
        raise invalid_argument(
            "'source_endpoint' is required for a PULL file.", "source_endpoint", key="missing_field"
        )
    endpoint = as_spec(value, "source_endpoint")
    uri = req_str(endpoint, "uri")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise invalid_argument(
            f"The source URI '{uri}' is not supported: this server pulls from http and https "
            "URLs only.",
            uri,
            key="unsupported_source_uri",
        )
    if not parts.hostname:
        raise invalid_argument(f"The source URI '{uri}' has no host.", uri, key="invalid_uri")
    thumbprint = opt_str(endpoint, "ssl_certificate_thumbprint")
    if thumbprint and len(normalize_thumbprint(thumbprint)) != 40:
        raise invalid_argument(
            f"'{thumbprint}' is not an SHA-1 thumbprint (20 bytes in hex, as AA:BB:...).",
            thumbprint,
            key="invalid_thumbprint",
        )
    return uri, (thumbprint if scheme == "https" else None) or None
