"""Shared by the benchmarks: the simulator in a subprocess, the SHA-1 ceiling of this CPU,
and rewriting one '## Section' of docs/PERFORMANCE.md while keeping the others."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench", "bench"
HEADER = (
    "# Performance\n\n"
    "Every number here was measured by a script in `benchmarks/`; rerun it to update.\n"
)


class SimulatorProcess:
    """`python -m cl_desktop.simulator` on a free loopback port, with one user."""

    def __init__(self, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "cl_desktop.simulator", "--port", "0",
                "--data-dir", str(data_dir), "--user", f"{USER}:{PASSWORD}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("serving "):
            self.proc.kill()
            raise SystemExit(f"simulator did not start: {line!r}")
        self.url = line.split()[1]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def sha1_seconds(size: int) -> float:
    """Seconds to SHA-1 `size` bytes in memory on one core: the floor under any transfer
    that is hashed on its way (this CPU has no SHA instructions)."""
    block = memoryview(os.urandom(1 << 20))
    digest = hashlib.sha1()
    started = time.perf_counter()
    for _ in range(size >> 20):
        digest.update(block)
    return time.perf_counter() - started


def replace_section(path: Path, title: str, body: str) -> None:
    """Write `body` as the section '## title' of `path` (created if missing)."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    body = body.strip()
    if not body.startswith(f"## {title}\n"):
        body = f"## {title}\n\n{body}"
    section = body + "\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
