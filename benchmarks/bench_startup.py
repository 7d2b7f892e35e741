"""Benchmark cl-transfer's start-up: `--help`, `--version` and `history` on an empty job store,
each the whole command as a user runs it, beside the interpreter's own start (`python -c pass`,
the floor no command can go under).

    python benchmarks/bench_startup.py [--runs 21] [--quick] [--before REV|none] [--write FILE]

With bytecode caches (PYTHONDONTWRITEBYTECODE unset, two warm-up runs of each command first),
the code of this checkout (PYTHONPATH), stdout to /dev/null. Each round waits for an idle CPU,
then runs every command once, in an order that alternates between rounds. `--before REV` also
times the same commands of git revision REV (extracted to a temporary folder) in the same
rounds: the "before" of the summary (default: the last commit before issue 12's work).
Prints a Markdown table; `--write FILE` replaces its `## Start-up` section; the goal rows go to
benchmarks/results/bench_startup.json (run_all.py's summary). `run()` does the same for a
caller.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, IdleGate, replace_section, write_results

GOAL_MS, MOONSHOT_MS = 150.0, 80.0
PEER = "python -c pass"
ISSUE_BEFORE = "300 ms (issue 12, --help)"  # when no --before revision is timed
BEFORE_REV = "81767f9"  # the last commit before issue 12's work: the default --before


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


def environment(code: Path, data_dir: Path) -> dict[str, str]:
    """Bytecode caches allowed, the cl_desktop of `code` first, a data dir of its own."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    env["CL_DESKTOP_DATA_DIR"] = str(data_dir)  # never the user's own store
    return env


def extract(revision: str, folder: Path) -> Path:
    """cl_desktop/ of git revision `revision`, written under `folder`."""
    archive = folder / "before.tar"
    subprocess.run(
        ["git", "archive", "-o", str(archive), revision, "cl_desktop"], cwd=ROOT, check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "before", filter="data")
    return folder / "before"


def wall_ms(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return (time.perf_counter() - started) * 1000


def measure(runs: int, gate: IdleGate, before: str | None) -> dict[str, list[float]]:
    """{label: wall ms of each round}; labels of the `before` revision start with 'before: '."""
    with tempfile.TemporaryDirectory(prefix="cl-bench-startup-") as tmp:
        folder = Path(tmp)
        args = cli_args(folder / "queue.sqlite")
        now_env = environment(ROOT, folder / "data")
        timed = {PEER: ([sys.executable, "-c", "pass"], now_env)}
        timed |= {label: ([*cli_command(), *a], now_env) for label, a in args.items()}
        if before:
            code = extract(before, folder)
            old_env = environment(code, folder / "data-before")
            for label, a in cli_args(folder / "queue-before.sqlite").items():
                if "--version" not in label:  # it had none
                    timed[f"before: {label}"] = ([*cli_command(), *a], old_env)
        for command, env in timed.values():  # bytecode caches written, files in the page cache
            for _ in range(2):
                wall_ms(command, env)
        samples: dict[str, list[float]] = {label: [] for label in timed}
        order = list(timed)
        for run in range(runs):
            gate.wait()
            for label in order if run % 2 == 0 else reversed(order):
                samples[label].append(wall_ms(*timed[label]))
    return samples


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"


def goal_rows(samples: dict[str, list[float]], before: str | None) -> list[dict[str, Any]]:
    floor = statistics.median(samples[PEER])
    rows = []
    for label, values in samples.items():
        if label == PEER or label.startswith("before: "):
            continue
        median = statistics.median(values)
        old = samples.get(f"before: {label}")
        if old:
            was = f"{summary(old)} ms ({before})"
        else:
            was = ISSUE_BEFORE if "--help" in label else None
        rows.append(
            {
                "measure": f"`{label}`, wall time",
                "value": median,
                "unit": "ms",
                "goal": f"< {GOAL_MS:.0f} ms (moonshot < {MOONSHOT_MS:.0f} ms)",
                "ceiling": f"python -c pass: {floor:.0f} ms",
                "met": median < GOAL_MS,
                "before": was,
                "min": min(values),
                "max": max(values),
                "runs": len(values),
            }
        )
    return rows


def report(samples: dict[str, list[float]], gate: IdleGate, before: str | None) -> str:
    runs = len(samples[PEER])
    floor = statistics.median(samples[PEER])
    was = f"; `before:` rows are revision {before} in the same rounds" if before else ""
    lines = [
        f"`benchmarks/bench_startup.py` ({time.strftime('%Y-%m-%d')}): Python "
        f"{platform.python_version()}, {os.cpu_count()} vCPUs (shared; each round waited for "
        f">= 85% idle CPU, {gate.busy_starts} started busy anyway), bytecode caches warm, "
        f"wall time of the whole process, median [min-max] of {runs} rounds, ms{was}.",
        "",
        "| command | wall ms | above `python -c pass` | goal |",
        "|---|---|---|---|",
    ]
    for label, values in samples.items():
        above = "" if label == PEER else f"{statistics.median(values) - floor:.0f}"
        goal = "" if label == PEER or label.startswith("before: ") else f"< {GOAL_MS:.0f}"
        lines.append(f"| `{label}` | {summary(values)} | {above} | {goal} |")
    lines += [
        "",
        "Before, `--help` imported requests, urllib3, ssl, the client, the transfer engine and "
        "the trust store's cryptography: `python -X importtime` put 0.22 s of its 0.3 s in "
        "importing. Now the parser needs only the job model's words, the `api` package imports "
        "its client at first use, and each command imports the engine, the job store (sqlite3) "
        "or the trust store where it first needs them. `tests/transfers/test_cli_startup.py` "
        "keeps it so: `--help` and `--version` load none of them, `history` only sqlite3 and "
        "the job store.",
    ]
    return "\n".join(lines)


def run(
    quick: bool = False,
    write: Path | None = None,
    runs: int | None = None,
    before: str | None = None,
) -> list[dict[str, Any]]:
    """Measure, print, write the results file (and the section of `write`); the goal rows."""
    gate = IdleGate(max_wait=5 if quick else 30)
    samples = measure(runs or (7 if quick else 21), gate, before)
    text = report(samples, gate, before)
    print(text)
    rows = goal_rows(samples, before)
    write_results("bench_startup", rows)
    if write:
        replace_section(write, "Start-up", text)
        print(f"\nwrote the Start-up section of {write}")
    return rows


def default_before() -> str:
    """BEFORE_REV when this checkout has it (git history, not a copy of the files), else 'none'."""
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{BEFORE_REV}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
    )
    return BEFORE_REV if found.returncode == 0 else "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="rounds (default 21, --quick 7)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, shorter idle waits")
    parser.add_argument(
        "--before",
        metavar="REV",
        default=default_before(),
        help="also time this git revision's commands ('none': do not; default: %(default)s)",
    )
    parser.add_argument("--write", type=Path, metavar="FILE", help="replace '## Start-up' in FILE")
    args = parser.parse_args()
    run(args.quick, args.write, args.runs, None if args.before == "none" else args.before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
