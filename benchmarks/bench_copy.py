"""Benchmark: `cl-transfer copy` of an item between two embedded services against that
server's plain download and plain upload of the same file.

Starts two services (plain HTTP, each in its own process) and times, alternating, the whole
`cl-transfer` command of: a download of the item from A, an upload of the file to B, and a copy
of the item from A to B (the bytes stream from A's GET into B's PUT, hashed on the way, nothing
written locally). The goal: the copy at >= 0.8x the speed of the slower of the download and the
upload (a copy does both at once, so it cannot beat the slower one). Also the copy's peak RSS
(memory must not grow with the item).

    python benchmarks/bench_copy.py [--runs 3] [--size-mib 512] [--write docs/PERFORMANCE.md]
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

from bench_transfers import Run, drop_items, measured
from common import (
    PASSWORD,
    USER,
    IdleGate,
    SimulatorProcess,
    make_file,
    replace_section,
    write_results,
)

from cl_desktop.api import ContentLibraryClient

SECTION = "Copy between two servers"


def cl(url: str, *args: str) -> Run:
    env = {**os.environ, "CL_PASSWORD": PASSWORD, "CL_TO_PASSWORD": PASSWORD}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return measured(
        [sys.executable, "-m", "cl_desktop.cli", "--server", url, "--user", USER, *args], env
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--idle-wait", type=float, default=30.0)
    parser.add_argument("--write", help=f"update the '## {SECTION}' section of this file")
    args = parser.parse_args()
    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="cl-bench-copy-", dir="/tmp"))
    gate = IdleGate(args.idle_wait)
    times: dict[str, list[float]] = {"download": [], "upload": [], "copy": []}
    rss: list[float] = []
    try:
        source = make_file(work / "disk.iso", size, 7)
        a, b = SimulatorProcess(work / "a"), SimulatorProcess(work / "b")
        try:
            queue_db = str(work / "queue.sqlite")
            with (
                ContentLibraryClient(a.base_url, USER, PASSWORD) as ca,
                ContentLibraryClient(b.base_url, USER, PASSWORD) as cb,
            ):
                lib_a, lib_b = ca.libraries.list()[0], cb.libraries.list()[0]
                cl(a.base_url, "--queue-db", queue_db, "upload", f"{lib_a}/disk",
                   str(source), "--create")  # fmt: skip
                for run in range(args.runs + 1):  # the first run warms caches, not counted
                    measures = {
                        "download": lambda: cl(
                            a.base_url, "--queue-db", queue_db, "download", f"{lib_a}/disk",
                            str(work / "down"), "--existing", "overwrite",
                        ),
                        "upload": lambda: cl(
                            b.base_url, "--queue-db", queue_db, "upload", f"{lib_b}/up",
                            str(source), "--create",
                        ),
                        "copy": lambda: cl(
                            a.base_url, "--queue-db", queue_db, "copy", f"{lib_a}/disk",
                            "--to-server", b.base_url, lib_b,
                        ),
                    }  # fmt: skip
                    for name, measure in measures.items():
                        os.sync()
                        gate.wait()
                        result = measure()
                        print(f"run {run} {name}: {result.seconds:.2f}s {result.rss_mib:.0f} MiB",
                              flush=True)  # fmt: skip
                        if run:
                            times[name].append(result.seconds)
                            if name == "copy":
                                rss.append(result.rss_mib)
                    drop_items(cb, lib_b, "up", "disk")
                    shutil.rmtree(work / "down", ignore_errors=True)
        finally:
            a.stop()
            b.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    speeds = {name: [size / s / 1e6 for s in seconds] for name, seconds in times.items()}
    # per run: the copy's speed over the slower of that run's download and upload
    ratios = [
        c / min(d, u)
        for c, d, u in zip(speeds["copy"], speeds["download"], speeds["upload"], strict=True)
    ]
    ratio = statistics.median(ratios)
    med = {name: statistics.median(values) for name, values in speeds.items()}
    lines = [
        f"`benchmarks/bench_copy.py` ({time.strftime('%Y-%m-%d')}): loopback, plain HTTP, two "
        f"embedded services each in its own process, a {args.size_mib} MiB item, the whole "
        f"`cl-transfer` command, median of {args.runs} runs after one warm-up, alternating; "
        f"{gate.busy_starts} started on a busy CPU. Goal: the copy at >= 0.8x the slower of "
        "the download from A and the upload to B.",
        "",
        "| measure | MB/s | vs the slower of download and upload |",
        "|---|---|---|",
        f"| download from A | {med['download']:.0f} | |",
        f"| upload to B | {med['upload']:.0f} | |",
        f"| copy A -> B (streamed) | {med['copy']:.0f} | {ratio:.2f}x "
        f"[{min(ratios):.2f}-{max(ratios):.2f}] |",
        "",
        f"Peak RSS of the copy: {max(rss):.0f} MiB for a {args.size_mib} MiB item (the bytes "
        "pass through a ring of six 1 MiB blocks).",
    ]
    report = "\n".join(lines)
    print(report)
    write_results(
        "bench_copy",
        [
            {
                "measure": "cl-transfer copy between two servers vs the slower of download "
                "and upload",
                "value": round(ratio, 2),
                "unit": "x",
                "goal": ">= 0.8x",
                "ceiling": None,
                "met": ratio >= 0.8,
                "before": None,
                "min": round(min(ratios), 2),
                "max": round(max(ratios), 2),
                "runs": len(ratios),
            },
            {
                "measure": "cl-transfer copy: peak RSS",
                "value": round(max(rss)),
                "unit": "MiB",
                "goal": "",
                "ceiling": None,
                "met": None,
                "before": None,
            },
        ],
    )
    if args.write:
        replace_section(Path(args.write), SECTION, report)


if __name__ == "__main__":
    main()
