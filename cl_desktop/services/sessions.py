"""SessionMonitor: the update and download sessions of every connected server, in the background.

Each refresh lists both kinds of session on each server, resolves item and library names
(cached: vCenter has no bulk get, and names rarely change) and marks which sessions a local job
owns, by the same rule the engine's recovery uses (`transfers.ownership`). It runs on a timer
only while someone watches (`set_active`), since every refresh costs each server 2 + n calls.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from cl_desktop.api import ContentLibraryClient
from cl_desktop.api.errors import NotFound
from cl_desktop.api.models import DownloadSessionModel, UpdateSessionModel
from cl_desktop.transfers.jobs import JobSnapshot, ServerRef
from cl_desktop.transfers.ownership import session_owners

from .connection import Connector
from .errors import ErrorInfo
from .tasks import BackgroundTasks

# Often enough to watch an upload, rare enough not to load a real vCenter (2 + n GETs each).
REFRESH_INTERVAL_MS = 10_000


class SessionKind(StrEnum):
    UPDATE = "update"
    DOWNLOAD = "download"


class SessionAction(StrEnum):
    KEEP_ALIVE = "keep alive"
    CANCEL = "cancel"
    FAIL = "fail"
    DELETE = "delete"


@dataclass(frozen=True)
class SessionRow:
    """One server session as the view shows it."""

    kind: SessionKind
    session_id: str
    state: str
    item_id: str = ""
    item_name: str = ""
    library_id: str = ""
    library_name: str = ""
    client_progress: int | None = None
    expiration_time: datetime | None = None
    error_message: str = ""
    preview_warnings: tuple[str, ...] = ()
    owner_job: int | None = None  # the local job that owns it
    server: ServerRef | None = None  # where it lives (session ids are unique per server only)

    @property
    def active(self) -> bool:
        return self.state == "ACTIVE"

    @property
    def orphan(self) -> bool:
        """ACTIVE and owned by no local job: nobody will end it but its expiry."""
        return self.active and self.owner_job is None


def refusal(row: SessionRow, action: SessionAction) -> str:
    """Why `action` cannot be done to `row` now, in words ("" when it can)."""
    if action is SessionAction.DELETE and row.active:
        return "the session is still ACTIVE: cancel or fail it first"
    if action is not SessionAction.DELETE and not row.active:
        return f"the session is {row.state}, not ACTIVE"
    return ""


@dataclass(frozen=True)
class SessionsSnapshot:
    """The sessions of every watched server; `taken_at`: the oldest of their listings."""

    servers: tuple[ServerRef, ...]
    rows: tuple[SessionRow, ...]
    taken_at: datetime


class _Names:
    """Item id -> (item name, library id) and library id -> name, shared by refresh threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[str, str]] = {}
        self._libraries: dict[str, str] = {}

    def item(self, client: ContentLibraryClient, item_id: str) -> tuple[str, str]:
        with self._lock:
            known = self._items.get(item_id)
        if known is None:
            try:
                model = client.items.get(item_id)
                known = (model.name or "", model.library_id or "")
            except NotFound:  # deleted meanwhile (a failed import's item): show the id
                known = ("", "")
            with self._lock:
                self._items[item_id] = known
        return known

    def library(self, client: ContentLibraryClient, library_id: str) -> str:
        with self._lock:
            known = self._libraries.get(library_id)
        if known is None:
            try:
                known = client.libraries.get(library_id).name or ""
            except NotFound:
                known = ""
            with self._lock:
                self._libraries[library_id] = known
        return known


def _row(
    server: ServerRef,
    client: ContentLibraryClient,
    names: _Names,
    kind: SessionKind,
    model: UpdateSessionModel | DownloadSessionModel,
    owners: dict[str, JobSnapshot],
) -> SessionRow:
    item_id = model.library_item_id or ""
    item_name, library_id = names.item(client, item_id) if item_id else ("", "")
    preview = getattr(model, "preview_info", None)
    warnings = tuple(
        (str(w.message) if w.message else str(w.type)) + (" (ignored)" if w.ignored else "")
        for w in (preview.warnings if preview else ())
    )
    owner = owners.get(model.id or "")
    return SessionRow(
        kind=kind,
        session_id=model.id or "",
        state=str(model.state or ""),
        item_id=item_id,
        item_name=item_name,
        library_id=library_id,
        library_name=names.library(client, library_id) if library_id else "",
        client_progress=model.client_progress,
        expiration_time=model.expiration_time,
        error_message=str(model.error_message) if model.error_message else "",
        preview_warnings=warnings,
        owner_job=owner.id if owner else None,
        server=server,
    )


class SessionMonitor(QObject):
    """Lists the sessions of every watched server and acts on them (each on its row's server);
    every call answers by signal.

    Signals:
        refreshed(SessionsSnapshot): the rows of all watched servers (after any one's listing).
        refresh_failed(ErrorInfo): one server's listing failed (its message names the server).
        action_done(str session_id, str action)
        action_failed(str session_id, str action, ErrorInfo): refused or failed, in words.
        files_loaded(str session_id, tuple of UpdateFileInfo | DownloadFileInfo)
        files_failed(str session_id, ErrorInfo)
        holder_found(int job_id, SessionRow | None): the ACTIVE update session on a job's item.
        item_released(int job_id): the holder was cancelled and deleted (for a retry).
    """

    refreshed = Signal(object)
    refresh_failed = Signal(object)
    action_done = Signal(str, str)
    action_failed = Signal(str, str, object)
    files_loaded = Signal(str, object)
    files_failed = Signal(str, object)
    holder_found = Signal(int, object)
    item_released = Signal(int)

    def __init__(
        self,
        connector: Connector,
        tasks: BackgroundTasks,
        jobs: Callable[[], Iterable[JobSnapshot]],
        parent: QObject | None = None,
        interval_ms: int = REFRESH_INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self._connector = connector
        self._tasks = tasks
        self._jobs = jobs  # every persisted job (a cl-transfer's too, when they share a store)
        self._servers: list[ServerRef] = []
        self._names: dict[ServerRef, _Names] = {}
        self._listed: dict[ServerRef, tuple[tuple[SessionRow, ...], datetime]] = {}
        self._refreshing: set[ServerRef] = set()
        self._again: set[ServerRef] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.refresh)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    @property
    def interval_ms(self) -> int:
        return self._timer.interval()

    def set_interval(self, interval_ms: int) -> None:
        """Refresh this often from now on (a running timer starts its next wait over)."""
        self._timer.setInterval(max(1000, interval_ms))

    @property
    def servers(self) -> tuple[ServerRef, ...]:
        return tuple(self._servers)

    @property
    def server(self) -> ServerRef | None:
        """The first watched server (None: none watched)."""
        return self._servers[0] if self._servers else None

    def watch(self, server: ServerRef) -> None:
        """Monitor `server` too (a newly connected one); refreshes it at once if active."""
        if server not in self._servers:
            self._servers.append(server)
        self._names[server] = _Names()
        if self.active:
            self._refresh(server)

    def unwatch(self, server: ServerRef) -> None:
        """Stop monitoring `server` (disconnected); its rows go at once."""
        if server in self._servers:
            self._servers.remove(server)
            self._listed.pop(server, None)
            self._again.discard(server)
            self.refreshed.emit(self._snapshot())

    def _snapshot(self) -> SessionsSnapshot:
        listed = [self._listed[s] for s in self._servers if s in self._listed]
        rows = tuple(row for server_rows, _ in listed for row in server_rows)
        taken_at = min((at for _, at in listed), default=datetime.now(UTC))
        return SessionsSnapshot(tuple(self._servers), rows, taken_at)

    def set_active(self, active: bool) -> None:
        """Refresh on the timer (and now) while the view is visible; stop when hidden."""
        if active and not self._timer.isActive():
            self._timer.start()
            self.refresh()
        elif not active:
            self._timer.stop()

    def refresh(self) -> None:
        """List the sessions now (a refresh already under way is followed by one more)."""
        for server in self._servers:
            self._refresh(server)

    def _refresh(self, server: ServerRef) -> None:
        if server in self._refreshing:
            self._again.add(server)
            return
        self._refreshing.add(server)
        names = self._names.setdefault(server, _Names())

        def fetch() -> tuple[tuple[SessionRow, ...], datetime]:
            listed_at = datetime.now(UTC)  # the state shown is at least this recent
            client = self._connector(server)
            owners = session_owners(self._jobs(), server)
            rows: list[SessionRow] = []
            kinds: tuple[tuple[SessionKind, Any], ...] = (
                (SessionKind.UPDATE, client.update_sessions),
                (SessionKind.DOWNLOAD, client.download_sessions),
            )
            for kind, service in kinds:
                for session_id in service.list():
                    try:
                        model = service.get(session_id)
                    except NotFound:  # ended between list and get
                        continue
                    rows.append(_row(server, client, names, kind, model, owners))
            return tuple(rows), listed_at

        def done(listed: tuple[tuple[SessionRow, ...], datetime]) -> None:
            self._finished(server)
            if server in self._servers:
                self._listed[server] = listed
                self.refreshed.emit(self._snapshot())

        def failed(error: ErrorInfo) -> None:
            self._finished(server)
            if server in self._servers:
                where = f"{server.label}: {error.message}" if len(self._servers) > 1 else None
                self.refresh_failed.emit(dataclasses.replace(error, message=where or error.message))

        self._tasks.run(fetch, done, failed)

    def _finished(self, server: ServerRef) -> None:
        self._refreshing.discard(server)
        if server in self._again:
            self._again.discard(server)
            self._refresh(server)

    # --- actions ----------------------------------------------------------------------------

    def keep_alive(self, row: SessionRow) -> None:
        """Keep-alive that leaves the session's progress as it is: sent without a progress,
        since servers refuse one that did not grow and only the transferring client knows more."""
        keep = SessionAction.KEEP_ALIVE
        self._act(row, keep, lambda c: self._service(c, row).keep_alive(row.session_id))

    def cancel(self, row: SessionRow) -> None:
        self._act(row, SessionAction.CANCEL, lambda c: self._service(c, row).cancel(row.session_id))

    def fail(self, row: SessionRow, message: str) -> None:
        self._act(
            row, SessionAction.FAIL, lambda c: self._service(c, row).fail(row.session_id, message)
        )

    def delete(self, row: SessionRow) -> None:
        self._act(row, SessionAction.DELETE, lambda c: self._service(c, row).delete(row.session_id))

    def clean_up(self, rows: Iterable[SessionRow]) -> None:
        """Cancel and delete each session (the orphans the user confirmed)."""
        for row in rows:

            def act(client: ContentLibraryClient, row: SessionRow = row) -> None:
                service = self._service(client, row)
                service.cancel(row.session_id)
                service.delete(row.session_id)

            self._act(row, SessionAction.CANCEL, act, check=False)

    def find_holder(self, job_id: int, server: ServerRef, item_id: str) -> None:
        """Which update session holds `item_id` on `server` (a job's upload got RESOURCE_BUSY)."""
        names = self._names.setdefault(server, _Names())

        def fetch() -> SessionRow | None:
            client = self._connector(server)
            owners = session_owners(self._jobs(), server)
            for session_id in client.update_sessions.list(item_id):
                try:
                    model = client.update_sessions.get(session_id)
                except NotFound:
                    continue
                if str(model.state) == "ACTIVE":
                    return _row(server, client, names, SessionKind.UPDATE, model, owners)
            return None

        self._tasks.run(
            fetch,
            lambda holder: self.holder_found.emit(job_id, holder),
            lambda error: self.action_failed.emit("", "find the session holding the item", error),
        )

    def release_item(self, holder: SessionRow, job_id: int) -> None:
        """Cancel and delete `holder`, then say the job's item is free."""
        server = self._server_of(holder)

        def release() -> None:
            service = self._connector(server).update_sessions
            try:
                service.cancel(holder.session_id)
                service.delete(holder.session_id)
            except NotFound:  # ended meanwhile: the item is free all the same
                pass

        self._tasks.run(
            release,
            lambda _: self.item_released.emit(job_id),
            lambda error: self.action_failed.emit(holder.session_id, "cancel", error),
        )

    def load_files(self, row: SessionRow) -> None:
        """The files of a session (UpdateSession.File.list or DownloadSession.File.list)."""
        server = self._server_of(row)

        def fetch() -> tuple[Any, ...]:
            client = self._connector(server)
            if row.kind is SessionKind.UPDATE:
                return tuple(client.update_session_files.list(row.session_id))
            return tuple(client.download_session_files.list(row.session_id))

        self._tasks.run(
            fetch,
            lambda files: self.files_loaded.emit(row.session_id, files),
            lambda error: self.files_failed.emit(row.session_id, error),
        )

    @staticmethod
    def _service(client: ContentLibraryClient, row: SessionRow) -> Any:
        if row.kind is SessionKind.UPDATE:
            return client.update_sessions
        return client.download_sessions

    def _act(
        self,
        row: SessionRow,
        action: SessionAction,
        act: Callable[[ContentLibraryClient], None],
        check: bool = True,
    ) -> None:
        reason = refusal(row, action) if check else ""
        if reason:
            error = ErrorInfo(f"Cannot {action} the session", reason)
            self.action_failed.emit(row.session_id, str(action), error)
            return
        server = self._server_of(row)

        def done(_: object) -> None:
            self.action_done.emit(row.session_id, str(action))
            self.refresh()

        def failed(error: ErrorInfo) -> None:
            self.action_failed.emit(row.session_id, str(action), error)
            self.refresh()

        self._tasks.run(lambda: act(self._connector(server)), done, failed)

    def _server_of(self, row: SessionRow) -> ServerRef:
        server = row.server or self.server  # a row made without one: the only server
        if server is None:
            raise RuntimeError("not connected")
        return server
