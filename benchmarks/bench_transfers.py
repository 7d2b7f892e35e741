"""Benchmark: cl-transfer against curl on the same loopback server and the same 1 GiB file.

Starts the embedded service (plain HTTP) in a subprocess, then for several runs, alternating
the peer and the client and waiting for an idle CPU before each, measures wall time and
CPU-seconds (os.wait4 rusage) of:
  - curl PUT of the file to an upload endpoint (session set up with the Python client),
  - `cl-transfer upload` (whole command: start-up, login, session, PUT with SHA-1, verify,
    complete),
  - curl GET of a prepared download endpoint to a file,
  - `cl-transfer download` (whole command: session, prepare, GET with hash, fsync, verify,
    rename),
once as they come and once with the server pinned to core 0 and the client (and curl) to
core 1. The ceilings are measured in the same run: curl itself, SHA-1 of the same bytes in
memory (CPU-seconds), the fixed cost of a 1 MiB cl-transfer command. Then an OVF template of
4 x 256 MiB disks uploaded with one PUT at a time against parallel PUTs, and the peak RSS of
cl-transfer for a 16 MiB against an 8 GiB (sparse) upload and download.

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
from dataclasses import dataclass
from pathlib import Path

from common import (
    PASSWORD,
    USER,
    IdleGate,
    SimulatorProcess,
    make_file,
    replace_section,
    sha1_seconds,
    write_results,
)

from cl_desktop.api import AddSpec, ContentLibraryClient, PrepareStatus
from tests.support.templates import make_template

GIB = 1 << 30
SERVER_CORE, CLIENT_CORE = 0, 1
WAN = 100_000_000  # bytes/s per connection: the 4-disk upload again, link-bound
# before this work (issue 12, same machine and method): the figures the goals start from
BEFORE = {
    "upload speed": "0.58-0.67x",
    "download speed": "0.51-0.82x",
    "upload CPU": "1.27x (1.38 CPU-s vs curl 0.46 + SHA-1 0.63)",
    "download CPU": "1.09-1.68x",
}


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system CPU-seconds of the process and its threads
    rss_mib: float


def measured(command: list[str], env: dict[str, str] | None = None) -> Run:
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        said = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        raise SystemExit(f"{command[:6]} failed: {said}")
    if proc.stderr:
        proc.stderr.close()
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def drop_items(client: ContentLibraryClient, library: str, *names: str) -> None:
    """Delete the benchmark's items once measured: their GiBs would otherwise fill the page
    cache, and the reclaim it then needs is billed (as system time) to whoever writes next."""
    for model in client.items.list_models(library):
        if model.name in names and model.id:
            client.items.delete(model.id)


def settle(gate: IdleGate) -> None:
    """The same start for every measured run: the dirty pages of the uploads before written
    back (else whoever writes next is throttled and pays for it), then an idle CPU."""
    os.sync()
    gate.wait()


def pinned(core: int | None) -> list[str]:
    return ["taskset", "-c", str(core)] if core is not None else []


def cl_run(url: str, *args: str, core: int | None = None) -> Run:
    """One whole cl-transfer command (with the .pyc files a user has)."""
    env = {**os.environ, "CL_PASSWORD": PASSWORD}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [*pinned(core), sys.executable, "-m", "cl_desktop.cli", "--server", url,
               "--user", USER, *args]  # fmt: skip
    return measured(command, env)


def cl_transfer(url: str, *args: str) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one cl-transfer run (bench_ova's use)."""
    run = cl_run(url, *args)
    return run.seconds, run.rss_mib


def curl(*args: str, core: int | None = None) -> Run:
    return measured([*pinned(core), "curl", "-sS", "-f", *args])


def curl_upload(client: ContentLibraryClient, item: str, source: Path, core: int | None) -> Run:
    sid = client.update_sessions.create(item)
    info = client.update_session_files.add(sid, AddSpec(source.name, size=source.stat().st_size))
    assert info.upload_endpoint is not None
    run = curl("-T", str(source), "-H", "Content-Type: application/octet-stream",
               info.upload_endpoint.uri, core=core)  # fmt: skip
    client.update_sessions.complete(sid)
    client.update_sessions.delete(sid)
    return run


def curl_download(
    client: ContentLibraryClient, item: str, name: str, target: Path, core: int | None
) -> Run:
    did = client.download_sessions.create(item)
    client.download_session_files.prepare(did, name)
    while (info := client.download_session_files.get(did, name)).status is not (
        PrepareStatus.PREPARED
    ):
        time.sleep(0.05)
    assert info.download_endpoint is not None
    run = curl("-o", str(target), info.download_endpoint.uri, core=core)
    client.download_sessions.delete(did)
    return run


def sha1_cpu(size: int) -> float:
    """CPU-seconds to SHA-1 `size` bytes in memory (one core): what any verified transfer of
    them costs on top of moving them."""
    return sha1_seconds(size, time.process_time)


def pin_server(server: SimulatorProcess, core: int | None) -> None:
    """`taskset -c core` on every thread of the running service (all cores when None)."""
    proc = server._proc  # the launcher is ours: its pid
    assert proc is not None
    cores = {core} if core is not None else set(range(os.cpu_count() or 1))
    for task in Path(f"/proc/{proc.pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cores)
        except OSError:
            pass  # a thread that just ended


def med(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


@dataclass
class Side:
    """One direction's runs: curl and cl-transfer, wall and CPU."""

    curl: list[Run]
    cl: list[Run]
    fsync: list[Run]  # `sync FILE` after curl's download: the durability cl-transfer pays for

    def speed_ratio(self) -> list[float]:  # per run: cl-transfer speed / curl speed
        return [c.seconds / t.seconds for c, t in zip(self.curl, self.cl, strict=True)]

    def cpu_ratio(self, sha: float) -> list[float]:
        return [t.cpu / (c.cpu + sha) for c, t in zip(self.curl, self.cl, strict=True)]


def transfers(
    client: ContentLibraryClient,
    url: str,
    library: str,
    source: Path,
    work: Path,
    runs: int,
    gate: IdleGate,
    core: int | None,
    tag: str,
) -> tuple[Side, Side]:
    up, down = Side([], [], []), Side([], [], [])
    queue_db = str(work / "queue.sqlite")
    for run in range(runs + 1):  # the first run warms caches and is not counted
        # a new item per run, like cl-transfer's: replacing a version would make the
        # server delete 1 GiB in the background during the next measurement
        curl_item = client.items.create(library, f"curl{tag}{run}", type="iso")
        cl_first = run % 2 == 1  # alternate who goes first
        results: dict[str, Run] = {}
        for who in ("cl", "curl") if cl_first else ("curl", "cl"):
            settle(gate)
            if who == "curl":
                results["curl up"] = curl_upload(client, curl_item, source, core)
            else:
                results["cl up"] = cl_run(url, "--queue-db", queue_db, "upload",
                                          f"{library}/cl{tag}{run}", str(source), "--create",
                                          core=core)  # fmt: skip
        for who in ("cl", "curl") if cl_first else ("curl", "cl"):
            settle(gate)
            if who == "curl":
                target = work / "curl.out"
                results["curl down"] = curl_download(client, curl_item, source.name, target, core)
                results["fsync"] = measured([*pinned(core), "sync", str(target)])
                target.unlink()
            else:
                dest = work / f"dl{tag}{run}"
                results["cl down"] = cl_run(url, "--queue-db", queue_db, "download",
                                            f"{library}/cl{tag}{run}", str(dest),
                                            core=core)  # fmt: skip
                shutil.rmtree(dest)
        drop_items(client, library, f"curl{tag}{run}", f"cl{tag}{run}")
        if run:
            up.curl.append(results["curl up"])
            up.cl.append(results["cl up"])
            down.curl.append(results["curl down"])
            down.cl.append(results["cl down"])
            down.fsync.append(results["fsync"])
        shown = "; ".join(f"{k} {r.seconds:.2f}s {r.cpu:.2f}cpu" for k, r in results.items())
        print(f"{tag or 'free'} run {run}: {shown}", flush=True)
    return up, down


def process_cpu(pid: int) -> float:
    """CPU-seconds (user + system) a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class OvfRuns:
    seconds: dict[int, list[float]]
    cores: dict[int, list[float]]  # (client + server CPU-seconds) / wall: cores kept busy


def four_disks(client: ContentLibraryClient, server: SimulatorProcess, library: str,
               work: Path, runs: int, gate: IdleGate, disk_mib: int, parallel: int,
               throttle: int | None = None) -> OvfRuns:  # fmt: skip
    """`cl-transfer upload` of a 4-disk template, one PUT at a time vs parallel PUTs; with
    `throttle`, each connection limited to that many bytes/s by the server (as on a WAN)."""
    disks = tuple((f"disk{n}.vmdk", disk_mib << 20) for n in range(1, 5))
    descriptor = make_template(work / "four", "four", disks, manifest=False)
    result = OvfRuns({1: [], parallel: []}, {1: [], parallel: []})
    queue_db = str(work / "queue-ovf.sqlite")
    server.faults(throttle=throttle)
    assert server._proc is not None
    tag = f"t{throttle}" if throttle else ""
    for run in range(runs + 1):
        order = (1, parallel) if run % 2 == 0 else (parallel, 1)
        for n in order:
            settle(gate)
            before = process_cpu(server._proc.pid)
            r = cl_run(server.base_url, "--queue-db", queue_db, "--parallel-puts", str(n),
                       "upload", f"{library}/ovf{tag}{n}-{run}", str(descriptor),
                       "--create")  # fmt: skip
            cores = (r.cpu + process_cpu(server._proc.pid) - before) / r.seconds
            drop_items(client, library, f"ovf{tag}{n}-{run}")
            if run:
                result.seconds[n].append(r.seconds)
                result.cores[n].append(cores)
            print(f"4 disks{' throttled' if throttle else ''}, {n} PUT(s) at once: "
                  f"{r.seconds:.2f}s, {cores:.2f} cores busy", flush=True)  # fmt: skip
    server.faults(throttle=None)
    shutil.rmtree(work / "four")
    return result


def peak_memory(
    client: ContentLibraryClient, url: str, library: str, work: Path, big_gib: int
) -> dict[str, float]:
    """Peak RSS (MiB) of cl-transfer uploading and downloading 16 MiB and `big_gib` GiB."""
    queue_db = str(work / "queue-rss.sqlite")
    rss: dict[str, float] = {}
    for label, size in (("small", 16 << 20), ("big", big_gib * GIB)):
        source = work / f"rss-{label}.iso"
        if label == "small":
            make_file(source, size)
        else:  # sparse: no disk read, the same bytes to move
            with source.open("wb") as out:
                out.truncate(size)
        item = f"{library}/rss-{label}"
        rss[f"up {label}"] = cl_run(url, "--queue-db", queue_db, "upload", item, str(source),
                                    "--create").rss_mib  # fmt: skip
        source.unlink()
        dest = work / f"rss-dl-{label}"
        rss[f"down {label}"] = cl_run(url, "--queue-db", queue_db, "download", item,
                                      str(dest)).rss_mib  # fmt: skip
        shutil.rmtree(dest)
        drop_items(client, library, f"rss-{label}")
        print(f"RSS {label}: up {rss[f'up {label}']:.1f} MiB, down {rss[f'down {label}']:.1f}"
              " MiB", flush=True)  # fmt: skip
    return rss


def run(
    runs: int = 3,
    size_mib: int = 1024,
    disk_mib: int = 256,
    parallel_puts: int = 3,
    rss_gib: int = 8,
    write: str | None = None,
    max_wait: float = 20.0,
) -> list[dict[str, object]]:
    """Measure everything; returns (and writes to benchmarks/results/) the result rows."""
    work = Path(tempfile.mkdtemp(prefix="cl-bench-", dir="/tmp"))
    gate = IdleGate(max_wait)
    try:
        size = size_mib << 20
        source = work / "big.iso"
        make_file(source, size)
        server = SimulatorProcess(work / "server", control_api=True)
        url = server.base_url
        try:
            client = ContentLibraryClient(url, USER, PASSWORD)
            client.login()
            library = client.libraries.list()[0]
            sha = statistics.median(sha1_cpu(size) for _ in range(3))
            sha_wall = sha1_seconds(size)
            small = work / "small.iso"
            make_file(small, 1 << 20)
            fixed = [cl_run(url, "--queue-db", str(work / "q1.sqlite"), "upload",
                            f"{library}/fixed{n}", str(small), "--create").cpu
                     for n in range(3)]  # fmt: skip
            free = transfers(client, url, library, source, work, runs, gate, None, "")
            pin_server(server, SERVER_CORE)
            tied = transfers(client, url, library, source, work, runs, gate, CLIENT_CORE, "p")
            pin_server(server, None)
            source.unlink()
            ovf = four_disks(client, server, library, work, runs, gate, disk_mib, parallel_puts)
            wan = four_disks(client, server, library, work, 1, gate, disk_mib, parallel_puts, WAN)
            rss = peak_memory(client, url, library, work, rss_gib) if rss_gib else {}
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows, report = summarize(size, sha, sha_wall, statistics.median(fixed), free, tied, ovf,
                             wan, parallel_puts, rss, rss_gib, runs, gate, disk_mib)  # fmt: skip
    print(report)
    write_results("bench_transfers", rows)
    if write:
        replace_section(Path(write), "Transfers", report)
    return rows


def summarize(size: int, sha: float, sha_wall: float, fixed: float, free: tuple[Side, Side],
              tied: tuple[Side, Side], ovf: OvfRuns, wan: OvfRuns, parallel_puts: int,
              rss: dict[str, float], rss_gib: int, runs: int, gate: IdleGate,
              disk_mib: int) -> tuple[list[dict[str, object]], str]:  # fmt: skip
    rows: list[dict[str, object]] = []

    def row(measure: str, values: list[float], unit: str, goal: str, ceiling: str | None,
            met: bool | None, before: str | None = None) -> None:  # fmt: skip
        rows.append({"measure": measure, "value": round(statistics.median(values), 3),
                     "unit": unit, "goal": goal, "ceiling": ceiling, "met": met,
                     "before": before})  # fmt: skip

    lines = [
        f"`benchmarks/bench_transfers.py` (measured {time.strftime('%Y-%m-%d')}): loopback, "
        f"plain HTTP, embedded service in its own process, a {size >> 20} MiB file, curl and "
        f"cl-transfer alternating, median [min-max] of {runs} runs after one warm-up, each "
        f"run after waiting for >= 85% idle CPU ({gate.busy_starts} started busy). cl-transfer "
        "is the whole command (start-up, login, session, transfer with streaming SHA-1, "
        "verification; downloads also fsync before the rename, curl does not). CPU-seconds "
        "are the process's user + system time (os.wait4). Pinned: server on core "
        f"{SERVER_CORE}, client and curl on core {CLIENT_CORE} (`taskset`).",
        "",
        "| measure | result | goal | ceiling beside it (same run) | before |",
        "|---|---|---|---|---|",
    ]
    for label, (up, down) in (("", free), (", pinned", tied)):
        for name, side in (("upload", up), ("download", down)):
            ratio = side.speed_ratio()
            curl_mbps = [size / r.seconds / 1e6 for r in side.curl]
            cl_mbps = [size / r.seconds / 1e6 for r in side.cl]
            goal = "reported" if label else ">= 0.9x"
            met = None if label else statistics.median(ratio) >= 0.9
            ceiling = f"curl {statistics.median(curl_mbps):.0f} MB/s"
            before = None if label else BEFORE[f"{name} speed"]
            row(f"{name} speed, cl-transfer / curl{label}", ratio, "x", goal, ceiling, met, before)
            lines.append(
                f"| {name} speed{label}: cl-transfer / curl | {med(ratio)}x "
                f"({statistics.median(cl_mbps):.0f} MB/s) | {goal} | {ceiling} | {before or ''} |"
            )
            cpu_ratio = side.cpu_ratio(sha)
            curl_cpu = statistics.median(r.cpu for r in side.curl)
            cl_cpu = statistics.median(r.cpu for r in side.cl)
            goal = "reported" if label else "<= 1.15x"
            met = None if label else statistics.median(cpu_ratio) <= 1.15
            ceiling = f"curl {curl_cpu:.2f} + SHA-1 {sha:.2f} CPU-s"
            before = None if label else BEFORE[f"{name} CPU"]
            row(f"{name} client CPU / (curl + SHA-1){label}", cpu_ratio, "x", goal, ceiling, met,
                before)  # fmt: skip
            lines.append(
                f"| {name} CPU{label}: cl-transfer / (curl + SHA-1) | {med(cpu_ratio)}x "
                f"({cl_cpu:.2f} CPU-s) | {goal} | {ceiling} | {before or ''} |"
            )
            if side.fsync:  # the peer that also makes the file durable before it is used
                trios = list(zip(side.curl, side.fsync, side.cl, strict=True))
                synced = [(c.seconds + f.seconds) / t.seconds for c, f, t in trios]
                synced_cpu = [t.cpu / (c.cpu + f.cpu + sha) for c, f, t in trios]
                fsync_cpu = statistics.median(f.cpu for f in side.fsync)
                fsync_s = statistics.median(f.seconds for f in side.fsync)
                synced_ceiling = f"`sync FILE` {fsync_s:.2f} s, {fsync_cpu:.2f} CPU-s"
                row(f"{name} speed, cl-transfer / (curl + fsync){label}", synced, "x",
                    "reported", synced_ceiling, None)  # fmt: skip
                row(f"{name} client CPU / (curl + fsync + SHA-1){label}", synced_cpu, "x",
                    "reported", synced_ceiling, None)  # fmt: skip
                lines.append(
                    f"| {name}{label}: cl-transfer / (curl + `sync FILE`) | speed {med(synced)}x, "
                    f"CPU {med(synced_cpu)}x | reported | {synced_ceiling} | |"
                )
            if not label:  # the same without cl-transfer's fixed cost (a 1 MiB command's)
                stream = [(t.cpu - fixed) / (c.cpu + sha)
                          for c, t in zip(side.curl, side.cl, strict=True)]  # fmt: skip
                row(f"{name} client CPU minus fixed cost / (curl + SHA-1)", stream, "x",
                    "reported", ceiling, None)  # fmt: skip
                lines.append(
                    f"| {name} CPU without the fixed {fixed:.2f} CPU-s | {med(stream)}x | "
                    f"reported | {ceiling} | |"
                )
    for label, runs_of in (("", ovf), (f", each connection at {WAN / 1e6:.0f} MB/s", wan)):
        one, many = runs_of.seconds[1], runs_of.seconds[parallel_puts]
        speedup = [s / p for s, p in zip(one, many, strict=True)]
        busy = (f"cores busy: {statistics.median(runs_of.cores[1]):.2f} one at a time, "
                f"{statistics.median(runs_of.cores[parallel_puts]):.2f} parallel, of "
                f"{os.cpu_count()}")  # fmt: skip
        goal = "reported" if label else ">= 1.3x"
        row(f"OVF of 4 disks: one PUT at a time / parallel PUTs{label}", speedup, "x", goal,
            busy, None if label else statistics.median(speedup) >= 1.3,
            None if label else "1.0x (one PUT at a time)")  # fmt: skip
        lines.append(
            f"| OVF of 4 x {disk_mib} MiB disks{label}: one PUT at a time / {parallel_puts} at "
            f"once | {med(speedup)}x ({med(one)} s vs {med(many)} s) | {goal} | {busy} | "
            f"{'' if label else '1.0x'} |"
        )
    for direction in ("up", "down"):
        if not rss:
            break
        growth = rss[f"{direction} big"] - rss[f"{direction} small"]
        name = "upload" if direction == "up" else "download"
        row(f"peak RSS growth, {name} 16 MiB -> {rss_gib} GiB", [growth], "MiB", "<= 10 MiB",
            None, growth <= 10)  # fmt: skip
        lines.append(
            f"| peak RSS, {name}: 16 MiB file -> {rss_gib} GiB file | "
            f"{rss[f'{direction} small']:.1f} -> {rss[f'{direction} big']:.1f} MiB "
            f"(growth {growth:+.1f} MiB) | growth <= 10 MiB | | |"
        )
    lines += [
        "",
        f"SHA-1 of {size >> 20} MiB in memory, one core, same run: {sha:.2f} CPU-s "
        f"({size / sha_wall / 1e6:.0f} MB/s). The fixed cost of a cl-transfer command (a 1 MiB "
        f"upload: interpreter start-up, imports, login, session, verification): {fixed:.2f} "
        "CPU-s.",
    ]
    return rows, "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--disk-mib", type=int, default=256)
    parser.add_argument("--parallel-puts", type=int, default=3)
    parser.add_argument("--rss-gib", type=int, default=8, help="0: skip the memory rows")
    parser.add_argument("--max-wait", type=float, default=20.0, help="seconds to wait for idle")
    parser.add_argument("--write", help="update the '## Transfers' section of this file")
    args = parser.parse_args()
    run(args.runs, args.size_mib, args.disk_mib, args.parallel_puts, args.rss_gib, args.write,
        args.max_wait)  # fmt: skip


if __name__ == "__main__":
    main()
