"""Every benchmark in one command, then the summary of issue 12's goals.

    python benchmarks/run_all.py [--quick] [--write FILE] [--only NAME ...] [--summary-only]

Runs the scripts of benchmarks/ one after the other, each in its own process after waiting for
an idle CPU: bench_simulator, bench_transfers, bench_ova, bench_browse (skipped with a note when
absent), bench_gui, bench_startup, bench_copy, bench_fanout. Each script alternates its peer and
the client itself, writes its section of docs/PERFORMANCE.md and its goal rows to
benchmarks/results/<script>.json. Then this script measures the machine's ceilings in the same
run (curl up and down against the embedded service, SHA-1 in memory, a disk write with fsync; 1
GiB each) and writes the section "## Issue 12 goals" at the top of docs/PERFORMANCE.md: one row
per goal of the issue with before, now (median [min-max]), goal, the ceiling beside it, and
whether it is met.

--quick is a smoke run of the whole chain (small files, one or few runs each): the scripts'
sections are left alone and the summary goes to benchmarks/results/SUMMARY.md, unless --write
names a file. --summary-only composes the summary from the results files already there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT, IdleGate, make_file, replace_section, sha1_seconds

BENCHMARKS = ROOT / "benchmarks"
DOC = ROOT / "docs" / "PERFORMANCE.md"
TITLE = "Issue 12 goals"


@dataclass(frozen=True)
class Script:
    name: str
    quick: tuple[str, ...]  # small-run arguments, when the script has no --quick of its own


SCRIPTS = (
    Script(
        "bench_simulator",
        ("--runs", "1", "--warmup", "0", "--size-mib", "256", "--calls", "5", "--idle-wait", "10"),
    ),
    Script("bench_transfers", ("--runs", "1", "--size-mib", "256")),
    Script("bench_ova", ("--runs", "1", "--disk-mib", "64")),
    Script("bench_browse", ()),
    Script(
        "bench_gui", ("--runs", "1", "--size-mib", "256", "--items", "2000", "--idle-wait", "5")
    ),
    Script("bench_startup", ("--quick",)),
    Script("bench_copy", ("--runs", "1", "--size-mib", "64", "--idle-wait", "5")),
    Script("bench_fanout", ("--runs", "1", "--mib", "64")),
)

# The issue's table, in its order: (goal, the script whose results file holds its rows).
XFER, BROWSE = "bench_transfers", "bench_browse"
TRANSFER_SCRIPTS = (XFER, "bench_ova")  # their rows get the curl/SHA-1/disk ceilings
ISSUE_GOALS = (
    ("cl-transfer upload, 1 GiB, whole command, vs curl: >= 0.9x (moonshot 0.95x)", XFER),
    ("cl-transfer download, same: >= 0.9x (moonshot 0.95x)", XFER),
    ("client CPU-seconds per GiB vs curl's + SHA in memory: <= 1.15x (moonshot 1.05x)", XFER),
    ("the same ratios, server and client pinned to different cores: reported", XFER),
    ("`cl-transfer --help` / a no-op command: < 150 ms (moonshot < 80 ms)", "bench_startup"),
    ("10,000-item library, first rows shown: < 0.5 s (moonshot < 0.2 s)", BROWSE),
    ("10,000-item library, every row shown: < 5 s (moonshot < 2 s)", BROWSE),
    ("reopening a library seen before: rows from the cache < 0.3 s, then revalidated", BROWSE),
    ("an OVF of 4 disks (4 x 256 MiB): >= 1.3x faster than one after another", XFER),
    ("GUI event loop, 4 full-speed transfers: longest stall < 100 ms, p99 < 30 ms", "bench_gui"),
    ("peak memory, 16 MiB vs 8 GiB upload and download: growth <= 10 MiB", XFER),
)


# --- running the scripts -------------------------------------------------------------------


def script_env() -> dict[str, str]:
    """This checkout's code, bytecode caches allowed (start-up is measured as users see it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def supported(args: tuple[str, ...], help_text: str) -> list[str]:
    """`args` without the options the script does not have (with their values)."""
    kept: list[str] = []
    keep = True
    for arg in args:
        if arg.startswith("--"):
            keep = arg in help_text
        if keep:
            kept.append(arg)
    return kept


def script_args(script: Script, path: Path, quick: bool, write: Path | None) -> list[str]:
    args: list[str] = []
    if quick:
        shown = subprocess.run(
            [sys.executable, str(path), "--help"],
            env=script_env(),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        ).stdout
        args = ["--quick"] if "--quick" in shown else supported(script.quick, shown)
    if write is not None:
        args += ["--write", str(write)]
    return args


def run_scripts(names: list[str], quick: bool, write: Path | None, gate: IdleGate) -> list[str]:
    """Run each script; the notes for the summary (skipped, failed, how long each took)."""
    notes = []
    for script in SCRIPTS:
        if script.name not in names:
            continue
        path = BENCHMARKS / f"{script.name}.py"
        if not path.exists():
            notes.append(f"{script.name}.py is not in this checkout: its goals are not measured")
            print(f"\n=== {script.name}: skipped, no {path.name}", flush=True)
            continue
        (RESULTS / f"{script.name}.json").unlink(missing_ok=True)  # no stale rows
        args = script_args(script, path, quick, write)
        gate.wait()
        print(f"\n=== {script.name} {' '.join(args)}", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, str(path), *args], env=script_env(), cwd=ROOT)
        took = time.perf_counter() - started
        status = "ok" if code.returncode == 0 else f"FAILED (exit {code.returncode})"
        notes.append(f"{script.name}: {status}, {took:.0f} s")
    return notes


# --- the ceilings, measured here -----------------------------------------------------------


def write_fsync_seconds(size: int, folder: Path) -> float:
    """Seconds to write `size` bytes to a new file in `folder` and fsync it."""
    block = os.urandom(1 << 20)
    path = folder / "ceiling-write.bin"
    started = time.perf_counter()
    with open(path, "wb", buffering=0) as out:
        for _ in range(size >> 20):
            out.write(block)
        os.fsync(out.fileno())
    seconds = time.perf_counter() - started
    path.unlink()
    return seconds


def curl_seconds(size: int, folder: Path, runs: int, gate: IdleGate) -> tuple[list[float], ...]:
    """(upload, download) seconds of curl against the embedded service, same file and size."""
    from bench_transfers import curl_download, curl_upload  # the transfers benchmark's peer
    from common import PASSWORD, USER, SimulatorProcess

    from cl_desktop.api import ContentLibraryClient

    source = make_file(folder / "ceiling.iso", size)
    server = SimulatorProcess(folder / "server")
    up: list[float] = []
    down: list[float] = []
    try:
        client = ContentLibraryClient(server.base_url, USER, PASSWORD)
        client.login()
        library = client.libraries.list()[0]
        for run in range(runs + 1):  # the first warms the caches
            item = client.items.create(library, f"ceiling{run}", type="iso")
            gate.wait()
            t_up = curl_upload(client, item, source, None).seconds
            gate.wait()
            t_down = curl_download(client, item, source.name, folder / "ceiling.out", None).seconds
            (folder / "ceiling.out").unlink()
            if run:
                up.append(t_up)
                down.append(t_down)
        client.close()
    finally:
        server.stop()
        source.unlink()
    return up, down


def rate(size: int, seconds: list[float]) -> str:
    """'median [min-max] MB/s' of `size` bytes in each of `seconds`."""
    rates = sorted(size / s / 1e6 for s in seconds)
    if len(rates) == 1:
        return f"{rates[0]:.0f} MB/s"
    return f"{statistics.median(rates):.0f} [{rates[0]:.0f}-{rates[-1]:.0f}] MB/s"


def measure_ceilings(size: int, runs: int, gate: IdleGate) -> dict[str, str]:
    """The machine's limits, this run: {"curl upload", "curl download", "sha1", "write"}."""
    with tempfile.TemporaryDirectory(prefix="cl-bench-ceiling-", dir="/tmp") as tmp:
        folder = Path(tmp)
        sha, disk = [], []
        for _ in range(runs):
            gate.wait()
            sha.append(sha1_seconds(size))
            gate.wait()
            disk.append(write_fsync_seconds(size, folder))
        ceilings = {"sha1": rate(size, sha), "write": rate(size, disk)}
        try:
            up, down = curl_seconds(size, folder, runs, gate)
            ceilings |= {"curl upload": rate(size, up), "curl download": rate(size, down)}
        except Exception as exc:  # a benchmark run still gets its summary
            ceilings |= {"curl upload": f"not measured ({exc})", "curl download": "not measured"}
    return ceilings


# --- the summary ---------------------------------------------------------------------------


def load_results(folder: Path) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """{script: rows} of the results files in `folder`, and notes about unreadable ones."""
    results: dict[str, list[dict[str, Any]]] = {}
    notes = []
    for path in sorted(folder.glob("*.json")):
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
            results[path.stem] = [row for row in rows if "measure" in row and "value" in row]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            notes.append(f"{path.name} could not be read: {exc}")
    return results, notes


def number(value: float, unit: str) -> str:
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:.{digits}f}"


def now_cell(row: dict[str, Any]) -> str:
    """'median unit [min-max]' (the range when the row has one of several runs)."""
    unit = row.get("unit") or ""
    cell = number(row["value"], unit)
    if unit not in ("", "x"):
        cell += f" {unit}"
    if row.get("min") is not None and row.get("max") is not None and row.get("runs", 2) > 1:
        cell += f" [{number(row['min'], unit)}-{number(row['max'], unit)}]"
    return cell


def ceiling_cell(row: dict[str, Any], ceilings: dict[str, str], script: str) -> str:
    """The row's own ceiling, else for a transfer's row the one of this run that bounds it
    (by direction)."""
    if row.get("ceiling"):
        return str(row["ceiling"])
    if script not in TRANSFER_SCRIPTS:
        return ""
    measure = str(row["measure"]).lower()
    if "upload" in measure and "curl upload" in ceilings:
        return f"curl {ceilings['curl upload']}; SHA-1 {ceilings['sha1']}"
    if "download" in measure and "curl download" in ceilings:
        return (
            f"curl {ceilings['curl download']}; SHA-1 {ceilings['sha1']}; "
            f"write+fsync {ceilings['write']}"
        )
    return ""


def met_cell(met: bool | None) -> str:
    return "—" if met is None else "yes" if met else "**no**"


def compose(
    results: dict[str, list[dict[str, Any]]],
    ceilings: dict[str, str],
    notes: list[str],
    when: str,
) -> str:
    """The '## Issue 12 goals' section: the goal rows of each script in the order of the
    issue's table, a 'not measured' row for each goal whose script left no results, then the
    rows of scripts that own none of the issue's goals; the ceilings and notes below."""
    lines = [
        f"`python benchmarks/run_all.py` ({when}): every goal of issue 12, from the results "
        "its script wrote (benchmarks/results/; which scripts ran in this run is noted below), "
        "median [min-max]; the ceilings were measured by run_all in this run. A goal counts "
        "as met on the median.",
        "",
        "| measure | before | now | goal | ceiling | met | script |",
        "|---|---|---|---|---|---|---|",
    ]
    owners = list(dict.fromkeys(owner for _, owner in ISSUE_GOALS))
    others = [name for name in results if name not in owners]
    for script in owners + others:
        rows = results.get(script)
        if rows:
            for row in rows:
                lines.append(
                    f"| {row['measure']} | {row.get('before') or ''} | {now_cell(row)} | "
                    f"{row.get('goal') or ''} | {ceiling_cell(row, ceilings, script)} | "
                    f"{met_cell(row.get('met'))} | {script} |"
                )
        elif script in owners:
            for goal, owner in ISSUE_GOALS:
                if owner == script:
                    lines.append(f"| {goal} | | not measured | | | — | {script} (no results) |")
    if ceilings:
        lines += [
            "",
            "Ceilings, this run: "
            + "; ".join(f"{name} {value}" for name, value in ceilings.items())
            + " (curl against the embedded service on loopback, to and from a file; SHA-1 of "
            "bytes in memory on one core; a new file written and fsynced).",
        ]
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: small, one run each")
    parser.add_argument("--write", type=Path, metavar="FILE", help=f"default: {DOC}")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these scripts (e.g. bench_gui)"
    )
    parser.add_argument(
        "--summary-only", action="store_true", help="compose from the results already there"
    )
    args = parser.parse_args()
    write = args.write if args.write or args.quick else DOC
    summary_file = write or RESULTS / "SUMMARY.md"
    gate = IdleGate(max_wait=10 if args.quick else 120)
    started = time.time()
    notes: list[str] = []
    ceilings: dict[str, str] = {}
    if not args.summary_only:
        names = args.only or [s.name for s in SCRIPTS]
        notes = run_scripts(names, args.quick, write, gate)
        print("\n=== ceilings", flush=True)
        size = (256 if args.quick else 1024) << 20
        runs = 1 if args.quick else 3
        ceilings = measure_ceilings(size, runs, gate)
        notes.append(f"ceilings: {size >> 20} MiB each, median of {runs} run(s)")
        notes.append(
            f"total {time.time() - started:.0f} s; {gate.busy_starts} idle wait(s) gave up"
        )
    results, unreadable = load_results(RESULTS)
    ran = set(args.only or [s.name for s in SCRIPTS]) if not args.summary_only else set()
    for name in sorted(set(results) - ran):
        written = time.strftime(
            "%Y-%m-%d %H:%M", time.localtime(RESULTS.joinpath(f"{name}.json").stat().st_mtime)
        )
        notes.append(f"{name}: results of an earlier run (written {written})")
    when = time.strftime("%Y-%m-%d") + (", --quick" if args.quick else "")
    section = compose(results, ceilings, notes + unreadable, when)
    print("\n" + section)
    replace_section(summary_file, TITLE, section, first=True)
    print(f"\nwrote '## {TITLE}' to {summary_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
