"""The Content Library REST client: both dialects, login, typed results, streamed transfers.

Organised like the vSphere SDK's item module: `client.update_sessions`,
`client.update_session_files`, `client.download_sessions`, `client.download_session_files`,
`client.item_files`, `client.storage`, plus `libraries`, `items` and `datastores` for browsing.
Every call works in both dialects: `/api` (7.0U2+) and `/rest` (6.5-7.0U1, vcsim).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO, Generic, Literal, TypeVar
from urllib.parse import quote, urlsplit

import requests

from .errors import (
    ContentLibraryError,
    NotFound,
    ProtocolError,
    ServiceUnavailable,
    TimedOut,
    TlsTrustError,
    TransportError,
    Unauthenticated,
    VapiError,
    error_from_response,
)
from .models import (
    AddSpec,
    DatastoreSummary,
    DownloadFileInfo,
    DownloadSessionModel,
    EndpointType,
    FileInfo,
    ItemModel,
    LibraryModel,
    LibraryType,
    SessionInfo,
    StorageBacking,
    StorageBackingType,
    StorageInfo,
    UpdateFileInfo,
    UpdateSessionModel,
    ValidationResult,
    WarningBehavior,
    decode,
    decode_list,
    encode,
)
from .transport import (
    DEFAULT_TIMEOUT,
    TlsSettings,
    make_session,
    same_origin,
    translate_transport_errors,
)

log = logging.getLogger(__name__)
M = TypeVar("M")

SESSION_HEADER = "vmware-api-session-id"
LOGIN_ATTEMPTS = 4  # a 503 or refused connection on login: tries, 0.5 + 1 + 2 s apart
LOGIN_BACKOFF = 0.5
LOGOUT_TIMEOUT = (5.0, 5.0)  # logging out must not hold up the end of a command for long
CHUNK_SIZE = 1 << 20  # 1 MiB: 16 KiB reads halved throughput with inline hashing (measured)


class Dialect(StrEnum):
    API = "api"  # /api, vSphere 7.0U2 and later
    REST = "rest"  # /rest/com/vmware, vSphere 6.5 to 7.0U1 and vcsim


DialectChoice = Literal["auto", "api", "rest"]
Progress = Callable[[int], None]  # cumulative bytes; may raise to abort the transfer
DataSink = Callable[[bytes], None]


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password in logs or tracebacks
        return f"Credentials(username={self.username!r}, password=***)"


def normalize_server(server: str) -> str:
    """'vc.example', 'vc:8443' or 'https://vc/' -> 'https://vc' (scheme, host, port only)."""
    text = server.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a server address: {server!r}")
    return f"{parts.scheme}://{parts.netloc}"


def new_client_token() -> str:
    return str(uuid.uuid4())


def _rest_id(value: str) -> str:
    return "id:" + quote(value, safe="")


def _q(value: str) -> str:
    return quote(value, safe="")


class ContentLibraryClient:
    """A logged-in connection to one vCenter (or simulator). Thread-safe for concurrent calls."""

    def __init__(
        self,
        server: str,
        username: str,
        password: str,
        *,
        dialect: DialectChoice = "auto",
        tls: TlsSettings | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        http: requests.Session | None = None,
        login_attempts: int = LOGIN_ATTEMPTS,
        login_backoff: float = LOGIN_BACKOFF,
    ) -> None:
        self.server = normalize_server(server)
        self._credentials = Credentials(username, password)
        self._choice = dialect
        self._dialect: Dialect | None = None if dialect == "auto" else Dialect(dialect)
        self.timeout = timeout
        self.login_attempts = max(1, login_attempts)
        self.login_backoff = login_backoff
        self.tls = tls or TlsSettings()
        self.http = http or make_session(self.tls)
        self._token: str | None = None
        self._login_lock = threading.Lock()

        self.datastores = Datastores(self)
        self.libraries = Libraries(self)
        self.items = Items(self)
        self.item_files = ItemFiles(self)
        self.storage = Storage(self)
        self.update_sessions = UpdateSessions(self)
        self.update_session_files = UpdateSessionFiles(self)
        self.download_sessions = DownloadSessions(self)
        self.download_session_files = DownloadSessionFiles(self)

    # --- session ---------------------------------------------------------------------------

    @property
    def username(self) -> str:
        return self._credentials.username

    @property
    def dialect(self) -> Dialect:
        if self._dialect is None:
            self.login()
        assert self._dialect is not None
        return self._dialect

    @property
    def logged_in(self) -> bool:
        return self._token is not None

    def login(self) -> None:
        """Create the API session, detecting the dialect first if asked to."""
        with self._login_lock:
            self._login_locked()

    def _login_locked(self) -> None:
        # A vCenter whose services are (re)starting answers 503 or refuses connections for a
        # moment: a few quick tries instead of failing the whole command.
        delay = self.login_backoff
        for attempt in range(1, self.login_attempts + 1):
            try:
                self._login_once()
                return
            except (TransportError, ServiceUnavailable, TimedOut) as exc:
                if isinstance(exc, TlsTrustError) or attempt == self.login_attempts:
                    raise
                log.info("log in: %s; trying again in %.1f s", exc.detail, delay)
                time.sleep(delay)
                delay *= 2

    def _login_once(self) -> None:
        auth = "Basic " + base64.b64encode(
            f"{self._credentials.username}:{self._credentials.password}".encode()
        ).decode("ascii")
        headers = {"Authorization": auth, "Accept": "application/json"}
        if self._dialect in (None, Dialect.API):
            try:
                token = self._send("POST", "/api/session", headers=headers, op="log in")
                self._token = _session_token(token)
                self._dialect = Dialect.API
                return
            except VapiError as exc:  # NOT_FOUND or OPERATION_NOT_FOUND, JSON or plain text
                if exc.status != 404 or self._dialect is Dialect.API:
                    raise
                log.info("%s has no /api endpoint; using the /rest dialect", self.server)
        headers["vmware-use-header-authn"] = "true"  # no cookie; the header carries the token
        value = self._send("POST", "/rest/com/vmware/cis/session", headers=headers, op="log in")
        self._token = _session_token(_unwrap(value))
        self._dialect = Dialect.REST

    def logout(self) -> None:
        """End the login on the server (best effort; vCenter counts logins against a limit).

        Safe to call when not logged in and more than once; a later call logs in again."""
        with self._login_lock:
            headers, self._token = self._auth_headers(), None
        if SESSION_HEADER not in headers:
            return
        path = "/api/session" if self._dialect is Dialect.API else "/rest/com/vmware/cis/session"
        try:
            self._send("DELETE", path, headers=headers, op="log out", timeout=LOGOUT_TIMEOUT)
        except ContentLibraryError as exc:  # logging out must never stop a shutdown
            log.debug("logout failed: %s", exc)

    def close(self) -> None:
        self.logout()
        self.http.close()

    def __enter__(self) -> ContentLibraryClient:
        if not self.logged_in:
            self.login()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def session_info(self) -> SessionInfo:
        if self.dialect is Dialect.API:
            return decode(SessionInfo, self.call("GET", "/session", "", op="get login session"))
        value = self.call(
            "POST", "", "/com/vmware/cis/session", action="get", op="get login session"
        )
        return decode(SessionInfo, value)

    def forget_token(self) -> None:
        """Drop the token locally (tests; simulating an expired login)."""
        self._token = None

    # --- requests ----------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._token:
            headers[SESSION_HEADER] = self._token
        return headers

    def call(
        self,
        method: str,
        api: str,
        rest: str,
        *,
        action: str | None = None,
        query: dict[str, str] | None = None,
        rest_query: dict[str, str] | None = None,
        body: Any = None,
        rest_body: Any = None,
        client_token: str | None = None,
        op: str,
    ) -> Any:
        """One API operation in the current dialect; returns the unwrapped JSON value or None.

        `api`/`rest` are the paths after `/api` and `/rest`. `query` applies to both dialects
        unless `rest_query` is given; `body` likewise with `rest_body`.
        """
        if self._token is None:
            self.login()
        for attempt in (1, 2):
            headers = self._auth_headers()
            if self.dialect is Dialect.API:
                url_path = "/api" + api
                params = dict(query or {})
                if action:
                    params["action"] = action
                payload = body
                if client_token:
                    headers["Client-Token"] = client_token
            else:
                url_path = "/rest" + rest
                params = dict(rest_query if rest_query is not None else (query or {}))
                if action:
                    params["~action"] = action
                payload = rest_body if rest_body is not None else body
                if client_token:
                    payload = {**(payload or {}), "client_token": client_token}
            try:
                value = self._send(
                    method, url_path, params=params, headers=headers, json_body=payload, op=op
                )
            except Unauthenticated:
                if attempt == 2:
                    raise
                log.info("login session expired; logging in again")
                with self._login_lock:
                    self._login_locked()
                continue
            return _unwrap(value) if self.dialect is Dialect.REST else value
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str],
        json_body: Any = None,
        op: str,
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        started = time.monotonic()
        with translate_transport_errors(op):
            response = self.http.request(
                method,
                self.server + path,
                params=params,
                headers=headers,
                data=data,
                timeout=timeout or self.timeout,
                allow_redirects=False,
            )
            content = response.content
        log.debug(
            "%s %s -> %s (%.0f ms)",
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        if response.status_code >= 400:
            raise error_from_response(response.status_code, content, operation=op)
        if 300 <= response.status_code < 400:  # the API never redirects; a proxy or web UI does
            where = response.headers.get("Location") or "another address"
            what = "the login" if op == "log in" else "the request"
            raise ProtocolError(
                f"the server redirected {what} to {where}; check the server URL.", operation=op
            )
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError as exc:
            raise ProtocolError(
                f"HTTP {response.status_code} with a body that is not JSON", operation=op
            ) from exc

    # --- byte transfers ---------------------------------------------------------------------

    def _data_headers(self, uri: str) -> dict[str, str]:
        # vcsim requires the session on data URIs; vCenter's carry their own token. Send ours
        # only to the API's own origin: never to another host or port, never over plain HTTP
        # when the API is HTTPS.
        if self._token is None:
            self.login()
        headers: dict[str, str] = {}
        if same_origin(uri, self.server) and self._token:
            headers[SESSION_HEADER] = self._token
        return headers

    def _data_timeout(self, stall_seconds: float | None) -> tuple[float, float]:
        # a send or read blocked in the socket must end within the stall time
        if stall_seconds is None:
            return self.timeout
        connect, read = self.timeout
        return min(connect, stall_seconds), min(read, stall_seconds)

    def upload(
        self,
        uri: str,
        source: BinaryIO,
        size: int,
        *,
        progress: Progress | None = None,
        on_data: DataSink | None = None,
        op: str = "upload",
        stall_seconds: float | None = None,
    ) -> None:
        """PUT `size` bytes from `source` (at its current position) to an upload endpoint.

        Streams 1 MiB blocks with an explicit Content-Length (never chunked); `on_data` sees each
        block (for hashing), `progress` the running total. Either may raise to abort.
        `stall_seconds` bounds every blocking send and read.
        """
        body = _UploadBody(source, size, progress, on_data)
        headers = {**self._data_headers(uri), "Content-Type": "application/octet-stream"}
        with translate_transport_errors(op):
            response = self.http.put(
                uri,
                data=body,
                headers=headers,
                timeout=self._data_timeout(stall_seconds),
                allow_redirects=False,
            )
            content = response.content
        if response.status_code not in (200, 201, 204):
            raise error_from_response(response.status_code, content, operation=op)
        if body.sent != size:
            raise ProtocolError(
                f"the file ended after {body.sent} of {size} bytes (was it changed while "
                "uploading?)",
                operation=op,
            )

    @contextmanager
    def open_download(
        self,
        uri: str,
        offset: int = 0,
        *,
        op: str = "download",
        stall_seconds: float | None = None,
    ) -> Iterator[DownloadStream]:
        """GET a download endpoint, from `offset` with a Range request when offset > 0.

        The stream's `offset` says where its bytes start: the asked offset on 206, 0 when the
        server ignored the range and sent the whole file (200). `stall_seconds` bounds every
        blocking read.
        """
        headers = self._data_headers(uri)
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
        with translate_transport_errors(op):
            response = self.http.get(
                uri,
                headers=headers,
                stream=True,
                timeout=self._data_timeout(stall_seconds),
                allow_redirects=False,
            )
        try:
            if response.status_code == 416 and offset > 0:
                raise ProtocolError(f"the server has no bytes past offset {offset}", operation=op)
            if response.status_code not in (200, 206):
                raise error_from_response(response.status_code, response.content, operation=op)
            yield DownloadStream(response, offset, op)
        finally:
            response.close()

    def download_to(
        self,
        uri: str,
        target: BinaryIO,
        offset: int = 0,
        *,
        progress: Progress | None = None,
        on_data: DataSink | None = None,
        op: str = "download",
    ) -> DownloadResult:
        """Stream a download endpoint into `target`, resuming at `offset` when the server can.

        When the server answers 200 to a range request, `target` is truncated and written from
        byte 0 (DownloadResult.resumed is False); the caller must restart its hash then.
        """
        with self.open_download(uri, offset, op=op) as stream:
            target.seek(stream.offset)
            target.truncate()
            written = stream.offset
            for chunk in stream.chunks():
                target.write(chunk)
                written += len(chunk)
                if on_data is not None:
                    on_data(chunk)
                if progress is not None:
                    progress(written)
            if stream.total_size is not None and written != stream.total_size:
                raise ProtocolError(
                    f"the download ended after {written} of {stream.total_size} bytes",
                    operation=op,
                )
            return DownloadResult(written, stream.offset > 0, stream.total_size)


@dataclass(frozen=True)
class DownloadResult:
    size: int
    resumed: bool
    total_size: int | None


class DownloadStream:
    """An open GET on a download endpoint."""

    def __init__(self, response: requests.Response, asked_offset: int, op: str) -> None:
        self.status = response.status_code
        self._response = response
        self._op = op
        self.offset = 0
        self.total_size: int | None = None
        length = response.headers.get("Content-Length")
        if self.status == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range", ""))
            if start != asked_offset:
                raise ProtocolError(
                    f"asked for bytes from {asked_offset}, the server sent from {start}",
                    operation=op,
                )
            self.offset = start
            self.total_size = total
        elif length is not None and length.isdigit():
            self.total_size = int(length)

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The body in blocks of up to `size` bytes, smaller on slow links (see BlockSizer)."""
        sizer = BlockSizer(size)
        raw = self._response.raw
        with translate_transport_errors(self._op):
            while True:
                started = time.monotonic()
                block = bytearray()
                try:  # read1: what arrived is kept even when the next read times out
                    while len(block) < sizer.size:
                        piece = raw.read1(sizer.size - len(block), decode_content=True)
                        if not piece:
                            break
                        block += piece
                except Exception:
                    if block:  # the caller keeps these bytes (a resume starts after them)
                        yield bytes(block)
                    raise
                if not block:
                    return
                sizer.observe(len(block), time.monotonic() - started)
                yield bytes(block)


class BlockSizer:
    """The block size for a blocking read or send: `largest` on fast links (throughput, as
    measured here), shrinking on slow ones so that one block takes about `target` seconds.
    Cancel and pause are checked between blocks, so they stay prompt at any speed."""

    def __init__(self, largest: int = CHUNK_SIZE, target: float = 0.2) -> None:
        self.largest = largest
        self.smallest = min(largest, 64 << 10)
        self.target = target
        self.size = largest

    def observe(self, nbytes: int, seconds: float) -> None:
        if seconds <= 0:
            return
        fitting = int(nbytes / seconds * self.target) & ~0xFFFF  # whole 64 KiB blocks
        self.size = max(self.smallest, min(self.largest, fitting))


def _parse_content_range(header: str) -> tuple[int, int | None]:
    # "bytes 100-199/1000" or "bytes 100-199/*"
    try:
        unit, _, rest = header.partition(" ")
        span, _, total = rest.partition("/")
        start = int(span.split("-")[0])
        if unit != "bytes":
            raise ValueError(unit)
        return start, (int(total) if total.isdigit() else None)
    except ValueError as exc:
        raise ProtocolError(f"unreadable Content-Range {header!r}") from exc


class _UploadBody:
    """A file-like body for requests: blocks of up to 1 MiB whatever urllib3 asks (sized by
    BlockSizer), with callbacks."""

    def __init__(
        self, source: BinaryIO, size: int, progress: Progress | None, on_data: DataSink | None
    ) -> None:
        self._source = source
        self._size = size
        self._progress = progress
        self._on_data = on_data
        self.sent = 0
        self._sizer = BlockSizer()
        self._last_read: tuple[float, int] | None = None

    def __len__(self) -> int:  # requests sets Content-Length from this
        return self._size

    def read(self, _n: int = -1) -> bytes:
        now = time.monotonic()
        if self._last_read is not None:  # the previous block has been sent meanwhile
            started, nbytes = self._last_read
            self._sizer.observe(nbytes, now - started)
        left = self._size - self.sent
        if left <= 0:
            return b""
        chunk = self._source.read(min(self._sizer.size, left))
        if not chunk:
            return b""
        self.sent += len(chunk)
        if self._on_data is not None:
            self._on_data(chunk)
        if self._progress is not None:
            self._progress(self.sent)
        self._last_read = (time.monotonic(), len(chunk))
        return chunk


def _session_token(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    shown = json.dumps(value)[:80]
    raise ProtocolError(
        f"the server accepted the login but sent no session token (it sent {shown})",
        operation="log in",
    )


def _unwrap(value: Any) -> Any:
    """/rest wraps results as {"value": ...}; void answers have no body."""
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _opt(**members: Any) -> dict[str, Any]:
    return {key: encode(val) for key, val in members.items() if val is not None}


class _Service:
    def __init__(self, client: ContentLibraryClient) -> None:
        self._client = client

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.call(*args, **kwargs)


class Datastores(_Service):
    """vcenter.Datastore list: what libraries can be created on."""

    def list(self) -> tuple[DatastoreSummary, ...]:
        value = self._call("GET", "/vcenter/datastore", "/vcenter/datastore", op="list datastores")
        return decode_list(DatastoreSummary, value)


class Libraries(_Service):
    def list(self) -> tuple[str, ...]:
        value = self._call(
            "GET", "/content/library", "/com/vmware/content/library", op="list libraries"
        )
        return tuple(value or ())

    def get(self, library_id: str) -> LibraryModel:
        value = self._call(
            "GET",
            f"/content/library/{_q(library_id)}",
            f"/com/vmware/content/library/{_rest_id(library_id)}",
            op="get library",
        )
        return decode(LibraryModel, value)

    def list_models(self) -> tuple[LibraryModel, ...]:
        """Every library with its details (skipping any deleted meanwhile)."""
        models = []
        for library_id in self.list():
            try:
                models.append(self.get(library_id))
            except NotFound:
                continue
        return tuple(models)

    def find(self, name: str | None = None, type: LibraryType | None = None) -> tuple[str, ...]:
        spec = _opt(name=name, type=type)
        value = self._call(
            "POST",
            "/content/library",
            "/com/vmware/content/library",
            action="find",
            body=spec,
            rest_body={"spec": spec},
            op="find library",
        )
        return tuple(value or ())

    def create_local(
        self,
        name: str,
        datastore_id: str,
        *,
        description: str = "",
        client_token: str | None = None,
    ) -> str:
        spec = {
            "name": name,
            "description": description,
            "type": LibraryType.LOCAL.value,
            "storage_backings": [
                encode(StorageBacking(StorageBackingType.DATASTORE, datastore_id=datastore_id))
            ],
        }
        value = self._call(
            "POST",
            "/content/local-library",
            "/com/vmware/content/local-library",
            body=spec,
            rest_body={"create_spec": spec},
            client_token=client_token or new_client_token(),
            op=f"create library {name!r}",
        )
        return str(value)

    def delete_local(self, library_id: str) -> None:
        self._call(
            "DELETE",
            f"/content/local-library/{_q(library_id)}",
            f"/com/vmware/content/local-library/{_rest_id(library_id)}",
            op="delete library",
        )


class Items(_Service):
    def list(self, library_id: str) -> tuple[str, ...]:
        value = self._call(
            "GET",
            "/content/library/item",
            "/com/vmware/content/library/item",
            query={"library_id": library_id},
            op="list items",
        )
        return tuple(value or ())

    def get(self, item_id: str) -> ItemModel:
        value = self._call(
            "GET",
            f"/content/library/item/{_q(item_id)}",
            f"/com/vmware/content/library/item/{_rest_id(item_id)}",
            op="get item",
        )
        return decode(ItemModel, value)

    def list_models(self, library_id: str) -> tuple[ItemModel, ...]:
        models = []
        for item_id in self.list(library_id):
            try:
                models.append(self.get(item_id))
            except NotFound:
                continue
        return tuple(models)

    def find(
        self,
        *,
        name: str | None = None,
        library_id: str | None = None,
        type: str | None = None,
        cached: bool | None = None,
        source_id: str | None = None,
    ) -> tuple[str, ...]:
        spec = _opt(name=name, library_id=library_id, type=type, cached=cached, source_id=source_id)
        value = self._call(
            "POST",
            "/content/library/item",
            "/com/vmware/content/library/item",
            action="find",
            body=spec,
            rest_body={"spec": spec},
            op="find item",
        )
        return tuple(value or ())

    def create(
        self,
        library_id: str,
        name: str,
        *,
        type: str | None = None,
        description: str | None = None,
        client_token: str | None = None,
    ) -> str:
        spec = _opt(library_id=library_id, name=name, type=type, description=description)
        value = self._call(
            "POST",
            "/content/library/item",
            "/com/vmware/content/library/item",
            body=spec,
            rest_body={"create_spec": spec},
            client_token=client_token or new_client_token(),
            op=f"create item {name!r}",
        )
        return str(value)

    def update(
        self, item_id: str, *, name: str | None = None, description: str | None = None
    ) -> None:
        spec = _opt(name=name, description=description)
        self._call(
            "PATCH",
            f"/content/library/item/{_q(item_id)}",
            f"/com/vmware/content/library/item/{_rest_id(item_id)}",
            body=spec,
            rest_body={"update_spec": spec},
            op="update item",
        )

    def delete(self, item_id: str) -> None:
        self._call(
            "DELETE",
            f"/content/library/item/{_q(item_id)}",
            f"/com/vmware/content/library/item/{_rest_id(item_id)}",
            op="delete item",
        )


class ItemFiles(_Service):
    """library.item.File: the files stored for an item."""

    def list(self, item_id: str) -> tuple[FileInfo, ...]:
        value = self._call(
            "GET",
            f"/content/library/item/{_q(item_id)}/file",
            "/com/vmware/content/library/item/file",
            rest_query={"library_item_id": item_id},
            op="list item files",
        )
        return decode_list(FileInfo, value)

    def get(self, item_id: str, name: str) -> FileInfo:
        value = self._call(
            "GET" if self._client.dialect is Dialect.API else "POST",
            f"/content/library/item/{_q(item_id)}/file",
            f"/com/vmware/content/library/item/file/{_rest_id(item_id)}",
            action=None if self._client.dialect is Dialect.API else "get",
            query={"name": name},
            rest_query={},
            rest_body={"name": name},
            op=f"get file {name!r}",
        )
        return decode(FileInfo, value)


class Storage(_Service):
    """library.item.Storage: where an item's files are stored."""

    def list(self, item_id: str) -> tuple[StorageInfo, ...]:
        value = self._call(
            "GET",
            f"/content/library/item/{_q(item_id)}/storage",
            "/com/vmware/content/library/item/storage",
            rest_query={"library_item_id": item_id},
            op="list item storage",
        )
        return decode_list(StorageInfo, value)

    def get(self, item_id: str, file_name: str) -> tuple[StorageInfo, ...]:
        """One entry per storage backing holding the file."""
        api = self._client.dialect is Dialect.API
        value = self._call(
            "GET" if api else "POST",
            f"/content/library/item/{_q(item_id)}/storage",
            f"/com/vmware/content/library/item/storage/{_rest_id(item_id)}",
            action=None if api else "get",
            query={"file_name": file_name},
            rest_query={},
            rest_body={"file_name": file_name},
            op=f"get storage of {file_name!r}",
        )
        return decode_list(StorageInfo, value)


class SessionService(_Service, Generic[M]):
    """What update and download sessions share: create, get, list, cancel, fail, delete."""

    _API = ""
    _REST = ""
    _KIND = ""
    _model: type[M]

    def _create(self, spec: dict[str, Any], client_token: str | None) -> str:
        value = self._call(
            "POST",
            self._API,
            self._REST,
            body=spec,
            rest_body={"create_spec": spec},
            client_token=client_token or new_client_token(),
            op=f"create {self._KIND} session",
        )
        return str(value)

    def get(self, session_id: str) -> M:
        value = self._call(
            "GET",
            f"{self._API}/{_q(session_id)}",
            f"{self._REST}/{_rest_id(session_id)}",
            op=f"get {self._KIND} session",
        )
        model = decode(self._model, value)
        # vCenter leaves `id` out of get results; fill it in for callers.
        if getattr(model, "id", None):
            return model
        return dataclasses.replace(model, id=session_id)  # type: ignore[type-var]

    def list(self, item_id: str | None = None) -> tuple[str, ...]:
        """Ids of the calling user's sessions, optionally of one item."""
        value = self._call(
            "GET",
            self._API,
            self._REST,
            query={"library_item_id": item_id} if item_id else None,
            op=f"list {self._KIND} sessions",
        )
        return tuple(value or ())

    def cancel(self, session_id: str) -> None:
        self._action(session_id, "cancel")

    def fail(self, session_id: str, client_error_message: str) -> None:
        self._action(session_id, "fail", {"client_error_message": client_error_message})

    def delete(self, session_id: str) -> None:
        self._call(
            "DELETE",
            f"{self._API}/{_q(session_id)}",
            f"{self._REST}/{_rest_id(session_id)}",
            op=f"delete {self._KIND} session",
        )

    def _action(self, session_id: str, action: str, body: dict[str, Any] | None = None) -> None:
        self._call(
            "POST",
            f"{self._API}/{_q(session_id)}",
            f"{self._REST}/{_rest_id(session_id)}",
            action=action,
            body=body if body is not None else {},
            op=f"{action} {self._KIND} session",
        )


class UpdateSessions(SessionService[UpdateSessionModel]):
    """library.item.UpdateSession: uploads into an item."""

    _API = "/content/library/item/update-session"
    _REST = "/com/vmware/content/library/item/update-session"
    _KIND = "update"
    _model = UpdateSessionModel

    def create(
        self,
        item_id: str,
        *,
        warning_behavior: tuple[WarningBehavior, ...] = (),
        client_token: str | None = None,
    ) -> str:
        spec: dict[str, Any] = {"library_item_id": item_id}
        if warning_behavior:
            spec["warning_behavior"] = encode(warning_behavior)
        return self._create(spec, client_token)

    def update(self, session_id: str, warning_behavior: tuple[WarningBehavior, ...]) -> None:
        spec = {"warning_behavior": encode(warning_behavior)}
        self._call(
            "PATCH",
            f"{self._API}/{_q(session_id)}",
            f"{self._REST}/{_rest_id(session_id)}",
            body=spec,
            rest_body={"update_spec": spec},
            op="update update session",
        )

    def keep_alive(self, session_id: str, client_progress: int | None = None) -> None:
        self._action(session_id, "keep-alive", _opt(client_progress=client_progress))

    def complete(self, session_id: str) -> None:
        self._action(session_id, "complete")


class UpdateSessionFiles(_Service):
    """library.item.updatesession.File: the files of an update session."""

    _API = "/content/library/item/update-session"
    _REST = "/com/vmware/content/library/item/updatesession/file"

    def add(self, session_id: str, spec: AddSpec) -> UpdateFileInfo:
        body = encode(spec)
        value = self._call(
            "POST",
            f"{self._API}/{_q(session_id)}/file",
            f"{self._REST}/{_rest_id(session_id)}",
            action=None if self._client.dialect is Dialect.API else "add",
            body=body,
            rest_body={"file_spec": body},
            op=f"add file {spec.name!r}",
        )
        return decode(UpdateFileInfo, value)

    def get(self, session_id: str, file_name: str) -> UpdateFileInfo:
        api = self._client.dialect is Dialect.API
        value = self._call(
            "GET" if api else "POST",
            f"{self._API}/{_q(session_id)}/file/{_q(file_name)}",
            f"{self._REST}/{_rest_id(session_id)}",
            action=None if api else "get",
            rest_body={"file_name": file_name},
            op=f"get upload file {file_name!r}",
        )
        return decode(UpdateFileInfo, value)

    def list(self, session_id: str) -> tuple[UpdateFileInfo, ...]:
        value = self._call(
            "GET",
            f"{self._API}/{_q(session_id)}/file",
            self._REST,
            rest_query={"update_session_id": session_id},
            op="list upload files",
        )
        return decode_list(UpdateFileInfo, value)

    def remove(self, session_id: str, file_name: str) -> None:
        api = self._client.dialect is Dialect.API
        self._call(
            "DELETE" if api else "POST",
            f"{self._API}/{_q(session_id)}/file/{_q(file_name)}",
            f"{self._REST}/{_rest_id(session_id)}",
            action=None if api else "remove",
            rest_body={"file_name": file_name},
            op=f"remove upload file {file_name!r}",
        )

    def validate(self, session_id: str) -> ValidationResult | None:
        """The server's check of the session's files; None if the server sent no result
        (vcsim answers an empty 200)."""
        value = self._call(
            "POST",
            f"{self._API}/{_q(session_id)}/file",
            f"{self._REST}/{_rest_id(session_id)}",
            action="validate",
            op="validate upload files",
        )
        return None if value is None else decode(ValidationResult, value)


class DownloadSessions(SessionService[DownloadSessionModel]):
    """library.item.DownloadSession: downloads from an item."""

    _API = "/content/library/item/download-session"
    _REST = "/com/vmware/content/library/item/download-session"
    _KIND = "download"
    _model = DownloadSessionModel

    def create(self, item_id: str, *, client_token: str | None = None) -> str:
        return self._create({"library_item_id": item_id}, client_token)

    def keep_alive(self, session_id: str, progress: int | None = None) -> None:
        """Download sessions take `progress` (update sessions `client_progress`)."""
        self._action(session_id, "keep-alive", _opt(progress=progress))


class DownloadSessionFiles(_Service):
    """library.item.downloadsession.File: prepare files and get their download links."""

    _API = "/content/library/item/download-session"
    _REST = "/com/vmware/content/library/item/downloadsession/file"

    def list(self, session_id: str) -> tuple[DownloadFileInfo, ...]:
        value = self._call(
            "GET",
            f"{self._API}/{_q(session_id)}/file",
            self._REST,
            rest_query={"download_session_id": session_id},
            op="list download files",
        )
        return decode_list(DownloadFileInfo, value)

    def get(self, session_id: str, file_name: str) -> DownloadFileInfo:
        api = self._client.dialect is Dialect.API
        value = self._call(
            "GET" if api else "POST",
            f"{self._API}/{_q(session_id)}/file",
            f"{self._REST}/{_rest_id(session_id)}",
            action=None if api else "get",
            query={"file_name": file_name},
            rest_query={},
            rest_body={"file_name": file_name},
            op=f"get download file {file_name!r}",
        )
        if value is None:  # vcsim: a file never prepared
            raise NotFound(f"{file_name!r} is not prepared", operation="get download file")
        return decode(DownloadFileInfo, value)

    def prepare(
        self, session_id: str, file_name: str, endpoint_type: EndpointType = EndpointType.HTTPS
    ) -> DownloadFileInfo:
        body = {"file_name": file_name, "endpoint_type": endpoint_type.value}
        value = self._call(
            "POST",
            f"{self._API}/{_q(session_id)}/file",
            f"{self._REST}/{_rest_id(session_id)}",
            action="prepare",
            body=body,
            op=f"prepare {file_name!r}",
        )
        return decode(DownloadFileInfo, value)
