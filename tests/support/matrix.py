"""Tools for the fault matrix (test_matrix.py): a misbehaving HTTP proxy, a simulator run as a
process that can be killed, restarted, frozen and thawed, small tmpfs mounts, and the one
function that checks what every cell must leave behind.

No pytest fixtures here; test_matrix.py builds its environment from these pieces.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import JobSnapshot, JobState
from tests.support.api import active_sessions

DATA_PREFIX = "/cls/data/"  # where the simulator serves upload and download bytes
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
BLOCK = 16 * 1024


# --- the fault proxy ---------------------------------------------------------------------------


@dataclass
class ProxyRule:
    """One armed misbehaviour of the proxy, applied to the next `count` matching requests.

    kind: reset (RST after `after_bytes` body bytes), stall (stop after `after_bytes` and hold
    the connection until released), truncate (close cleanly after `after_bytes`, the promised
    Content-Length unchanged), lengthen (promise and send `extra` bytes more than the server's
    body), flip (invert one byte at `after_bytes` of an upload body), status (answer with
    `status` without asking the server), rename (replace `old` by `new` in JSON answers).
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


class FaultProxy:
    """An HTTP/1.1 proxy in front of a Content Library server that misbehaves on request.

    Clients talk to `base_url`; the proxy keeps the Host header, so the simulator builds its
    data URLs on the proxy's address and the data goes through the proxy too. Each request is
    forwarded on a fresh upstream connection.
    """

    def __init__(self, upstream: str) -> None:
        match = re.fullmatch(r"http://([^:/]+):(\d+)", upstream.rstrip("/"))
        assert match, f"the proxy needs a plain http upstream, not {upstream!r}"
        self.upstream = (match.group(1), int(match.group(2)))
        self.release = threading.Event()  # frees every stalled connection
        self.stalled = threading.Event()  # set when a connection is being held
        self.applied: list[str] = []
        self._rules: list[ProxyRule] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # a short poll: shutdown() waits for it, once per cell
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)  # fmt: skip

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def arm(self, rule: ProxyRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def take(
        self, which: str, predicate: Callable[[ProxyRule], bool] | None = None
    ) -> ProxyRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.which == which and (predicate is None or predicate(rule)):
                    rule.count -= 1  # a negative count never runs out
                    if rule.count == 0:
                        self._rules.remove(rule)
                    self.applied.append(f"{rule.kind}:{which}")
                    return rule
        return None

    def disarm(self) -> None:
        with self._lock:
            self._rules.clear()

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # a head and a small body written apart wait no delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        pass

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
        self.owner.stalled.set()
        self.owner.release.wait(120)
        self._reset()

    def _forward(self) -> None:
        which = self._which()
        owner = self.owner
        status_rule = owner.take(which, lambda r: r.kind == "status")
        length = int(self.headers.get("Content-Length") or 0)
        if status_rule is not None:
            self.rfile.read(length)
            # a plain-text body, as a load balancer or reverse proxy in front of vCenter sends
            body = f"{status_rule.status} from the fault proxy\n".encode()
            self.send_response(status_rule.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        upload_rule = owner.take(
            which, lambda r: r.kind in ("reset", "stall", "flip") and length > r.after_bytes
        ) if which == "upload" else None  # fmt: skip
        upstream = http.client.HTTPConnection(*owner.upstream, timeout=120)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    upstream.putheader(key, value)
            upstream.endheaders()
            sent = 0
            while sent < length:
                block = self.rfile.read(min(BLOCK, length - sent))
                if not block:
                    break
                if upload_rule is not None and sent + len(block) > upload_rule.after_bytes:
                    if upload_rule.kind == "flip":
                        at = upload_rule.after_bytes - sent
                        block = block[:at] + bytes([block[at] ^ 0xFF]) + block[at + 1 :]
                        upload_rule = None
                    else:
                        upstream.send(block[: upload_rule.after_bytes - sent])
                        if upload_rule.kind == "stall":
                            self._hold()
                        else:
                            self._reset()
                        return
                upstream.send(block)
                sent += len(block)
            response = upstream.getresponse()
            self._relay(response, which)
        except OSError:
            self.close_connection = True
        finally:
            upstream.close()

    def _relay(self, response: http.client.HTTPResponse, which: str) -> None:
        owner = self.owner
        body_length = int(response.getheader("Content-Length") or 0)
        rule = owner.take(which, lambda r: r.kind in ("reset", "stall", "truncate", "lengthen")
                          and body_length > r.after_bytes) if which != "api" else None  # fmt: skip
        rename = owner.take(which, lambda r: r.kind == "rename") if which == "api" else None
        payload: bytes | None = None
        if rename is not None:
            payload = response.read()
            payload = payload.replace(rename.old.encode(), rename.new.encode())
            body_length = len(payload)
        promised = body_length + (rule.extra if rule and rule.kind == "lengthen" else 0)
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(promised))
        self.end_headers()
        if payload is not None:
            self.wfile.write(payload)
            return
        cut = rule is not None and rule.kind != "lengthen"
        sent = 0
        while True:
            block = response.read(BLOCK)
            if not block:
                break
            if cut and rule is not None and sent + len(block) > rule.after_bytes:
                self.wfile.write(block[: rule.after_bytes - sent])
                self.wfile.flush()
                if rule.kind == "stall":
                    self._hold()
                elif rule.kind == "reset":
                    self._reset()
                else:  # truncate: a clean close before the promised length
                    self.close_connection = True
                return
            self.wfile.write(block)
            sent += len(block)
        if rule is not None and rule.kind == "lengthen":
            self.wfile.write(b"\x00" * rule.extra)


# --- the simulator as a process -----------------------------------------------------------------


class SimProcess:
    """`python -m cl_desktop.simulator` on a fixed data dir: kill -9 it, start it again on the
    same port, freeze (SIGSTOP) and thaw (SIGCONT) it."""

    def __init__(self, data_dir: Path, dialect: str, users: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.dialect = "both" if dialect == "api" else "rest"
        self.users = users
        self.port = 0
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> SimProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "cl_desktop.simulator", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--dialect", self.dialect, "--control-api",
                *(f"--user={u}:{p}" for u, p in self.users.items())]  # fmt: skip
        for _ in range(20):  # the old port may still be held for a moment after a kill
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True)  # fmt: skip
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.startswith("serving "):
                self._proc = proc
                self.base_url = line.split()[1].rstrip("/")
                self.port = int(self.base_url.rsplit(":", 1)[1])
                return self
            proc.wait(10)
            stderr = proc.stderr.read() if proc.stderr else ""
            if "cannot bind" not in stderr:
                raise RuntimeError(f"the simulator did not start: {stderr}")
            threading.Event().wait(0.2)  # the kernel frees the port on its own schedule
        raise RuntimeError(f"port {self.port} stayed busy")

    def kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait(10)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()

    def freeze(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def faults(self, **body: Any) -> None:
        """Arm faults over the control API (POST /_sim/faults, with a login of its own)."""
        user, password = next(iter(self.users.items()))
        http = requests.Session()
        http.trust_env = False
        with http:
            login = http.post(self.base_url + "/rest/com/vmware/cis/session",
                              auth=(user, password), timeout=10)  # fmt: skip
            login.raise_for_status()
            http.headers["vmware-api-session-id"] = login.json()["value"]
            http.post(self.base_url + "/_sim/faults", json=body, timeout=10).raise_for_status()
            http.delete(self.base_url + "/rest/com/vmware/cis/session", timeout=10)

    def stop(self) -> None:
        self.thaw()
        self.kill()


# --- small file systems ---------------------------------------------------------------------------


@contextmanager
def tmpfs(path: Path, size: int, read_only: bool = False) -> Iterator[Path | None]:
    """A tmpfs of `size` bytes at `path` (root only); None when it cannot be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = (
        shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True,
            timeout=30,
        ).returncode
        == 0
    )
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


# --- the invariants every cell checks ---------------------------------------------------------


@dataclass
class Leftovers:
    """What a cell's job may have touched, for `check_invariants`."""

    sources: dict[str, bytes]  # file name -> the bytes that must be on the other side
    library_id: str
    items_before: set[str]
    dest: Path | None = None  # downloads: the folder written into
    resumable: bool = False  # the job may be continued (paused/queued/failed-resumable)
    extra_ok: set[str] = field(default_factory=set)  # names a download may add (none by default)


_CLASS_NAME = re.compile(r"\b(?:[a-z_]+\.)+[A-Z]\w+|\b[A-Z][A-Za-z]*(?:Error|Exception)\b")


def check_message(job: JobSnapshot, reason: str) -> None:
    """A failed job's message is for a person: not empty, no traceback, no class names, and it
    names the reason (a regular expression)."""
    text = f"{job.error_title}: {job.error_message}"
    assert job.error_message.strip(), f"job {job.id} failed with an empty message"
    assert "Traceback" not in text and 'File "' not in text, text
    assert not _CLASS_NAME.search(job.error_message), f"a class name in {text!r}"
    assert job.error_title != "Internal error", f"an engine bug, not a reason: {text!r}"
    assert re.search(reason, text, re.IGNORECASE), f"{text!r} does not say /{reason}/"


def check_invariants(admin: ContentLibraryClient, job: JobSnapshot, left: Leftovers) -> None:
    """What no cell may leave behind, whatever its outcome."""
    # 1. no session of ours still ACTIVE on the server
    assert active_sessions(admin) == [], f"ACTIVE sessions left by job {job.id}"
    # 2. no empty item created by the job; an item the job filled holds only good bytes
    for item_id in set(admin.items.list(left.library_id)) - left.items_before:
        files = admin.item_files.list(item_id)
        assert files, f"job {job.id} left the empty item {item_id}"
        for f in files:
            if f.name in left.sources and f.checksum_info and f.checksum_info.checksum:
                algorithm = f.checksum_info.effective_algorithm.hashlib_name
                ours = hashlib.new(algorithm, left.sources[f.name]).hexdigest()
                assert f.checksum_info.checksum.lower() == ours, (
                    f"the server holds a corrupt {f.name} under its final name"
                )
    if left.dest is not None and left.dest.exists():
        for entry in os.listdir(left.dest):
            path = left.dest / entry
            if entry.endswith(".part"):
                # 3. a .part only with a job that will continue from it
                assert left.resumable and job.state is not JobState.DONE, (
                    f"{entry} left behind by job {job.id} ({job.state.value}), nothing resumes it"
                )
                continue
            # 4. a final name holds exactly the server's bytes
            assert entry in left.sources or entry in left.extra_ok, f"unexpected file {entry}"
            if entry in left.sources:
                assert path.read_bytes() == left.sources[entry], f"{entry} is corrupt or partial"
