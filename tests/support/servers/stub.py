"""A small scripted HTTP server for tests that need a peer misbehaving on purpose.

    with StubServer(reply) as stub:          # reply(request) -> Reply, CLOSE or None
        stub.url                             # http://127.0.0.1:PORT (https:// with tls=...)
        stub.requests                        # every request received, with its headers

`reply` answers a request with (status, headers, body), with CLOSE (drop the connection without
answering) or None: then the request is forwarded to `upstream` (a real server, e.g. the
embedded service) or answered 404. With `tls` the one port serves both TLS and plain HTTP (the
first byte of each connection tells which), so a test can reach the same host and port with
either scheme.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

Reply = tuple[int, dict[str, str], bytes]
CLOSE = "close"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass(frozen=True)
class Received:
    scheme: str
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


Responder = Callable[[Received], "Reply | str | None"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: StubServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        tls = self.stub.tls
        if tls is not None:
            request.settimeout(30)
            try:
                first = request.recv(1, socket.MSG_PEEK)
                if first == b"\x16":  # a TLS handshake record
                    request = tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet in test output
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        received = Received(
            scheme,
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        stub = self.server.stub
        with stub.lock:
            stub.requests.append(received)
        answer = stub.reply(received)
        if answer == CLOSE:
            self.close_connection = True
            return
        if answer is None:
            answer = stub.forward(received) if stub.upstream else (404, {}, b"")
        assert not isinstance(answer, str)
        status, headers, payload = answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


class StubServer:
    def __init__(
        self,
        reply: Responder = lambda _request: None,
        *,
        upstream: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.reply = reply
        self.upstream = upstream
        self.tls = tls
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def received(self, method: str, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path == path]

    def forward(self, request: Received) -> Reply:
        assert self.upstream is not None
        parts = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        try:
            headers = {k: v for k, v in request.headers.items() if k not in _HOP_BY_HOP}
            conn.request(request.method, request.path, body=request.body or None, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            return response.status, kept, payload
        finally:
            conn.close()

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=30)
