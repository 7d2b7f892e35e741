"""The Content Library REST client's core: login, one `call` per operation in either dialect,
dialect detection, renewing an expired login, logout; and opening the byte transfers.

Every call works in both dialects: `/api` (7.0U2+) and `/rest` (6.5-7.0U1, vcsim). The
operations themselves are the SDK-shaped services in `resources.py`; the bodies and streams of
the byte transfers are in `streams.py`.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, cast
from urllib.parse import urlencode

import requests

from cl_desktop import logs

from .addresses import normalize_server
from .errors import (
    ContentLibraryError,
    NoSuchHost,
    NotAVCenter,
    NotTls,
    ProtocolError,
    ServiceUnavailable,
    TimedOut,
    TlsTrustError,
    TransportError,
    Unauthenticated,
    VapiError,
    error_from_response,
    login_error,
)
from .models import Dialect, SessionInfo, decode
from .resources import (
    Datastores,
    DownloadSessionFiles,
    DownloadSessions,
    ItemFiles,
    Items,
    Libraries,
    Storage,
    UpdateSessionFiles,
    UpdateSessions,
)
from .streams import DataSink, DownloadStream, Progress, UploadBody
from .transport import (
    DEFAULT_TIMEOUT,
    TlsSettings,
    lean_get,
    make_session,
    same_origin,
    translate_transport_errors,
)

log = logging.getLogger(__name__)
SESSION_HEADER = "vmware-api-session-id"
API_LOGIN_PATH = "/api/session"
REST_LOGIN_PATH = "/rest/com/vmware/cis/session"
# What a server without that login endpoint answers (a web server: 404, 405 or 501 to a POST).
_NO_ENDPOINT = (404, 405, 501)
# Retrying a login cannot help these: the address or the certificate is wrong.
_NOT_RETRIED = (TlsTrustError, NoSuchHost, NotTls)
LOGIN_ATTEMPTS = 4  # a 503 or refused connection on login: tries, 0.5 + 1 + 2 s apart
LOGIN_BACKOFF = 0.5
LOGOUT_TIMEOUT = (5.0, 5.0)  # logging out must not hold up the end of a command for long
RENEWAL_PASSWORDS = 3  # a renewal tries at most this many passwords (accounts lock out)
PASSWORD_REFUSED = "the server refused the password when the login was renewed"

DialectChoice = Literal["auto", "api", "rest"]


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password in logs or tracebacks
        return f"Credentials(username={self.username!r}, password=***)"


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
        self._dialect: Dialect | None = None if dialect == "auto" else Dialect(dialect)
        self.timeout = timeout
        self.login_attempts = max(1, login_attempts)
        self.login_backoff = login_backoff
        self.tls = tls or TlsSettings()
        self.http = http or make_session(self.tls)
        self._token: str | None = None
        self._login_lock = threading.Lock()
        # Asked for another password when renewing the login was refused (given the refused
        # one): the connector's stored one, or None when there is none.
        self.password_source: Callable[[str], str | None] | None = None
        self._password_refused = False  # renewals stop asking the server (account lockout)

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
            self._password_refused = False

    def _ensure_login(self) -> None:
        if self._token is None:
            if self._password_refused:  # only login() asks the server again
                raise Unauthenticated(PASSWORD_REFUSED, operation="log in")
            self.login()

    @property
    def password_refused(self) -> bool:
        """A renewal of the login was refused: this client no longer logs in by itself."""
        return self._password_refused

    def renew_login(self, stale_token: str | None = None) -> None:
        """Log in again because the server answered 401 (the login expired).

        `stale_token` is the token the refused request carried: when another thread has
        renewed it meanwhile, nothing is done (one login, not one per worker). A refused
        password is asked `password_source` for another one a few times at most; once none
        is left, this and every later renewal raise Unauthenticated without asking the server
        again (vCenter locks accounts after failed logins) until `login()` succeeds.
        """
        with self._login_lock:
            if stale_token is not None and self._token not in (None, stale_token):
                return
            if self._password_refused:
                raise Unauthenticated(PASSWORD_REFUSED, operation="log in")
            for _ in range(RENEWAL_PASSWORDS):
                try:
                    self._login_locked()
                    return
                except Unauthenticated:
                    refused = self._credentials.password
                    other = self.password_source(refused) if self.password_source else None
                    if other is None or other == refused:
                        break
                    self._credentials = Credentials(self._credentials.username, other)
            self._password_refused, self._token = True, None
            raise Unauthenticated(PASSWORD_REFUSED, operation="log in")

    def _login_locked(self) -> None:
        # A vCenter whose services are (re)starting answers 503 or refuses connections for a
        # moment: a few quick tries instead of failing the whole command.
        delay = self.login_backoff
        for attempt in range(1, self.login_attempts + 1):
            try:
                self._login_once()
                return
            except (TransportError, ServiceUnavailable, TimedOut) as exc:
                if isinstance(exc, _NOT_RETRIED) or attempt == self.login_attempts:
                    raise
                log.info("log in: %s; trying again in %.1f s", exc.detail, delay)
                time.sleep(delay)
                delay *= 2

    def _login_once(self) -> None:
        basic = base64.b64encode(
            f"{self._credentials.username}:{self._credentials.password}".encode()
        ).decode("ascii")
        # masked in every log line from now on, whoever prints them (urllib3, a traceback)
        logs.add_secret(self._credentials.password)
        logs.add_secret(basic)
        auth = "Basic " + basic
        headers = {"Authorization": auth, "Accept": "application/json"}
        tried: list[str] = []  # what each login endpoint answered, for "not a vCenter"
        if self._dialect in (None, Dialect.API):
            answer = self._login_at(API_LOGIN_PATH, headers, tried)
            if answer is not None:
                self._token, self._dialect = answer, Dialect.API
                return
            if self._dialect is Dialect.API:
                raise self._not_a_vcenter(tried, "the api dialect was asked for")
            log.info("%s has no /api endpoint; trying the /rest dialect", self.server)
        headers["vmware-use-header-authn"] = "true"  # no cookie; the header carries the token
        answer = self._login_at(REST_LOGIN_PATH, headers, tried, rest=True)
        if answer is None:
            only = "the rest dialect was asked for" if self._dialect is Dialect.REST else ""
            raise self._not_a_vcenter(tried, only)
        self._token, self._dialect = answer, Dialect.REST

    def _login_at(
        self, path: str, headers: dict[str, str], tried: list[str], *, rest: bool = False
    ) -> str | None:
        """The session token from `path`, or None when no vCenter login answers there (what
        it did answer is added to `tried`). Refusals and failures raise, in login words."""
        try:
            value = self._send("POST", path, headers=headers, op="log in")
        except VapiError as exc:
            if exc.status in _NO_ENDPOINT:
                tried.append(f"{path} answered HTTP {exc.status}")
                return None
            worded = login_error(exc, user=self.username, server=self.server)
            if worded is exc:
                raise
            raise worded from exc
        except NotAVCenter as exc:  # 200 but not JSON: a web page
            tried.append(f"{path} {exc.detail}")
            return None
        token = _unwrap(value) if rest else value
        if isinstance(token, str) and token.strip():
            logs.add_secret(token)
            return token
        tried.append(f"{path} accepted the login but sent no session token ({_shown(token)})")
        return None

    def _not_a_vcenter(self, tried: list[str], only: str) -> NotAVCenter:
        why = "; ".join(tried)
        tail = f" ({only})" if only else " (both API dialects were tried)"
        return NotAVCenter(
            f"{self.server} answered, but not as a vCenter: {why}{tail}.", operation="log in"
        )

    def logout(self) -> None:
        """End the login on the server (best effort; vCenter counts logins against a limit).

        Safe to call when not logged in and more than once; a later call logs in again."""
        with self._login_lock:
            headers, self._token = self._auth_headers(), None
        if SESSION_HEADER not in headers:
            return
        path = API_LOGIN_PATH if self._dialect is Dialect.API else REST_LOGIN_PATH
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
        lean: bool = False,
    ) -> Any:
        """One API operation in the current dialect; returns the unwrapped JSON value or None.

        `api`/`rest` are the paths after `/api` and `/rest`. `query` applies to both dialects
        unless `rest_query` is given; `body` likewise with `rest_body`. `lean` (a GET without
        a body, made thousands of times: an item of a big library) takes `transport.lean_get`.
        """
        self._ensure_login()
        for attempt in (1, 2):
            headers = self._auth_headers()
            sent_token = headers.get(SESSION_HEADER)
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
                    method,
                    url_path,
                    params=params,
                    headers=headers,
                    json_body=payload,
                    op=op,
                    lean=lean and method == "GET" and payload is None,
                )
            except Unauthenticated:
                if attempt == 2:
                    raise
                log.info("login session expired; logging in again")
                self.renew_login(sent_token)
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
        lean: bool = False,
    ) -> Any:
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers = {**headers, "Content-Type": "application/json"}
        started = time.monotonic()
        with translate_transport_errors(op):
            if lean:
                target = path + ("?" + urlencode(params) if params else "")
                answer = lean_get(self.http, self.server, target, headers, timeout or self.timeout)
                status, content, location = answer.status, answer.content, answer.location
            else:
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
                status, location = response.status_code, response.headers.get("Location")
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (time.monotonic() - started) * 1000
            log.debug("%s %s -> %s (%.0f ms)", method, path, status, elapsed)
        if status >= 400:
            raise error_from_response(status, content, operation=op)
        if 300 <= status < 400:  # the API never redirects; a proxy or web UI does
            where = location or "another address"
            what = "the login" if op == "log in" else "the request"
            raise ProtocolError(
                f"the server redirected {what} to {where}; check the server URL.", operation=op
            )
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError as exc:
            kind = "an HTML page" if content.lstrip()[:1] == b"<" else "a body that is not JSON"
            cls = NotAVCenter if op == "log in" else ProtocolError
            raise cls(f"answered HTTP {status} with {kind}", operation=op) from exc

    # --- byte transfers ---------------------------------------------------------------------

    def _data_headers(self, uri: str) -> dict[str, str]:
        # vcsim requires the session on data URIs; vCenter's carry their own token. Send ours
        # only to the API's own origin: never to another host or port, never over plain HTTP
        # when the API is HTTPS.
        self._ensure_login()
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

        Streams blocks of up to 1 MiB (smaller on slow links, see `streams.BlockSizer`) with an
        explicit Content-Length (never chunked); `on_data` sees each block (for hashing),
        `progress` the running total. Either may raise to abort.
        `stall_seconds` bounds every blocking send and read.
        """
        body = UploadBody(source, size, progress, on_data)
        headers = {**self._data_headers(uri), "Content-Type": "application/octet-stream"}
        with translate_transport_errors(op):
            try:
                response = self.http.put(
                    uri,
                    data=cast(BinaryIO, body),  # read() gives memoryviews: bytes-like
                    headers=headers,
                    timeout=self._data_timeout(stall_seconds),
                    allow_redirects=False,
                )
            finally:
                body.close()
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


def _shown(value: Any) -> str:
    return json.dumps(value)[:80]


def _unwrap(value: Any) -> Any:
    """/rest wraps results as {"value": ...}; void answers have no body."""
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value
