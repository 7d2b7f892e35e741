"""A small misbehaving server for the engine's fault tests: an HTTP proxy in front of the
embedded service that records what the client sends and can spoil what it gets back.

The simulator builds data URLs from the Host header, so every URL the client is given points
at the proxy, and data GETs/PUTs pass through it too. Behaviour is set on attributes:

- `stall_after`: a data GET sends this many bytes, then nothing (until the test ends);
- `stall_upload_after`: a data PUT is read this far, then no more (small socket buffers);
- `drop_after`: the next data GET closes after this many bytes (once);
- `drop_every`: every data GET closes after this many bytes;
- `body`: a function that turns the whole file into the body to send (too short, too long);
- `fail`: a function (method, path, query) -> HTTP status to answer instead of forwarding;
- `rewrite`: a function (path, JSON bytes) -> JSON bytes for API answers.

Records: `data_bytes` (body bytes of data GETs sent to the client), `ranges` (their Range
headers), `calls` ((method, path, query, JSON body) of every API call).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BLOCK = 64 * 1024


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.lock = threading.Lock()
        self.stall_after: int | None = None
        self.stall_upload_after: int | None = None
        self.drop_every: int | None = None
        self.drop_after: int | None = None
        self.body: Callable[[bytes], bytes] | None = None
        self.fail: Callable[[str, str, dict[str, list[str]]], int | None] | None = None
        self.rewrite: Callable[[str, bytes], bytes] | None = None
        self.data_bytes = 0
        self.ranges: list[str | None] = []
        self.calls: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.released = threading.Event()  # ends stalled answers
        self.connections: set[Any] = set()  # cut by go_down()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def go_down(self) -> None:
        """Stop listening and cut open connections: every connection is refused until
        `come_back()`."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        with self.lock:
            open_now, self.connections = list(self.connections), set()
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def come_back(self) -> None:
        """Listen again on the same port (bounded retries while the old socket lingers)."""
        port = self._server.server_port
        for _ in range(50):
            try:
                self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
                break
            except OSError:
                threading.Event().wait(0.1)
        else:
            raise AssertionError(f"port {port} could not be bound again")
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def keep_alives(self) -> list[int]:
        """The progress values the client sent with keep-alives, in order."""
        values = []
        with self.lock:
            calls = list(self.calls)
        for _method, _path, query, body in calls:
            if "keep-alive" in query.get("action", []) + query.get("~action", []):
                value = (body or {}).get("client_progress", (body or {}).get("progress"))
                if value is not None:
                    values.append(int(value))
        return values

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            if proxy.stall_upload_after is not None:  # a stalled reader holds little
                self.request.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            super().setup()
            with proxy.lock:
                proxy.connections.add(self.connection)

        def finish(self) -> None:
            with proxy.lock:
                proxy.connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            stall = proxy.stall_upload_after
            if stall is not None and self.command == "PUT" and "/cls/data/" in self.path:
                self.rfile.read(min(length, stall))
                proxy.released.wait(60)  # read nothing more; the client must give up
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            is_data = parts.path.startswith("/cls/data/")
            if not is_data:
                try:
                    recorded = json.loads(body) if body else None
                except ValueError:
                    recorded = None
                with proxy.lock:
                    proxy.calls.append((self.command, parts.path, query, recorded))
            status = proxy.fail(self.command, parts.path, query) if proxy.fail else None
            if status is not None:
                return self._answer(status, b'{"error_type": "SERVICE_UNAVAILABLE"}')
            headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                upstream = conn.getresponse()
                if is_data and self.command == "GET":
                    with proxy.lock:
                        proxy.ranges.append(self.headers.get("Range"))
                    return self._data(upstream)
                content = upstream.read()
                if proxy.rewrite and content and not is_data:
                    content = proxy.rewrite(parts.path, content)
                self._answer(upstream.status, content, upstream.getheader("Content-Type"))
            finally:
                conn.close()

        def _answer(self, status: int, content: bytes, ctype: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype or "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _data(self, upstream: http.client.HTTPResponse) -> None:
            content = upstream.read()
            if proxy.body is not None and upstream.status == 200:
                content = proxy.body(content)
            with proxy.lock:
                limit, proxy.drop_after = proxy.drop_after, None
                if proxy.drop_every is not None:
                    limit = proxy.drop_every
                stall = proxy.stall_after
            self.send_response(upstream.status)
            for name in ("Content-Type", "Content-Range", "Accept-Ranges"):
                if value := upstream.getheader(name):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if stall is not None:
                limit = stall
            sent = 0
            for start in range(0, len(content), BLOCK):
                block = content[start : start + BLOCK]
                if limit is not None:
                    block = block[: max(0, limit - sent)]
                if block:
                    self.wfile.write(block)
                    self.wfile.flush()
                    sent += len(block)
                    with proxy.lock:
                        proxy.data_bytes += len(block)
                if limit is not None and sent >= limit:
                    break
            if stall is not None:
                proxy.released.wait(60)  # send nothing more; the client must give up by itself
            if limit is not None:
                self.close_connection = True

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _forward

    return Handler


def proxied_queue(
    store_path: Any, proxy: FaultProxy, policy: Any, user: str = "admin", password: str = "secret"
) -> Any:
    """A started TransferQueue whose jobs reach the service through `proxy`."""
    from cl_desktop.api import ContentLibraryClient
    from cl_desktop.transfers.queue import TransferQueue
    from cl_desktop.transfers.store import JobStore

    queue = TransferQueue(
        JobStore(store_path),
        lambda r: ContentLibraryClient(r.url, user, password),
        progress_interval=0.02,
        retry_policy=policy,
    )
    queue.start()
    return queue
