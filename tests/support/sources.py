"""Web servers for PULL tests: a folder served over http or https on loopback, and a source
that sends a few bytes and then hangs (until the test releases it).

    with serve_folder(tmp_path / "www") as base:             # "http://127.0.0.1:PORT/"
    with serve_folder(folder, tls=served) as base:           # https with a test certificate
    with hanging_source(b"x" * 1000, declared=10_000) as h:  # h.url; h.release() ends it
"""

from __future__ import annotations

import functools
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.tls import ServedCert


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(server: ThreadingHTTPServer, tls: ServedCert | None) -> str:
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls.cert), str(tls.key))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, name="test-source", daemon=True).start()
    scheme = "https" if tls is not None else "http"
    return f"{scheme}://127.0.0.1:{server.server_address[1]}/"


@contextmanager
def serve_folder(folder: Path, tls: ServedCert | None = None) -> Iterator[str]:
    """Serve `folder` (a plain http.server) on 127.0.0.1; yields the base URL, ending in /."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    try:
        yield _serve(server, tls)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class HangingSource:
    url: str
    released: threading.Event = field(default_factory=threading.Event)
    requests: list[str] = field(default_factory=list)
    sent: threading.Event = field(default_factory=threading.Event)  # the prefix went out

    def release(self) -> None:
        self.released.set()


@contextmanager
def hanging_source(
    prefix: bytes,
    declared: int,
    name: str = "slow.iso",
    timeout: float = 60.0,
    rest: bytes = b"",
) -> Iterator[HangingSource]:
    """A source that answers 200 with Content-Length `declared`, sends `prefix`, then nothing
    until released (or `timeout`), then `rest`, and closes: a stalled web server (that
    recovers, with a `rest`)."""
    holder: list[HangingSource] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            source = holder[0]
            source.requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(declared))
            self.end_headers()
            self.wfile.write(prefix)
            self.wfile.flush()
            source.sent.set()
            source.released.wait(timeout)
            try:
                self.wfile.write(rest)
            except OSError:
                pass  # the client gave up meanwhile
            self.close_connection = True

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(declared))
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    source = HangingSource(_serve(server, None) + name)
    holder.append(source)
    try:
        yield source
    finally:
        source.release()
        server.shutdown()
        server.server_close()
