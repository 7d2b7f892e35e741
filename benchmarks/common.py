"""Shared by the benchmarks: the simulator in a subprocess (the tests' launcher), the SHA-1
ceiling of this CPU, and rewriting one '## Section' of docs/PERFORMANCE.md, keeping the others."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The benchmarks share the tests' launcher and file generator (tests.support).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.files import make_file  # noqa: E402
from tests.support.servers.process import SimulatorProcess as TestSimulatorProcess  # noqa: E402

__all__ = [
    "PASSWORD",
    "USER",
    "IdleGate",
    "SimulatorProcess",
    "cpu_idle",
    "make_file",
    "replace_section",
    "sha1_seconds",
    "write_results",
]
USER, PASSWORD = "bench", "bench"
RESULTS = ROOT / "benchmarks" / "results"
HEADER = (
    "# Performance\n\n"
    "Every number here was measured by a script in `benchmarks/`; rerun it to update.\n"
)


class SimulatorProcess(TestSimulatorProcess):
    """`python -m cl_desktop.simulator` on a free loopback port, with the benchmark user."""

    def __init__(self, data_dir: Path, control_api: bool = False) -> None:
        super().__init__(data_dir, {USER: PASSWORD}, control_api=control_api)
        self.start()


def sha1_seconds(size: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds to SHA-1 `size` bytes in memory on one core: the floor under any transfer
    that is hashed on its way (this CPU has no SHA instructions). `clock`: wall time, or
    `time.process_time` for CPU-seconds."""
    block = memoryview(os.urandom(1 << 20))
    digest = hashlib.sha1()
    started = clock()
    for _ in range(size >> 20):
        digest.update(block)
    return clock() - started


def replace_section(path: Path, title: str, body: str, first: bool = False) -> None:
    """Write `body` as the section '## title' of `path` (created if missing): in place if it is
    there, else at the end, or before the other sections with `first`."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    body = body.strip()
    if not body.startswith(f"## {title}\n"):
        body = f"## {title}\n\n{body}"
    section = body + "\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1).rstrip() + "\n"
    elif first and (other := re.search(r"^## ", text, re.M)):
        text = text[: other.start()] + section + "\n" + text[other.start() :]
    else:
        text = text.rstrip() + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def cpu_idle(seconds: float = 0.5) -> float:
    """Fraction of CPU time the whole box spent idle over ``seconds``."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return (idle1 - idle0) / max(1, total1 - total0)


class IdleGate:
    """Waits (up to ``max_wait`` s) for the box to be idle before each run, since
    other people's processes share these 2 vCPUs; counts runs that started busy."""

    def __init__(self, max_wait: float, threshold: float = 0.85) -> None:
        self.max_wait = max_wait
        self.threshold = threshold
        self.busy_starts = 0

    def wait(self) -> None:
        if self.max_wait <= 0 or not Path("/proc/stat").exists():
            return
        deadline = time.monotonic() + self.max_wait
        while cpu_idle() < self.threshold:
            if time.monotonic() > deadline:
                self.busy_starts += 1
                print("  (box still busy; running anyway)", file=sys.stderr)
                return


def write_results(name: str, rows: list[dict[str, Any]]) -> None:
    """benchmarks/results/<name>.json = {"rows": rows}, for run_all.py's summary. A row:
    measure, value (the median), unit, goal, ceiling, met, before; optionally min, max, runs."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"rows": rows}, indent=2, ensure_ascii=False)
    (RESULTS / f"{name}.json").write_text(text + "\n", encoding="utf-8")
