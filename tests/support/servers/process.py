"""The simulator as a user runs it, `python -m cl_desktop.simulator` in a subprocess; for the
tests that restart, kill or freeze a server, and for the benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import requests

from tests.support.accounts import USERS

ROOT = Path(__file__).resolve().parents[3]
START_SECONDS = 30  # the most a start may take to print its "serving" line


class SimulatorProcess:
    """`python -m cl_desktop.simulator` on a data dir, with `users` (admin/secret unless given).

    Once started it keeps its port: `stop()` (SIGTERM, as a restarted vCenter) or `kill()`
    (SIGKILL, as a crashed one) and `start()` again on the same port and data; `freeze()`
    (SIGSTOP) and `thaw()` (SIGCONT) as a hung one. `faults(...)` arms the simulator's own
    faults over its control API, served with `control_api=True`.
    """

    def __init__(
        self,
        data_dir: Path,
        users: dict[str, str] | None = None,
        *,
        dialect: str = "both",
        control_api: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.users = dict(users or USERS)
        self.dialect = dialect
        self.control_api = control_api
        self.port = 0
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> SimulatorProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(50):  # a killed server's port may still be held for a moment
            line, errors = self._spawn()
            if line.startswith("serving "):
                self.base_url = line.split()[1].rstrip("/")
                self.port = int(self.base_url.rsplit(":", 1)[1])
                return self
            if "cannot bind" not in errors:
                raise RuntimeError(f"the simulator did not start: {errors or line!r}")
            threading.Event().wait(0.1)  # the kernel frees the port on its own schedule
        raise RuntimeError(f"port {self.port} stayed busy")

    def _spawn(self) -> tuple[str, str]:
        """Start the process; its first line, and what it wrote to stderr if that line is not
        "serving ..." (the process is then gone)."""
        args = [sys.executable, "-m", "cl_desktop.simulator", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--dialect", self.dialect,
                *(f"--user={user}:{password}" for user, password in self.users.items()),
                *(["--control-api"] if self.control_api else [])]  # fmt: skip
        # stderr goes to a file: a pipe no one reads would block a server that logs
        with tempfile.TemporaryFile("w+") as errors:
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            stdout = proc.stdout
            assert stdout is not None
            line: list[str] = []
            reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
            reader.start()
            reader.join(START_SECONDS)
            if line and line[0].startswith("serving "):
                self._proc = proc
                return line[0], ""
            self._end(proc, signal.SIGKILL)
            errors.seek(0)
            return (line[0] if line else ""), errors.read()

    def stop(self) -> None:
        """SIGTERM (a frozen process is thawed first), SIGKILL if it does not end in time."""
        self.thaw()
        proc, self._proc = self._proc, None
        if proc is not None:
            self._end(proc, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is written on the way out."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._end(proc, signal.SIGKILL)

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

    @staticmethod
    def _end(proc: subprocess.Popen[str], how: signal.Signals) -> None:
        if proc.poll() is None:
            proc.send_signal(how)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()
