"""HTTP/1.1 server and request handler: auth, dialect wrapping, control API.

Body framing is in ``framing.py``; data URIs are answered by ``data_endpoints.py``.

Everything speaks HTTP/1.1 with keep-alive.  ``Expect: 100-continue`` is
answered only once a request has been accepted, so a rejected upload never
makes the client send its body.  Small responses go out with TCP_NODELAY so
keep-alive connections do not stall on Nagle + delayed ACK.

The server stands in for vCenter on a real port, so it defends itself: the
login is checked before a body is read, API bodies are bounded, a request's
line and headers must arrive within ``header_timeout`` (a watchdog cuts slow
ones), and at most ``max_connections`` connections are served at once.
"""

from __future__ import annotations

import json
import logging
import re
import select
import socket
import socketserver
import ssl
import struct
import threading
import time
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .backend import Backend
from .config import SimulatorConfig
from .data_endpoints import PREFIX as DATA_PREFIX
from .data_endpoints import serve_data
from .errors import (
    ApiError,
    invalid_argument,
    operation_not_found,
    service_unavailable,
    unauthorized,
)
from .framing import LengthReader, body_reader, discard
from .routes import Call, Route, resolve

log = logging.getLogger(__name__)

MAX_API_BODY = 1 << 20
DRAIN_LIMIT = 64 << 10  # an unread body up to this size is dropped to keep the connection
MAX_LENGTH_DIGITS = 18  # a Content-Length beyond this is no real body
ONE_WRITE = 64 << 10  # an answer up to this size goes out in one send with its headers
_HUP = select.POLLHUP | select.POLLERR | getattr(select, "POLLRDHUP", 0)
SESSION_HEADER = "vmware-api-session-id"
_HOST_OK = re.compile(r"[A-Za-z0-9.\-]+(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?")
_DATA_TOKEN = re.compile(r"(/cls/data/)[^/ ]+")


class SimServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows the backend and can cut open connections on stop."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, config: SimulatorConfig, backend: Backend, tls_context: ssl.SSLContext | None
    ) -> None:
        self.config = config
        self.backend = backend
        self.tls_context = tls_context
        self.tls = tls_context is not None
        self.stopping = threading.Event()  # set on stop: ends watchdog and stalled transfers
        self._conns: set[Handler] = set()
        self._conns_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(config.max_connections)
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        super().__init__((config.host, config.port), Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        # One thread per connection, but no more than max_connections of them.
        if not self._slots.acquire(blocking=False):
            log.warning("refusing a connection from %s: too many connections", client_address)
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request: Any) -> None:
        if not self.tls:  # a TLS client would only see garbage before its handshake
            body = b'{"error_type":"SERVICE_UNAVAILABLE","messages":[]}'
            head = (
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            try:
                request.setblocking(False)
                request.send(head.encode("ascii") + body)
            except OSError:
                pass
        self.shutdown_request(request)

    def track(self, handler: Handler) -> None:
        with self._conns_lock:
            self._conns.add(handler)

    def untrack(self, handler: Handler) -> None:
        with self._conns_lock:
            self._conns.discard(handler)

    @property
    def connection_count(self) -> int:
        with self._conns_lock:
            return len(self._conns)

    def close_connections(self) -> None:
        """Shut down every open connection so their handler threads end."""
        self.stopping.set()
        with self._conns_lock:
            handlers = list(self._conns)
        for handler in handlers:
            _cut(handler.connection)

    def watch_headers(self) -> None:
        """Cut connections whose request line and headers are overdue, until stopped."""
        interval = min(1.0, self.config.header_timeout / 4)
        while not self.stopping.wait(interval):
            now = time.monotonic()
            with self._conns_lock:
                late = [handler for handler in self._conns if handler.header_deadline < now]
            for handler in late:
                log.info("closing a connection that sent no complete request in time")
                _cut(handler.connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that vanish or fail the TLS handshake are routine for a test server.
        log.debug("connection from %s failed", client_address, exc_info=True)


def _cut(conn: Any) -> None:
    # The plain socket's shutdown, also for a TLS socket: safe from another thread.
    try:
        socket.socket.shutdown(conn, socket.SHUT_RDWR)
    except OSError:
        pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cl-desktop-simulator"
    sys_version = ""
    server: SimServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        sock = self.request
        self._expect_continue = False
        self._body_pending = False
        self.connection = sock
        self._await_request()  # the TLS handshake counts against the header deadline
        self.server.track(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self.server.tls_context is not None:
                # Handshake here, in the connection's thread, not in the accept loop, on
                # the wrapped socket already (the plain one is detached by the wrap), so
                # the watchdog can cut a handshake that never comes.
                tls = self.server.tls_context.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False
                )
                self.request = self.connection = tls
                tls.do_handshake()
            super().setup()
        except BaseException:
            self.server.untrack(self)  # finish() does not run when setup() fails
            raise

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self)

    def _await_request(self) -> None:
        self.header_deadline = time.monotonic() + self.server.config.header_timeout

    def handle_one_request(self) -> None:
        self._await_request()  # also bounds an idle keep-alive connection
        super().handle_one_request()

    def parse_request(self) -> bool:
        ok = super().parse_request()  # reads the headers
        self.header_deadline = float("inf")  # bodies are paced by their handlers
        return ok

    def wait_stalled(self, seconds: float) -> None:
        """Keep the connection open and silent for ``seconds``; returns early when the
        client closes or the service stops (so a stall never holds up shutdown)."""
        poller = select.poll()
        poller.register(self.connection.fileno(), _HUP)
        deadline = time.monotonic() + seconds
        while not self.server.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or poller.poll(min(left, 0.25) * 1000):
                return

    # -- logging: quiet, and never a data token --------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if not log.isEnabledFor(logging.DEBUG):  # once per request: format only when shown
            return
        text = _DATA_TOKEN.sub(r"\1***", format % args)
        log.debug("%s %s", self.address_string(), text)

    def log_error(self, format: str, *args: Any) -> None:
        self.log_message(format, *args)

    # -- framing helpers, also used by data_endpoints.py -----------------------------------------

    def handle_expect_100(self) -> bool:
        # Defer the interim response until the request has been accepted.
        self._expect_continue = True
        return True

    @property
    def expect_continue(self) -> bool:
        """True while an ``Expect: 100-continue`` has not been answered."""
        return self._expect_continue

    def send_continue(self) -> None:
        if self._expect_continue:
            self._expect_continue = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        content_length: int | None = None,
    ) -> None:
        if self._expect_continue:
            # The client may still send the body it announced; we will not read it.
            self.close_connection = True
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if status != 204:
            self.send_header(
                "Content-Length", str(len(body) if content_length is None else content_length)
            )
        for key, value in headers:
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if body and self.command != "HEAD" and len(body) <= ONE_WRITE:
            # headers and a small body in one send: one segment, one wake-up of the client
            self._headers_buffer.append(b"\r\n" + body)  # type: ignore[attr-defined]
            self.flush_headers()
            return
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, value: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_bytes(status, json.dumps(value).encode("utf-8"), "application/json", headers)

    def send_api_error(
        self,
        err: ApiError,
        dialect: str = "api",
        status: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.send_json(status or err.status, err.body(dialect), headers)

    def drop_connection(self, reset: bool = True) -> None:
        """Cut the connection as a network failure would.

        ``reset`` sends an RST (for a client that is still sending); otherwise a
        FIN, so a downloading client first reads what was sent, then a short body.
        """
        self.close_connection = True
        try:
            if reset:
                linger = struct.pack("ii", 1, 0)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- dispatch -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_GET
    do_POST = do_GET
    do_PUT = do_GET
    do_PATCH = do_GET
    do_DELETE = do_GET

    def _dispatch(self) -> None:
        try:
            url = urlsplit(self.path)
            path = url.path
            framing = self._framing_error()
            if framing is not None:
                self.close_connection = True
                self.send_api_error(framing)
            elif path.startswith(DATA_PREFIX):
                serve_data(self, self.command, path)
            elif path == "/_sim" or path.startswith("/_sim/"):
                self._control(path)
            else:
                self._api(path, url.query)
        except (ConnectionError, TimeoutError, ssl.SSLError) as exc:
            log.debug("connection lost: %s", exc)
            self.close_connection = True
        except Exception:
            log.exception(
                "internal error on %s %s", self.command, _DATA_TOKEN.sub(r"\1***", self.path)
            )
            self.close_connection = True
            try:
                self.send_api_error(
                    ApiError("INTERNAL_SERVER_ERROR", "Internal error in the simulator.")
                )
            except OSError:
                pass
        finally:
            self._expect_continue = False

    def _framing_error(self) -> ApiError | None:
        """A request whose body length is ambiguous is refused (request smuggling)."""
        lengths = self.headers.get_all("Content-Length") or []
        chunked = self.headers.get("Transfer-Encoding") is not None
        self._body_pending = chunked or any(v.strip() not in ("", "0") for v in lengths)
        if len(lengths) > 1 or (lengths and chunked):
            return ApiError(
                "INVALID_REQUEST", "Conflicting body lengths in the request.", key="bad_length"
            )
        if lengths:
            value = lengths[0].strip()
            if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
                return ApiError("INVALID_REQUEST", "Invalid Content-Length.", key="bad_length")
        return None

    def leave_body(self) -> None:
        """The request is refused before its body was read: drop a small body so the
        connection stays usable; otherwise close it after the answer, unread."""
        if not self._body_pending:
            return
        self._body_pending = False
        length = str(self.headers.get("Content-Length") or "")
        if self._expect_continue or not length.isdigit() or int(length) > DRAIN_LIMIT:
            self.close_connection = True
            return
        discard(LengthReader(self.rfile, int(length)))

    def _read_body(self) -> bytes:
        """The whole (small) request body of an API call."""
        self._body_pending = False
        reader = body_reader(self.headers, self.rfile)
        if reader is None:
            if self.headers.get("Content-Length") is not None:
                self.close_connection = True
                raise ApiError("INVALID_REQUEST", "Invalid Content-Length.", key="bad_length")
            return b""
        if isinstance(reader, LengthReader):
            if reader.left > MAX_API_BODY:
                self.close_connection = True
                raise invalid_argument(
                    f"The request body is too large (limit {MAX_API_BODY} bytes).",
                    key="body_too_large",
                )
            if reader.left == 0:
                return b""
        self.send_continue()
        data = bytearray()
        buf = memoryview(bytearray(64 << 10))
        while True:
            count = reader.readinto(buf)
            if not count:
                break
            data += buf[:count]
            if len(data) > MAX_API_BODY:
                self.close_connection = True
                raise invalid_argument("The request body is too large.", key="body_too_large")
        if not reader.eof:
            raise ConnectionError("request body ended early")
        return bytes(data)

    def base(self) -> str:
        """scheme://host:port as the client addressed us, for data URIs."""
        scheme = "https" if self.server.tls else "http"
        host = str(self.headers.get("Host") or "")
        if not _HOST_OK.fullmatch(host):
            host, port = self.server.server_name, self.server.server_port
            host = f"[{host}]" if ":" in host else host
            host = f"{host}:{port}"
        return f"{scheme}://{host}"

    def _session_token(self) -> str | None:
        token = self.headers.get(SESSION_HEADER)
        if token:
            return str(token)
        cookie_header = self.headers.get("Cookie")
        if cookie_header:
            try:
                morsel = SimpleCookie(str(cookie_header)).get(SESSION_HEADER)
            except CookieError:
                return None
            if morsel is not None:
                return morsel.value
        return None

    def _api(self, path: str, query_string: str) -> None:
        dialect = None
        if path == "/api" or path.startswith("/api/"):
            dialect = "api"
        elif path == "/rest" or path.startswith("/rest/"):
            dialect = "rest"
        shape = dialect or "api"
        backend = self.server.backend
        try:
            if dialect is None or dialect not in self.server.config.dialects:
                raise operation_not_found(self.command, path)
            if backend.faults.take_failure(path):
                raise service_unavailable()
            query = {k: v[0] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
            action = query.pop("action" if dialect == "api" else "~action", None)
            route, params = resolve(dialect, self.command, path, action)
            call = Call(dialect, params, query, None, self.headers, self.base())
            if route.auth:  # before the body is read: strangers cost no memory
                call.token = self._session_token()
                call.principal = backend.authenticate(call.token)
            call.body = _parse_json(self._read_body())
            result = route.op(backend, call)
        except ApiError as err:
            self.leave_body()
            self.send_api_error(err, shape)
            return
        assert dialect is not None
        self._send_result(dialect, route, result, call.response_headers)

    def _send_result(
        self, dialect: str, route: Route, result: Any, headers: list[tuple[str, str]]
    ) -> None:
        if dialect == "api":
            if result is None:
                self.send_bytes(204, b"", headers=headers)
            else:
                self.send_json(201 if route.created else 200, result, headers)
        elif result is None:
            self.send_bytes(200, b"", headers=headers)
        else:
            self.send_json(200, {"value": result}, headers)

    # -- control API (/_sim/...) -----------------------------------------------------------------

    def _control(self, path: str) -> None:
        backend = self.server.backend
        faults = backend.faults
        try:
            if not self.server.config.control_api:
                raise operation_not_found(self.command, path)
            who = backend.authenticate(self._session_token())
            if path == "/_sim/state" and self.command == "GET":
                self.send_json(200, backend.dump())
            elif path == "/_sim/faults" and self.command == "GET":
                self.send_json(200, {"faults": faults.snapshot()})
            elif path == "/_sim/faults" and self.command == "POST":
                if who.readonly:
                    raise unauthorized(who.user, "Simulator.Faults")
                body = _parse_json(self._read_body())
                try:
                    result = faults.apply_json({} if body is None else body)
                except ValueError as exc:
                    raise invalid_argument(f"Bad fault request: {exc}.", key="bad_fault") from None
                except KeyError as exc:
                    raise ApiError(
                        "NOT_FOUND",
                        f"There is no update or download session '{exc.args[0]}'.",
                        key="session_not_found",
                    ) from None
                self.send_json(200, {"faults": faults.snapshot(), **result})
            elif path == "/_sim/password" and self.command == "POST":
                if who.readonly:
                    raise unauthorized(who.user, "Simulator.Users")
                body = _parse_json(self._read_body())
                user = body.get("user") if isinstance(body, dict) else None
                password = body.get("password") if isinstance(body, dict) else None
                if not isinstance(user, str) or not isinstance(password, str) or not password:
                    raise invalid_argument(
                        'Expected {"user": NAME, "password": NEW}.', key="bad_password"
                    )
                try:
                    backend.set_password(user, password)
                except KeyError:
                    raise ApiError(
                        "NOT_FOUND", f"There is no user '{user}'.", key="user_not_found"
                    ) from None
                self.send_bytes(204, b"")
            else:
                raise operation_not_found(self.command, path)
        except ApiError as err:
            self.leave_body()
            self.send_api_error(err)


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_argument(
            f"The request body is not valid JSON: {exc}.", key="invalid_json"
        ) from None
    except RecursionError:
        raise invalid_argument(
            "The request body is nested too deeply.", key="invalid_json"
        ) from None
