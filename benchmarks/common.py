"""Shared by the benchmarks: the simulator in a subprocess (the tests' launcher), the SHA-1
ceiling of this CPU, and rewriting one '## Section' of docs/PERFORMANCE.md, keeping the others."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The benchmarks share the tests' launcher and file generator (tests.support).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.files import make_file  # noqa: E402
from tests.support.servers.process import SimulatorProcess as TestSimulatorProcess  # noqa: E402

__all__ = ["PASSWORD", "USER", "SimulatorProcess", "make_file", "replace_section", "sha1_seconds"]
USER, PASSWORD = "bench", "bench"
HEADER = (
    "# Performance\n\n"
    "Every number here was measured by a script in `benchmarks/`; rerun it to update.\n"
)


class SimulatorProcess(TestSimulatorProcess):
    """`python -m cl_desktop.simulator` on a free loopback port, with the benchmark user."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, {USER: PASSWORD})
        self.start()


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
