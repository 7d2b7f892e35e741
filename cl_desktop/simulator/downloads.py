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

    def create_download_session(self, p: Principal, spec: Any, client_token: str | None) -> str:
        self._require_write(p, "ContentLibrary.DownloadSession")
        spec = as_spec(spec, "create spec")
        client_token = check_client_token(client_token)
        item_id = req_str(spec, "library_item_id")
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

    def get_download_session(self, p: Principal, session_id: str) -> JSON:
        with self._locked():
            return self._download_session(p, session_id).model(self.config.session_timeout)

    def list_download_sessions(self, p: Principal, item_id: str | None) -> list[str]:
        with self._locked():
            if item_id:
                self._item(item_id)
            return [
                s.id
                for s in self.download_sessions.values()
                if s.user == p.user and (not item_id or s.item_id == item_id)
            ]

    def keep_alive_download(self, p: Principal, session_id: str, progress: Any) -> None:
        self._require_write(p, "ContentLibrary.DownloadSession")
        with self._locked():
            ds = self._download_session(p, session_id)
            self._require_active(ds.state, ds.id, "keep alive")
            value = self._progress(progress, "progress", ds.client_progress)
            if value is not None:
                ds.client_progress = value
            ds.last_activity = self.clock()

    def cancel_download_session(self, p: Principal, session_id: str) -> None:
        self._require_write(p, "ContentLibrary.DownloadSession")
        with self._locked():
            ds = self._download_session(p, session_id)
            self._require_active(ds.state, ds.id, "cancel")
            ds.state = "CANCELED"
            ds.last_activity = self.clock()
            self._revoke_download_tokens(ds)

    def fail_download_session(self, p: Principal, session_id: str, message: Any) -> None:
        self._require_write(p, "ContentLibrary.DownloadSession")
        if not isinstance(message, str):
            raise invalid_argument(
                "'client_error_message' is required.", "client_error_message", key="missing_field"
            )
        with self._locked():
            ds = self._download_session(p, session_id)
            self._require_active(ds.state, ds.id, "fail")
            ds.state = "ERROR"
            ds.error_message = client_error(message)
            ds.last_activity = self.clock()
            self._revoke_download_tokens(ds)

    def delete_download_session(self, p: Principal, session_id: str) -> None:
        self._require_write(p, "ContentLibrary.DownloadSession")
        with self._locked():
            self._drop_download_session(self._download_session(p, session_id))

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

    def list_download_files(self, p: Principal, session_id: str, base: str) -> list[JSON]:
        with self._locked():
            ds = self._download_session(p, session_id)
            return [f.info(base) for f in ds.files.values()]

    def get_download_file(self, p: Principal, session_id: str, name: str | None, base: str) -> JSON:
        with self._locked():
            return self._download_file(self._download_session(p, session_id), name).info(base)

    def prepare_file(
        self, p: Principal, session_id: str, name: str | None, endpoint_type: Any, base: str
    ) -> JSON:
        self._require_write(p, "ContentLibrary.DownloadSession")
        endpoint = endpoint_type or "HTTPS"
        if endpoint != "HTTPS":
            raise invalid_argument(
                f"Endpoint type '{endpoint}' is not supported by this simulator; use HTTPS.",
                str(endpoint),
                key="invalid_endpoint_type",
            )
        with self._locked():
            ds = self._download_session(p, session_id)
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
