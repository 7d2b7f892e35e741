"""DownloadSession, its files and prepare stages, and the download data endpoint."""

from __future__ import annotations

import logging
import secrets
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .args import as_spec, check_client_token, req_str
from .errors import ApiError, invalid_argument, localizable
from .models import JSON, DownloadFile, DownloadSession, Principal, client_error
from .state import State

log = logging.getLogger(__name__)


@dataclass
class DownloadTicket:
    """One data GET in flight."""

    session: DownloadSession
    file: DownloadFile
    path: Path
    size: int


class DownloadOps(State):
    """DownloadSession operations."""

    def create_download_session(
        self, principal: Principal, spec: Any, client_token: str | None
    ) -> str:
        self._require_write(principal, "ContentLibrary.DownloadSession")
        spec = as_spec(spec, "create spec")
        client_token = check_client_token(client_token)
        item_id = req_str(spec, "library_item_id")
        with self._locked():
            known = self._idempotent(principal, "download", client_token)
            if known is not None:
                return known
            item = self._item(item_id)
            session = DownloadSession(
                id=str(uuid.uuid4()),
                user=principal.user,
                item_id=item.id,
                content_version=str(item.content_version),
                last_activity=self.clock(),
            )
            for file in item.files.values():
                session.files[file.name] = DownloadFile(
                    file.name, file.size, file.sha1, self.store.absolute(file.blob)
                )
            self.download_sessions[session.id] = session
            self._remember(principal, "download", client_token, session.id)
            return session.id

    def get_download_session(self, principal: Principal, session_id: str) -> JSON:
        with self._locked():
            return self._download_session(principal, session_id).model(self.config.session_timeout)

    def list_download_sessions(self, principal: Principal, item_id: str | None) -> list[str]:
        with self._locked():
            if item_id:
                self._item(item_id)
            return [
                s.id
                for s in self.download_sessions.values()
                if s.user == principal.user and (not item_id or s.item_id == item_id)
            ]

    def keep_alive_download(self, principal: Principal, session_id: str, progress: Any) -> None:
        self._require_write(principal, "ContentLibrary.DownloadSession")
        with self._locked():
            session = self._download_session(principal, session_id)
            self._require_active(session.state, session.id, "keep alive")
            value = self._progress(progress, "progress", session.client_progress)
            if value is not None:
                session.client_progress = value
            session.last_activity = self.clock()

    def cancel_download_session(self, principal: Principal, session_id: str) -> None:
        self._require_write(principal, "ContentLibrary.DownloadSession")
        with self._locked():
            session = self._download_session(principal, session_id)
            self._require_active(session.state, session.id, "cancel")
            session.state = "CANCELED"
            session.last_activity = self.clock()
            self._revoke_download_tokens(session)

    def fail_download_session(self, principal: Principal, session_id: str, message: Any) -> None:
        self._require_write(principal, "ContentLibrary.DownloadSession")
        if not isinstance(message, str):
            raise invalid_argument(
                "'client_error_message' is required.", "client_error_message", key="missing_field"
            )
        with self._locked():
            session = self._download_session(principal, session_id)
            self._require_active(session.state, session.id, "fail")
            session.state = "ERROR"
            session.error_message = client_error(message)
            session.last_activity = self.clock()
            self._revoke_download_tokens(session)

    def delete_download_session(self, principal: Principal, session_id: str) -> None:
        self._require_write(principal, "ContentLibrary.DownloadSession")
        with self._locked():
            self._drop_download_session(self._download_session(principal, session_id))

    def _download_file(self, session: DownloadSession, name: str | None) -> DownloadFile:
        if not name:
            raise invalid_argument("'file_name' is required.", "file_name", key="missing_field")
        file = session.files.get(name)
        if file is None:
            raise invalid_argument(
                f"The file '{name}' is not part of download session '{session.id}'.",
                name,
                session.id,
                key="file_not_in_session",
            )
        return file

    def list_download_files(self, principal: Principal, session_id: str, base: str) -> list[JSON]:
        with self._locked():
            session = self._download_session(principal, session_id)
            return [file.info(base) for file in session.files.values()]

    def get_download_file(
        self, principal: Principal, session_id: str, name: str | None, base: str
    ) -> JSON:
        with self._locked():
            return self._download_file(self._download_session(principal, session_id), name).info(
                base
            )

    def prepare_file(
        self, principal: Principal, session_id: str, name: str | None, endpoint_type: Any, base: str
    ) -> JSON:
        self._require_write(principal, "ContentLibrary.DownloadSession")
        endpoint = endpoint_type or "HTTPS"
        if endpoint != "HTTPS":
            raise invalid_argument(
                f"Endpoint type '{endpoint}' is not supported by this simulator; use HTTPS.",
                str(endpoint),
                key="invalid_endpoint_type",
            )
        with self._locked():
            session = self._download_session(principal, session_id)
            self._require_active(session.state, session.id, "prepare a file in")
            file = self._download_file(session, name)
            if file.status in ("UNPREPARED", "ERROR"):
                file.status = "PREPARE_REQUESTED"
                file.error = None
                file.stage += 1
                self._schedule_stage(session, file, file.stage)
            session.last_activity = self.clock()
            return file.info(base)

    def _schedule_stage(self, session: DownloadSession, file: DownloadFile, stage: int) -> None:
        if self._closed:
            return
        timer = threading.Timer(
            self.faults.prepare_stage_delay, self._advance, (session, file, stage)
        )
        timer.daemon = True
        self._timers.add(timer)
        timer.start()

    def _advance(self, session: DownloadSession, file: DownloadFile, stage: int) -> None:
        with self.lock:
            self._timers = {t for t in self._timers if t.is_alive()}
            if session.gone or session.state != "ACTIVE" or file.stage != stage:
                return
            if file.status == "PREPARE_REQUESTED":
                file.status = "PREPARING"
                self._schedule_stage(session, file, stage)
            elif file.status == "PREPARING":
                if file.blob.exists():
                    file.status = "PREPARED"
                    file.token = secrets.token_hex(16)
                    self.download_tokens[file.token] = (session.id, file.name)
                else:
                    file.status = "ERROR"
                    file.error = localizable(
                        "com.vmware.vdcs.cls-main.content_changed",
                        f"The content of {file.name} changed after the download session was "
                        "created; create a new download session.",
                        [file.name],
                    )

    def begin_download(self, token: str, name: str) -> DownloadTicket:
        with self._locked():
            ref = self.download_tokens.get(token)
            session = self.download_sessions.get(ref[0]) if ref is not None else None
            if ref is None or session is None or ref[1] != name or session.state != "ACTIVE":
                raise ApiError(
                    "NOT_FOUND",
                    "The download URI is not valid (unknown, expired, canceled or failed).",
                    key="transfer_uri_not_found",
                )
            file = session.files[name]
            session.last_activity = self.clock()
            return DownloadTicket(session, file, file.blob, file.size)

    @staticmethod
    def download_alive(ticket: DownloadTicket) -> bool:
        session = ticket.session
        return not session.gone and session.state == "ACTIVE" and ticket.file.token is not None

    def note_download(self, ticket: DownloadTicket, n: int) -> None:
        ticket.file.bytes_transferred += n
        ticket.session.last_activity = self.clock()
