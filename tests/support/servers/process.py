"""The simulator as a user runs it, `python -m cl_desktop.simulator` in a subprocess; for the GUI
tests and the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.accounts import SIM_PASSWORD, SIM_USER

ROOT = Path(__file__).resolve().parents[3]


class SimulatorProcess:
    """`python -m cl_desktop.simulator` in a subprocess with one user (admin/secret unless
    given) that can be stopped and started again on the same port and data, as a restarted
    vCenter is."""

    def __init__(self, data_dir: Path, user: str = SIM_USER, password: str = SIM_PASSWORD) -> None:
        self.data_dir = data_dir
        self.user, self.password = user, password
        self.port = 0
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> SimulatorProcess:
        self._proc = proc = subprocess.Popen(
            [
                sys.executable, "-m", "cl_desktop.simulator", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--user", f"{self.user}:{self.password}",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(30)
        if not line or not line[0].startswith("serving "):
            self.stop()
            raise AssertionError(f"the simulator did not start: {line}")
        self.url = line[0].split()[1]
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()
