"""A misbehaving HTTP/1.1 proxy in front of a Content Library server, for the engine's fault
tests and the fault matrix: it records what the client sends and spoils what it gets back.

Clients talk to `base_url`; the proxy keeps the Host header, so the simulator builds its data
URLs on the proxy's address and data GETs/PUTs go through the proxy too. Each request is
forwarded on a fresh upstream connection, data streamed in blocks.

Two ways to ask for a fault, for two kinds of test:

- Armed rules (`arm(ProxyRule(...))`, `disarm()`): a misbehaviour for the next `count`
  matching requests, recorded in `applied` when it strikes (the fault matrix).
- Attributes that hold until changed (the engine's fault tests):
  `stall_after` (every data GET sends this many bytes, then nothing), `stall_upload_after` (a
  data PUT is read this far, never forwarded, then no more; small socket buffers),
  `drop_after` (the next data GET closes cleanly after this many bytes), `drop_every` (every
  data GET does), `body` (turns a whole 200 download into the body to send, with a matching
  Content-Length: too short, too long, a changed byte), `fail` ((method, path, query) -> an
  HTTP status answered with a JSON error instead of forwarding), `rewrite` ((path, JSON
  bytes) -> JSON bytes of API answers).

Records: `data_bytes` (body bytes of data GETs sent to the client), `ranges` (their Range
headers), `calls` ((method, path, query, JSON body) of every API call), `keep_alives()`.
`go_down()`/`come_back()` refuse connections for a while; `release` frees held connections.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA_PREFIX = "/cls/data/"  # where the simulator serves upload and download bytes
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
BLOCK = 64 * 1024
UNAVAILABLE = b'{"error_type": "SERVICE_UNAVAILABLE"}'  # the body of a `fail` answer
HOLD_SECONDS = 120  # a held connection waits this long at most for `release`


@dataclass
class ProxyRule:
    """One armed misbehaviour of the proxy, applied to the next `count` matching requests
    (a negative count never runs out).

    kind: reset (RST after `after_bytes` body bytes), stall (stop after `after_bytes` and hold
    the connection until released), truncate (close cleanly after `after_bytes`, the promised
    Content-Length unchanged), lengthen (promise and send `extra` bytes more than the server's
    body), flip (invert one byte at `after_bytes` of an upload body), status (answer with
    `status` and a plain-text body, as a load balancer does, without asking the server),
    rename (replace `old` by `new` in JSON answers).
    which: upload (data PUT), download (data GET), api (everything else).
    """

    kind: str
    which: str
    after_bytes: int = 0
    count: int = 1
    status: int = 503
    extra: int = 0
    old: str = ""
    new: str = ""


@dataclass
class _Cut:
    """Where a response body ends early, and how: reset, stall or truncate."""

    after_bytes: int
    how: str


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        assert parts.scheme == "http", f"the proxy needs a plain http upstream, not {upstream!r}"
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.lock = threading.Lock()
        self.release = threading.Event()  # frees every held connection
        self.stalled = threading.Event()  # set when a connection is being held
        self.applied: list[str] = []
        self._rules: list[ProxyRule] = []
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
        self.connections: set[socket.socket] = set()  # cut by go_down()
        self._server = self._listen(0)
        self._thread = self._serving_thread()

    def _listen(self, port: int) -> ThreadingHTTPServer:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        return server

    def _serving_thread(self) -> threading.Thread:
        # a short poll: shutdown() waits for it, once per matrix cell
        return threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    # --- armed rules

    def arm(self, rule: ProxyRule) -> None:
        with self.lock:
            self._rules.append(rule)

    def take(
        self, which: str, predicate: Callable[[ProxyRule], bool] | None = None
    ) -> ProxyRule | None:
        """The first armed rule for `which` that `predicate` accepts, used up by one."""
        with self.lock:
            for rule in self._rules:
                if rule.which == which and (predicate is None or predicate(rule)):
                    rule.count -= 1
                    if rule.count == 0:
                        self._rules.remove(rule)
                    self.applied.append(f"{rule.kind}:{which}")
                    return rule
        return None

    def disarm(self) -> None:
        with self.lock:
            self._rules.clear()

    # --- records

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

    # --- going away

    def go_down(self) -> None:
        """Stop listening and cut open connections: every connection is refused until
        `come_back()`."""
        self._stop_serving()
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
                self._server = self._listen(port)
                break
            except OSError:
                threading.Event().wait(0.1)
        else:
            raise AssertionError(f"port {port} could not be bound again")
        self._thread = self._serving_thread()
        self._thread.start()

    def _stop_serving(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._stop_serving()


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a head and a small body written apart wait no delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        if self.owner.stall_upload_after is not None:  # a stalled reader holds little
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        super().setup()
        with self.owner.lock:
            self.owner.connections.add(self.connection)

    def finish(self) -> None:
        with self.owner.lock:
            self.owner.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._forward()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _which(self) -> str:
        if self.path.startswith(DATA_PREFIX):
            return "upload" if self.command in ("PUT", "POST") else "download"
        return "api"

    def _reset(self) -> None:
        """Close with RST, as a crashed peer or a middlebox does."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _hold(self) -> None:
        """Send and read nothing more: the client must give up by itself."""
        self.owner.stalled.set()
        self.owner.release.wait(HOLD_SECONDS)
        self._reset()

    def _answer(self, status: int, content: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def _forward(self) -> None:
        which, owner = self._which(), self.owner
        length = int(self.headers.get("Content-Length") or 0)
        if which == "upload" and owner.stall_upload_after is not None:
            self.rfile.read(min(length, owner.stall_upload_after))
            return self._hold()
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        body = self.rfile.read(length) if which == "api" else None  # API bodies are small
        if body is not None:
            with owner.lock:
                owner.calls.append((self.command, parts.path, query, _json_or_none(body)))
        status_rule = owner.take(which, lambda r: r.kind == "status")
        if status_rule is not None:
            if body is None:
                self.rfile.read(length)
            # a plain-text body, as a load balancer or reverse proxy in front of vCenter sends
            text = f"{status_rule.status} from the fault proxy\n".encode()
            return self._answer(status_rule.status, text, "text/plain")
        status = owner.fail(self.command, parts.path, query) if owner.fail else None
        if status is not None:
            if body is None:
                self.rfile.read(length)
            return self._answer(status, UNAVAILABLE, "application/json")
        upstream = http.client.HTTPConnection(*owner.upstream, timeout=HOLD_SECONDS)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    upstream.putheader(key, value)
            upstream.endheaders()
            if body is not None:
                upstream.send(body)
            elif not self._send_upload(upstream, which, length):
                return
            if which == "download" and self.command == "GET":
                with owner.lock:
                    owner.ranges.append(self.headers.get("Range"))
            self._relay(upstream.getresponse(), which, parts.path)
        except OSError:
            self.close_connection = True
        finally:
            upstream.close()

    def _send_upload(self, upstream: http.client.HTTPConnection, which: str, length: int) -> bool:
        """Stream the request body upstream, spoiled by an armed upload rule; False when the
        rule ended the exchange."""
        rule = self.owner.take(
            which, lambda r: r.kind in ("reset", "stall", "flip") and length > r.after_bytes
        ) if which == "upload" else None  # fmt: skip
        sent = 0
        while sent < length:
            block = self.rfile.read(min(BLOCK, length - sent))
            if not block:
                break
            if rule is not None and sent + len(block) > rule.after_bytes:
                if rule.kind == "flip":
                    at = rule.after_bytes - sent
                    block = block[:at] + bytes([block[at] ^ 0xFF]) + block[at + 1 :]
                    rule = None
                else:
                    upstream.send(block[: rule.after_bytes - sent])
                    if rule.kind == "stall":
                        self._hold()
                    else:
                        self._reset()
                    return False
            upstream.send(block)
            sent += len(block)
        return True

    def _relay(self, response: http.client.HTTPResponse, which: str, path: str) -> None:
        owner = self.owner
        body_length = int(response.getheader("Content-Length") or 0)
        rule = owner.take(which, lambda r: r.kind in ("reset", "stall", "truncate", "lengthen")
                          and body_length > r.after_bytes) if which != "api" else None  # fmt: skip
        payload: bytes | None = None
        if which == "api":
            rename = owner.take(which, lambda r: r.kind == "rename")
            if rename is not None or owner.rewrite is not None:
                payload = response.read()
                if rename is not None:
                    payload = payload.replace(rename.old.encode(), rename.new.encode())
                if owner.rewrite is not None and payload:
                    payload = owner.rewrite(path, payload)
        elif which == "download" and owner.body is not None and response.status == 200:
            payload = owner.body(response.read())
        if payload is not None:
            body_length = len(payload)
        extra = rule.extra if rule is not None and rule.kind == "lengthen" else 0
        cut = _Cut(rule.after_bytes, rule.kind) if rule is not None and not extra else None
        if which == "download" and cut is None:
            cut = self._download_cut()
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(body_length + extra))
        self.end_headers()
        self._send_body(response, payload, which == "download", cut)
        if extra:
            self.wfile.write(b"\x00" * extra)

    def _download_cut(self) -> _Cut | None:
        """What the attributes ask of this data GET: `stall_after`, else `drop_every`, else the
        one-time `drop_after`."""
        owner = self.owner
        with owner.lock:
            once, owner.drop_after = owner.drop_after, None
        if owner.stall_after is not None:
            return _Cut(owner.stall_after, "stall")
        after = owner.drop_every if owner.drop_every is not None else once
        return _Cut(after, "truncate") if after is not None else None

    def _send_body(
        self,
        response: http.client.HTTPResponse,
        payload: bytes | None,
        counted: bool,
        cut: _Cut | None,
    ) -> None:
        """Send the body (`payload` when given, else streamed from `response`), ending where
        `cut` says; a body shorter than the cut still ends that way."""
        sent, offset = 0, 0
        while True:
            if payload is None:
                block = response.read(BLOCK)
            else:
                block, offset = payload[offset : offset + BLOCK], offset + BLOCK
            if not block:
                break
            if cut is not None:
                block = block[: max(0, cut.after_bytes - sent)]
            if block:
                self.wfile.write(block)
                sent += len(block)
                if counted:
                    with self.owner.lock:
                        self.owner.data_bytes += len(block)
            if cut is not None and sent >= cut.after_bytes:
                break
        if cut is None:
            return
        self.wfile.flush()
        if cut.how == "stall":
            self._hold()
        elif cut.how == "reset":
            self._reset()
        else:  # truncate: a clean close, short of the promised length
            self.close_connection = True


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
