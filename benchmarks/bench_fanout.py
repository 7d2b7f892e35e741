"""Benchmark: one file into three libraries (two on one server, one on another) as one
`cl-transfer fanout` (read and hashed once), against three `cl-transfer upload`s one after
another (each reading and hashing the file again), the way without fan-out.

Two embedded services, each in its own process, on loopback (plain HTTP); the whole command
timed, median of --runs after one warm-up run (new items each run).

    python benchmarks/bench_fanout.py [--runs 3] [--mib 256] [--write docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_transfers import Run, measured
from common import PASSWORD, USER, SimulatorProcess, make_file, replace_section

from cl_desktop.api import ContentLibraryClient


def cl(url: str, *args: str) -> Run:
    env = {**os.environ, "CL_PASSWORD": PASSWORD, "CL_TO_PASSWORD": PASSWORD}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return measured([sys.executable, "-m", "cl_desktop.cli", "--server", url, "--user", USER,
                     *args], env)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--write", help="update the '## Fan-out' section of this file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cl-bench-fanout-", dir="/tmp"))
    try:
        source = make_file(work / "tools.iso", args.mib << 20)
        a, b = SimulatorProcess(work / "a"), SimulatorProcess(work / "b")
        times: dict[str, list[Run]] = {"fanout": [], "uploads": []}
        try:
            client = ContentLibraryClient(a.base_url, USER, PASSWORD)
            datastore = client.datastores.list()[0].datastore
            first = client.libraries.get(client.libraries.list()[0]).name
            client.libraries.create_local("Second", datastore)
            client.close()
            db = str(work / "queue.sqlite")
            for run in range(args.runs + 1):  # the first run warms caches and is not counted
                targets = [f"{first}/fan-{run}", f"Second/fan-{run}"]
                fan = cl(a.base_url, "--queue-db", db, "fanout", str(source), *targets,
                         "--to-server", b.base_url, f"{first}/fan-{run}")  # fmt: skip
                started = time.perf_counter()
                cpu = 0.0
                for url, target in ((a.base_url, targets[0]), (a.base_url, targets[1]),
                                    (b.base_url, targets[0])):  # fmt: skip
                    one = cl(url, "--queue-db", db, "upload", f"{target}-up", str(source),
                             "--create")  # fmt: skip
                    cpu += one.cpu
                ups = Run(time.perf_counter() - started, cpu, 0.0)
                print(f"run {run}: fanout {fan.seconds:.2f}s, three uploads {ups.seconds:.2f}s",
                      flush=True)  # fmt: skip
                if run:
                    times["fanout"].append(fan)
                    times["uploads"].append(ups)
        finally:
            a.stop()
            b.stop()
        fan_s = statistics.median(r.seconds for r in times["fanout"])
        ups_s = statistics.median(r.seconds for r in times["uploads"])
        fan_cpu = statistics.median(r.cpu for r in times["fanout"])
        ups_cpu = statistics.median(r.cpu for r in times["uploads"])
        size = args.mib << 20
        report = "\n".join([
            f"Loopback, plain HTTP, two embedded services each in its own process, one "
            f"{args.mib} MiB file into three libraries (two on one server, one on the other), "
            f"the whole command, median of {args.runs} runs after one warm-up "
            f"(measured {time.strftime('%Y-%m-%d')}).",
            "",
            "| | wall s | MB/s delivered (three targets) | client CPU-s |",
            "|---|---|---|---|",
            f"| `fanout` (read and hashed once) | {fan_s:.2f} | {3 * size / fan_s / 1e6:.0f} "
            f"| {fan_cpu:.2f} |",
            f"| three `upload`s, one after another | {ups_s:.2f} | {3 * size / ups_s / 1e6:.0f} "
            f"| {ups_cpu:.2f} |",
            "",
            f"Fan-out / three uploads: {fan_s / ups_s:.2f}x the time, {fan_cpu / ups_cpu:.2f}x "
            "the client CPU: the client reads and hashes the file once instead of three times, "
            "and the three PUTs overlap (on these two cores, with the servers' own work).",
        ])  # fmt: skip
        print(report)
        if args.write:
            replace_section(Path(args.write), "Fan-out", report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
