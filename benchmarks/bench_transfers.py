"""Benchmark: cl-transfer against curl on the same loopback server and the same 1 GiB file.

Starts the embedded service (plain HTTP) in a subprocess, then for several runs times:
  - curl PUT of the file to an upload endpoint (session set up with the Python client),
  - `cl-transfer upload` (whole workflow: login, session, PUT with SHA-1, verify, complete),
  - curl GET of a prepared download endpoint to a file,
  - `cl-transfer download` (whole workflow: session, prepare, GET with SHA-256, verify, rename),
and the peak RSS of cl-transfer for a 16 MiB versus a 2 GiB upload.

    python benchmarks/bench_transfers.py [--runs 3] [--write docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PASSWORD, USER, SimulatorProcess, make_file, replace_section, sha1_seconds

from cl_desktop.api import AddSpec, ContentLibraryClient, PrepareStatus

GIB = 1 << 30


def cl_transfer(url: str, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one cl-transfer run."""
    env = {**os.environ, "CL_PASSWORD": PASSWORD}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cl_desktop.cli", "--server", url, "--user", USER,
         *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(
            f"cl-transfer {args[:3]} failed: {proc.stderr.read() if proc.stderr else ''}"
        )
    return seconds, usage.ru_maxrss / 1024


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def curl(*args: str) -> float:
    return timed(["curl", "-sS", "-f", *args])


def curl_upload(client: ContentLibraryClient, item: str, source: Path) -> float:
    sid = client.update_sessions.create(item)
    info = client.update_session_files.add(sid, AddSpec(source.name, size=source.stat().st_size))
    assert info.upload_endpoint is not None
    seconds = curl("-T", str(source), "-H", "Content-Type: application/octet-stream",
                   info.upload_endpoint.uri)  # fmt: skip
    client.update_sessions.complete(sid)
    client.update_sessions.delete(sid)
    return seconds


def curl_download(client: ContentLibraryClient, item: str, name: str, target: Path) -> float:
    did = client.download_sessions.create(item)
    client.download_session_files.prepare(did, name)
    while (info := client.download_session_files.get(did, name)).status is not (
        PrepareStatus.PREPARED
    ):
        time.sleep(0.05)
    assert info.download_endpoint is not None
    seconds = curl("-o", str(target), info.download_endpoint.uri)
    client.download_sessions.delete(did)
    return seconds


def mbps(size: int, seconds: list[float]) -> float:
    return size / statistics.median(seconds) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--write", help="update the '## Transfers' section of this file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cl-bench-", dir="/tmp"))
    try:
        size = args.size_mib << 20
        source = work / "big.iso"
        make_file(source, size)
        server = SimulatorProcess(work / "server")
        url = server.base_url
        try:
            client = ContentLibraryClient(url, USER, PASSWORD)
            client.login()
            library = client.libraries.list()[0]
            up: dict[str, list[float]] = {"curl": [], "curl + sha1sum": [], "cl-transfer": []}
            down: dict[str, list[float]] = {"curl": [], "curl + sha1sum": [], "cl-transfer": []}
            queue_db = str(work / "queue.sqlite")
            for run in range(args.runs + 1):  # the first run warms caches and is not counted
                # a new item per run, like cl-transfer's: replacing a version would make the
                # server delete 1 GiB in the background during the next measurement
                curl_item = client.items.create(library, f"curl{run}", type="iso")
                t_curl = curl_upload(client, curl_item, source)
                t_cl, _ = cl_transfer(url, "--queue-db", queue_db, "upload",
                                      f"{library}/cl{run}", str(source), "--create")  # fmt: skip
                target = work / "curl.out"
                d_curl = curl_download(client, curl_item, source.name, target)
                target.unlink()
                dest = work / f"dl{run}"
                d_cl, _ = cl_transfer(url, "--queue-db", queue_db, "download",
                                      f"{library}/cl{run}", str(dest))  # fmt: skip
                shutil.rmtree(dest)
                # the fair peer for a *verified* transfer: curl, then sha1sum of the file
                t_sum = timed(["sha1sum", str(source)])
                if run:
                    up["curl + sha1sum"].append(t_curl + t_sum)
                    down["curl + sha1sum"].append(d_curl + t_sum)
                    up["curl"].append(t_curl)
                    up["cl-transfer"].append(t_cl)
                    down["curl"].append(d_curl)
                    down["cl-transfer"].append(d_cl)
                print(f"run {run}: up curl {t_curl:.2f}s cl {t_cl:.2f}s; "
                      f"down curl {d_curl:.2f}s cl {d_cl:.2f}s", flush=True)  # fmt: skip
            small = work / "small.iso"
            make_file(small, 16 << 20)
            _, rss_small = cl_transfer(url, "--queue-db", queue_db, "upload",
                                       f"{library}/mem-small", str(small), "--create")  # fmt: skip
            big = work / "huge.iso"
            make_file(big, 2 * GIB)
            _, rss_big = cl_transfer(url, "--queue-db", queue_db, "upload",
                                     f"{library}/mem-big", str(big), "--create")  # fmt: skip
        finally:
            server.stop()
        rows = [
            ("upload", up),
            ("download", down),
        ]
        lines = [
            f"Loopback, plain HTTP, embedded service in its own process, a {args.size_mib} MiB "
            f"test file, median of {args.runs} runs after one warm-up "
            f"(measured {time.strftime('%Y-%m-%d')}). cl-transfer times are the whole command "
            "(start-up, login, session, transfer with streaming hash, verification).",
            "",
            "| direction | curl MB/s | curl + sha1sum MB/s | cl-transfer MB/s | ratio to curl "
            "| ratio to curl + sha1sum | target |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, times in rows:
            c, v = mbps(size, times["curl"]), mbps(size, times["curl + sha1sum"])
            t = mbps(size, times["cl-transfer"])
            lines.append(
                f"| {name} | {c:.0f} | {v:.0f} | {t:.0f} | {t / c:.2f}x | {t / v:.2f}x "
                "| >= 0.9x of curl |"
            )
        lines += [
            "",
            f"SHA-1 on one core, in memory, same run: {size / sha1_seconds(size) / 1e6:.0f} MB/s."
            " Both sides hash",
            "an upload (the client while sending, the server on receipt); a download is hashed",
            "by the client only, so its verified speed cannot pass this figure.",
            "",
            "| cl-transfer upload | peak RSS |",
            "|---|---|",
            f"| 16 MiB file | {rss_small:.1f} MiB |",
            f"| 2 GiB file | {rss_big:.1f} MiB |",
            f"| growth | {rss_big - rss_small:.1f} MiB (target <= 50 MiB) |",
        ]
        report = "\n".join(lines)
        print(report)
        if args.write:
            replace_section(Path(args.write), "Transfers", report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
