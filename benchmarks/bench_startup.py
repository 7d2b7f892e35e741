"""Benchmark cl-transfer's start-up: `--help`, `--version` and `history` on an empty job store,
each the whole command as a user runs it, beside the interpreter's own start (`python -c pass`,
the floor no command can go under).

    python benchmarks/bench_startup.py [--runs 21] [--quick] [--write docs/PERFORMANCE.md]

With bytecode caches (PYTHONDONTWRITEBYTECODE unset, two warm-up runs of each command first),
the code of this checkout (PYTHONPATH), stdout to /dev/null. Each round waits for an idle CPU,
then runs the peer and the commands once each, in an order that alternates between rounds.
Prints a Markdown table; `--write FILE` replaces its `## Start-up` section; the goal rows go to
benchmarks/results/bench_startup.json (run_all.py's summary). `run()` is the same for callers.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, IdleGate, replace_section, write_results

GOAL_MS, MOONSHOT_MS = 150.0, 80.0
# Measured before issue 12 (the issue: 0.3 s for --help, of which 0.22 s importing).
BEFORE = "300 ms (issue 12)"


PEER = "python -c pass"


def cli_args(store: Path) -> dict[str, list[str]]:
    """The commands timed, by label: their arguments."""
    server = ["--server", "https://vc.example", "--user", "bench", "--queue-db", str(store)]
    return {
        "cl-transfer --help": ["--help"],
        "cl-transfer --version": ["--version"],
        "cl-transfer history (empty job store)": [*server, "history"],
    }


def cli_command() -> list[str]:
    """cl-transfer as installed (the console script) when it is, else `python -m`."""
    script = Path(sys.executable).with_name("cl-transfer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cl_desktop.cli"]


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["CL_DESKTOP_DATA_DIR"] = str(data_dir)  # never the user's own store
    return env


def wall_ms(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return (time.perf_counter() - started) * 1000


def import_ms(args: list[str], env: dict[str, str]) -> float:
    """What `python -X importtime` gives all imports of one run (its top-level entries), ms."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "cl_desktop.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    total = 0
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):
                total += int(cumulative)
    return total / 1000


def measure(runs: int, gate: IdleGate) -> tuple[dict[str, list[float]], dict[str, float]]:
    """({label: wall ms per run}, {label: import ms of one run})."""
    with tempfile.TemporaryDirectory(prefix="cl-bench-startup-") as tmp:
        env = environment(Path(tmp) / "data")
        args = cli_args(Path(tmp) / "queue.sqlite")
        timed = {PEER: [sys.executable, "-c", "pass"]}
        timed |= {label: [*cli_command(), *a] for label, a in args.items()}
        for command in timed.values():  # bytecode caches written, files in the page cache
            for _ in range(2):
                wall_ms(command, env)
        samples: dict[str, list[float]] = {label: [] for label in timed}
        order = list(timed)
        for run in range(runs):
            gate.wait()
            for label in order if run % 2 == 0 else reversed(order):
                samples[label].append(wall_ms(timed[label], env))
        imports = {label: import_ms(a, env) for label, a in args.items()}
    return samples, imports


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"


def goal_rows(samples: dict[str, list[float]], floor: float) -> list[dict[str, Any]]:
    rows = []
    for label, values in samples.items():
        if label == PEER:
            continue
        median = statistics.median(values)
        rows.append(
            {
                "measure": f"`{label}`, wall time",
                "value": median,
                "unit": "ms",
                "goal": f"< {GOAL_MS:.0f} ms (moonshot < {MOONSHOT_MS:.0f} ms)",
                "ceiling": f"python -c pass: {floor:.0f} ms",
                "met": median < GOAL_MS,
                "before": BEFORE if "history" not in label else None,
                "min": min(values),
                "max": max(values),
                "runs": len(values),
            }
        )
    return rows


def report(samples: dict[str, list[float]], imports: dict[str, float], gate: IdleGate) -> str:
    runs = len(next(iter(samples.values())))
    lines = [
        f"`benchmarks/bench_startup.py` ({time.strftime('%Y-%m-%d')}): Python "
        f"{platform.python_version()}, {os.cpu_count()} vCPUs (shared; each round waited for "
        f">= 85% idle CPU, {gate.busy_starts} started busy anyway), bytecode caches warm, "
        f"wall time of the whole process, median [min-max] of {runs} rounds, ms. Before issue "
        "12, `--help` took about 300 ms, 220 of them importing (requests, the engine, the "
        "keyring's dependencies); now each command imports what it uses.",
        "",
        "| command | wall ms | importing ms (`-X importtime`, one run) | goal |",
        "|---|---|---|---|",
    ]
    for label, values in samples.items():
        goal = f"< {GOAL_MS:.0f} (moonshot < {MOONSHOT_MS:.0f})" if label in imports else "floor"
        imported = f"{imports[label]:.0f}" if label in imports else ""
        lines.append(f"| `{label}` | {summary(values)} | {imported} | {goal} |")
    lines += [
        "",
        "`tests/transfers/test_cli_startup.py` keeps it so: `--help` and `--version` load "
        "neither requests, ssl, sqlite3, the keyring, cryptography nor the transfer engine; "
        "`history` loads sqlite3 and the job store only.",
    ]
    return "\n".join(lines)


def run(quick: bool = False, write: Path | None = None, runs: int | None = None) -> list[dict]:
    """Measure, print, write the results file (and the section of `write`); the goal rows."""
    gate = IdleGate(max_wait=5 if quick else 30)
    samples, imports = measure(runs or (7 if quick else 21), gate)
    text = report(samples, imports, gate)
    print(text)
    rows = goal_rows(samples, statistics.median(samples[PEER]))
    write_results("bench_startup", rows)
    if write:
        replace_section(write, "Start-up", text)
        print(f"\nwrote the Start-up section of {write}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="rounds (default 21, --quick 7)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter idle waits")
    parser.add_argument("--write", type=Path, metavar="FILE", help="replace '## Start-up' in FILE")
    args = parser.parse_args()
    run(args.quick, args.write, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
