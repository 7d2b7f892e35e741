"""Benchmark: an OVF template uploaded as one .ova against the same files loose (.ovf + disks).

Starts the embedded service (plain HTTP) in a subprocess and times `cl-transfer upload` (the
whole command: start-up, login, pre-flight, session, PUTs with streaming hash, verification,
complete) of a template of two disks, as an .ova and as loose files, alternating, with and
without a SHA-256 manifest; and the peak RSS of the .ova upload (the members are read in place:
memory must not grow with the archive). The peer is the loose upload in the same run.

    python benchmarks/bench_ova.py [--runs 3] [--disk-mib 256] [--write docs/PERFORMANCE.md]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_transfers import cl_transfer
from common import PASSWORD, USER, SimulatorProcess, make_file, replace_section

from cl_desktop.api import ContentLibraryClient
from tests.support.ova import template_members, write_ova


def write_template(folder: Path, disks: list[Path], manifest: bool) -> tuple[Path, Path]:
    """(the loose .ovf, the .ova) of the same template; the disks are in `folder`."""
    members = template_members("app", disks)
    if not manifest:
        members = [m for m in members if not m[0].endswith(".mf")]
    for name, content in members:
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
    return folder / "app.ovf", write_ova(folder.parent / f"{folder.name}.ova", members)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--disk-mib", type=int, default=256)
    parser.add_argument("--write", help="update the '## OVA uploads' section of this file")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cl-bench-ova-", dir="/tmp"))
    try:
        size = 2 * (args.disk_mib << 20)
        sources: dict[bool, tuple[Path, Path]] = {}
        for manifest in (True, False):
            folder = work / ("with-mf" if manifest else "no-mf")
            folder.mkdir()
            disks = [
                make_file(folder / f"app-disk{n}.vmdk", args.disk_mib << 20, n) for n in (1, 2)
            ]
            sources[manifest] = write_template(folder, disks, manifest)
        server = SimulatorProcess(work / "server")
        url = server.base_url
        times: dict[tuple[bool, str], list[float]] = {}
        rss: list[float] = []
        try:
            client = ContentLibraryClient(url, USER, PASSWORD)
            client.login()
            library = client.libraries.list()[0]
            queue_db = str(work / "queue.sqlite")
            for run in range(args.runs + 1):  # the first run warms caches and is not counted
                for manifest, (ovf, ova) in sources.items():
                    for kind, path in (("loose", ovf), ("ova", ova)):
                        # a new item per upload: no version is replaced (and deleted) meanwhile
                        seconds, peak = cl_transfer(url, "--queue-db", queue_db, "upload",
                                                    f"{library}/{kind}-{manifest}-{run}",
                                                    str(path), "--create")  # fmt: skip
                        print(f"run {run} {kind} manifest={manifest}: {seconds:.2f}s "
                              f"{peak:.0f} MiB", flush=True)  # fmt: skip
                        if run:
                            times.setdefault((manifest, kind), []).append(seconds)
                            if kind == "ova":
                                rss.append(peak)
            client.close()
        finally:
            server.stop()
        lines = [
            f"Loopback, plain HTTP, embedded service in its own process, a template of two "
            f"{args.disk_mib} MiB disks, `cl-transfer upload` (the whole command), median of "
            f"{args.runs} runs after one warm-up, loose and .ova alternating "
            f"(measured {time.strftime('%Y-%m-%d')}). Goal: the .ova within 10% of loose.",
            "",
            "| template | loose s | .ova s | .ova MB/s | .ova / loose |",
            "|---|---|---|---|---|",
        ]
        for manifest in (True, False):
            loose = statistics.median(times[(manifest, "loose")])
            ova = statistics.median(times[(manifest, "ova")])
            label = "with a SHA-256 manifest" if manifest else "no manifest"
            speed = size / ova / 1e6
            lines.append(
                f"| {label} | {loose:.2f} | {ova:.2f} | {speed:.0f} | {ova / loose:.2f}x |"
            )
        lines += [
            "",
            "Loose files with a manifest are hashed at pre-flight, then sent; an .ova is read once",
            "(its manifest is checked against the hash computed while sending, before complete).",
            f"Peak RSS of the .ova uploads: {max(rss):.0f} MiB for a {size >> 20} MiB archive.",
        ]
        report = "\n".join(lines)
        print(report)
        if args.write:
            replace_section(Path(args.write), "OVA uploads", report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
