"""Start govmomi's vcsim (built by scripts/build-vcsim.sh) as a real HTTPS server.

    with VcsimServer() as vc:
        requests.post(vc.base_url + "/rest/com/vmware/cis/session",
                      auth=(vc.username, vc.password), verify=vc.ca_file)

vcsim serves only the /rest form of the Content Library API (every /api path is 404),
accepts any non-empty user name and password on /rest, and needs a datastore id of the
form ``<local dir>@folder-N`` in a library's storage_backings (``datastore_id``).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from .target import ServerTarget

PROJECT_ROOT = Path(__file__).resolve().parents[3]

_GOVC_URL_RE = re.compile(r"^export GOVC_URL=(\S+)")
_DATASTORE_RE = re.compile(r"^# datastore (\S+) id=(.+)$")


def vcsim_dir() -> Path:
    """The build directory: $CL_VCSIM_DIR, or .vcsim in the project root."""
    env = os.environ.get("CL_VCSIM_DIR")
    return Path(env).resolve() if env else PROJECT_ROOT / ".vcsim"


def vcsim_binary() -> Path | None:
    """The vcsim executable, or None when it has not been built."""
    path = vcsim_dir() / "bin" / "vcsim"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def vcsim_skip_reason() -> str | None:
    """None when vcsim and its TLS certificate are ready, else why vcsim tests cannot run."""
    base = vcsim_dir()
    if vcsim_binary() is None:
        return (
            f"vcsim not built ({base / 'bin' / 'vcsim'} missing): run scripts/build-vcsim.sh "
            "(needs golang-go and golang-github-vmware-govmomi-dev)"
        )
    for name in ("cert.pem", "key.pem"):
        if not (base / name).is_file():
            return f"vcsim TLS {name} missing in {base}: run scripts/build-vcsim.sh"
    return None


class VcsimError(RuntimeError):
    """vcsim did not start (or stop) as expected."""


class VcsimServer:
    """Run vcsim on 127.0.0.1 with a free port and the 2048-bit certificate from the build.

    Each server gets a fresh TMPDIR (where vcsim keeps its datastores and uploaded
    bytes), removed on stop. ``startup_seconds`` tells how long the start took.
    """

    username = "user"
    password = "pass"

    def __init__(
        self,
        *,
        binary: Path | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 20.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.binary = binary or vcsim_binary()
        self.cert = cert or vcsim_dir() / "cert.pem"
        self.key = key or vcsim_dir() / "key.pem"
        self.extra_args = extra_args
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.base_url = ""
        self.govc_url = ""
        self.datastore_name = ""
        self.datastore_id = ""
        self.startup_seconds = 0.0
        self.tmpdir: Path | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._output: deque[str] = deque(maxlen=200)
        self._reader: threading.Thread | None = None

    @property
    def ca_file(self) -> str:
        return str(self.cert)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def output(self) -> str:
        """The last lines vcsim wrote (stdout and stderr)."""
        return "\n".join(self._output)

    def target(self, name: str = "vcsim") -> ServerTarget:
        return ServerTarget(
            name=name,
            base_url=self.base_url,
            username=self.username,
            password=self.password,
            ca_file=self.ca_file,
            dialect="rest",
            datastore_id=self.datastore_id,
            kind="vcsim",
            service=None,
        )

    def start(self) -> VcsimServer:
        if self._proc is not None:
            raise VcsimError("already started")
        if self.binary is None:
            raise VcsimError(vcsim_skip_reason() or "vcsim binary not found")
        started = time.monotonic()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="cl-vcsim-"))
        env = dict(os.environ, TMPDIR=str(self.tmpdir))
        cmd = [
            str(self.binary),
            "-l",
            "127.0.0.1:0",
            "-tlscert",
            str(self.cert),
            "-tlskey",
            str(self.key),
            *self.extra_args,
        ]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=env,
            cwd=self.tmpdir,
        )
        self._reader = threading.Thread(target=self._read_output, name="vcsim-output", daemon=True)
        self._reader.start()
        try:
            self._wait_ready(started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            line = line.rstrip("\n")
            self._output.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _wait_ready(self, deadline: float) -> None:
        while not (self.base_url and self.datastore_id):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise VcsimError(
                    f"vcsim did not report its URL and datastore within "
                    f"{self.startup_timeout:g} s; output:\n{self.output}"
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                assert self._proc is not None
                code = self._proc.wait()
                raise VcsimError(
                    f"vcsim exited with status {code} on start; output:\n{self.output}"
                )
            if m := _GOVC_URL_RE.match(line):
                self.govc_url = m.group(1)
                parts = urlsplit(self.govc_url)
                self.base_url = f"{parts.scheme}://127.0.0.1:{parts.port}"
            elif (m := _DATASTORE_RE.match(line)) and not self.datastore_id:
                self.datastore_name, self.datastore_id = m.group(1), m.group(2)

    def stop(self) -> None:
        """SIGTERM (vcsim then deletes its datastore dirs); SIGKILL after stop_timeout."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=self.stop_timeout)
            self._reader = None
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> VcsimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
