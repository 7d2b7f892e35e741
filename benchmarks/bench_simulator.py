"""Benchmark the embedded Content Library service (cl_desktop.simulator) with curl.

Starts ``python -m cl_desktop.simulator`` (plain HTTP, data dir under /tmp) as a
subprocess, creates a test file (1 GiB by default) and measures:

- upload: a full update session per run, i.e. file add + ``curl -T`` PUT + complete;
- download: ``curl -o`` into a file next to the data dir, and ``curl -o /dev/null``;
- keep-alive latency: ~20 update-session keep-alive calls sent while a 1 GiB
  upload streams (median and max).

Prints a Markdown table; ``--write docs/PERFORMANCE.md`` replaces the section
``## Simulator`` of that file (creating the file if needed, keeping other sections).

    .venv/bin/python benchmarks/bench_simulator.py [--runs 3] [--size-mib 1024] [--write FILE]

``--items N`` instead measures only how long creating N library items takes, one
``POST /api/content/library/item`` after the other on one connection (the metadata
store's cost per change), and prints one line.

    .venv/bin/python benchmarks/bench_simulator.py --items 10000
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from common import (
    PASSWORD,
    USER,
    IdleGate,
    SimulatorProcess,
    make_file,
    replace_section,
    sha1_seconds,
)

MB = 1_000_000


class Server(SimulatorProcess):
    """The simulator CLI in a subprocess, plus a logged-in /api session."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.base = self.base_url
        self.http = requests.Session()
        self.http.trust_env = False
        token = self.http.post(self.base + "/api/session", auth=(USER, PASSWORD)).json()
        self.http.headers["vmware-api-session-id"] = token
        self.library_id = self.http.get(self.base + "/api/content/library").json()[0]

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, self.base + path, **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else None

    def create_item(self, name: str) -> str:
        return str(
            self.call(
                "POST",
                "/api/content/library/item",
                json={"library_id": self.library_id, "name": name},
            )
        )

    def begin_upload(self, item_id: str, name: str) -> tuple[str, str]:
        sid = self.call(
            "POST", "/api/content/library/item/update-session", json={"library_item_id": item_id}
        )
        info = self.call(
            "POST",
            f"/api/content/library/item/update-session/{sid}/file",
            json={"name": name, "source_type": "PUSH"},
        )
        return str(sid), str(info["upload_endpoint"]["uri"])

    def complete(self, sid: str) -> None:
        self.call(
            "POST", f"/api/content/library/item/update-session/{sid}", params={"action": "complete"}
        )

    def download_uri(self, item_id: str, name: str) -> str:
        did = self.call(
            "POST", "/api/content/library/item/download-session", json={"library_item_id": item_id}
        )
        path = f"/api/content/library/item/download-session/{did}/file"
        self.call("POST", path, params={"action": "prepare"}, json={"file_name": name})
        while True:
            info = self.call("GET", path, params={"file_name": name})
            if info["status"] == "PREPARED":
                return str(info["download_endpoint"]["uri"])
            time.sleep(0.01)

    def stop(self) -> None:
        self.http.close()
        super().stop()


def curl(*args: str) -> None:
    subprocess.run(["curl", "-sS", "--fail", *args], check=True)


GATE = IdleGate(0)


def measure(label: str, runs: int, warmup: int, once: Any) -> list[float]:
    """Seconds per run of ``once()``, warm-up runs dropped."""
    times = []
    for i in range(warmup + runs):
        GATE.wait()
        seconds = once()
        if i >= warmup:
            times.append(seconds)
        print(
            f"  {label} run {i + 1 - warmup if i >= warmup else 'warm-up'}: {seconds:.2f} s",
            file=sys.stderr,
        )
    return times


def rate_cell(size: int, times: list[float]) -> str:
    rates = [size / t / MB for t in times]
    return f"{statistics.median(rates):.0f} [{min(rates):.0f}-{max(rates):.0f}] ({len(rates)})"


def keep_alive_latency(
    server: Server, item_id: str, source: Path, calls: int
) -> tuple[list[float], bool]:
    """Latencies (s) of keep-alive calls sent while ``source`` uploads; and whether the
    upload was still streaming after the last call."""
    size = source.stat().st_size
    GATE.wait()
    sid, uri = server.begin_upload(item_id, "big.bin")
    upload = subprocess.Popen(["curl", "-sS", "--fail", "-o", "/dev/null", "-T", str(source), uri])
    path = f"/api/content/library/item/update-session/{sid}"
    try:
        while server.call("GET", path + "/file/big.bin")["bytes_transferred"] < size // 64:
            time.sleep(0.005)
        latencies = []
        for progress in range(1, calls + 1):
            started = time.perf_counter()
            server.call(
                "POST", path, params={"action": "keep-alive"}, json={"client_progress": progress}
            )
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
        still = server.call("GET", path + "/file/big.bin")["status"] == "TRANSFERRING"
    finally:
        upload.wait()
    server.complete(sid)
    return latencies, still


sha1_ceiling = sha1_seconds


def create_items(count: int, tmp: Path) -> None:
    """Print how long creating `count` items takes on a fresh data dir, with a running rate."""
    work = Path(tempfile.mkdtemp(prefix="cl-bench-sim-items-", dir=tmp))
    try:
        server = Server(work / "data")
        try:
            started = time.perf_counter()
            for n in range(count):
                server.create_item(f"item-{n:05d}")
                if (n + 1) % 1000 == 0:
                    elapsed = time.perf_counter() - started
                    print(f"  {n + 1} items: {elapsed:.1f} s", file=sys.stderr)
            seconds = time.perf_counter() - started
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{count} items created in {seconds:.1f} s"
        f" ({seconds / count * 1000:.2f} ms per item; {time.strftime('%Y-%m-%d')},"
        f" Python {platform.python_version()}, {cpu_name()}, {os.cpu_count()} vCPUs)"
    )


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=3, help="measured runs per row (default 3)")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    p.add_argument("--size-mib", type=int, default=1024, help="test file size (default 1024)")
    p.add_argument("--calls", type=int, default=20, help="keep-alive calls (default 20)")
    p.add_argument("--tmp", type=Path, default=Path("/tmp"), help="work dir parent (default /tmp)")
    p.add_argument("--write", type=Path, metavar="FILE", help="replace '## Simulator' in FILE")
    p.add_argument(
        "--idle-wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="before each run, wait up to this long for the box to be >= 85%% idle (0: off)",
    )
    p.add_argument(
        "--items", type=int, metavar="N", help="only measure creating N items, one by one"
    )
    args = p.parse_args(argv)
    if args.items is not None:
        create_items(args.items, args.tmp)
        return 0
    GATE.max_wait = args.idle_wait
    if shutil.which("curl") is None:
        raise SystemExit("curl is not on PATH")

    size = args.size_mib << 20
    work = Path(tempfile.mkdtemp(prefix="cl-bench-sim-", dir=args.tmp))
    load_before = os.getloadavg()
    try:
        source = work / "source.bin"
        print(f"creating {args.size_mib} MiB test file in {work}", file=sys.stderr)
        make_file(source, size)
        server = Server(work / "data")
        try:
            item_id = server.create_item("bench")

            def upload_once() -> float:
                started = time.perf_counter()
                sid, uri = server.begin_upload(item_id, "big.bin")
                curl("-o", "/dev/null", "-T", str(source), uri)
                server.complete(sid)
                return time.perf_counter() - started

            up = measure("upload", args.runs, args.warmup, upload_once)
            uri = server.download_uri(item_id, "big.bin")
            target = work / "download.bin"

            def download_file_once() -> float:
                target.unlink(missing_ok=True)
                started = time.perf_counter()
                curl("-o", str(target), uri)
                seconds = time.perf_counter() - started
                if target.stat().st_size != size:
                    raise RuntimeError("short download")
                return seconds

            def download_null_once() -> float:
                started = time.perf_counter()
                curl("-o", "/dev/null", uri)
                return time.perf_counter() - started

            down = measure("download -> file", args.runs, args.warmup, download_file_once)
            target.unlink(missing_ok=True)
            down_null = measure("download -> /dev/null", args.runs, args.warmup, download_null_once)
            latencies, streaming = keep_alive_latency(server, item_id, source, args.calls)
            sha1 = measure("sha1 in memory", args.runs, args.warmup, lambda: sha1_ceiling(size))
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ms = [t * 1000 for t in latencies]
    size_text = f"{args.size_mib} MiB" if args.size_mib != 1024 else "1 GiB"
    curl_version = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    late = "" if streaming else " (the upload ended before the last call)"
    section = "\n".join(
        [
            "## Simulator",
            "",
            f"`benchmarks/bench_simulator.py` ({time.strftime('%Y-%m-%d')}):"
            " `python -m cl_desktop.simulator` over plain HTTP on 127.0.0.1,"
            f" data dir under {args.tmp}, {size_text} test file, curl {curl_version.split()[1]},"
            f" Python {platform.python_version()}, {cpu_name()}, {os.cpu_count()} vCPUs"
            f" (load average {load_before[0]:.2f} before the run; the box is shared, so each run"
            f" waited up to {args.idle_wait:.0f} s for >= 85% idle CPU;"
            f" {GATE.busy_starts} run(s) started busy anyway).",
            f"MB = 10^6 bytes; median [min-max] (runs); {args.warmup} warm-up run(s) not counted.",
            "",
            "| What | MB/s |",
            "|---|---|",
            "| Upload: file add + `curl -T` PUT + complete (SHA-1 computed while streaming)"
            f" | {rate_cell(size, up)} |",
            f"| Download: `curl -o` into a file under {args.tmp} | {rate_cell(size, down)} |",
            f"| Download: `curl -o /dev/null` (`os.sendfile`) | {rate_cell(size, down_null)} |",
            "| Reference: SHA-1 of the same amount in memory, one core (the upload's ceiling)"
            f" | {rate_cell(size, sha1)} |",
            "",
            f"| Keep-alive while a {size_text} upload streams | median | max | calls |",
            "|---|---|---|---|",
            "| `POST .../update-session/{id}?action=keep-alive`"
            f" | {statistics.median(ms):.1f} ms | {max(ms):.1f} ms | {len(ms)}{late} |",
            "",
        ]
    )
    print(section)
    if args.write is not None:
        replace_section(args.write, "Simulator", section)
        print(f"wrote section '## Simulator' of {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
