"""Benchmark browsing a big library in the window: first rows, every row, and reopening it
from the item cache in a new app run; curl fetching the same items beside it.

    .venv/bin/python benchmarks/bench_browse.py [--items 10000] [--runs 3] [--idle-wait 30]
                                                [--before-checkout /path/to/old/checkout]
                                                [--write docs/PERFORMANCE.md]

A library of `--items` items is seeded straight into the embedded service's store; the
service runs in its own process (a vCenter is another machine). Each run, alternating with
curl:

- cold: a new app (no cache) logs in, then the library is selected; timed until the first
  rows are painted, until every row is in the table and painted, and until the load ended.
- reopen: another new app on the same data dir (so the same item cache) logs in, the library
  is selected; timed until the cached rows are painted, all of them, and until the
  revalidation (the list, then every item's GET again) ended.
- curl: `curl --parallel --parallel-max 8` GETs every item on kept-alive connections (the
  same server and items, no GUI): the floor under "every row".

`--before-checkout DIR` times the cold load with another checkout's code (PYTHONPATH=DIR,
the same server): the "before" column. The 10,000-row table's model reset and filter
keystrokes (moved here from bench_gui.py) are measured on the reopened app.
Runs offscreen unless QT_QPA_PLATFORM is set. `run()` is what benchmarks/run_all.py calls.
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
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import requests
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from common import (  # noqa: E402
    PASSWORD,
    USER,
    IdleGate,
    SimulatorProcess,
    replace_section,
    write_results,
)

from cl_desktop.app import AppConfig, Application  # noqa: E402
from cl_desktop.services.connection import LoginRequest  # noqa: E402
from cl_desktop.simulator.models import Item, Library  # noqa: E402
from cl_desktop.simulator.store import Store  # noqa: E402
from cl_desktop.ui.dialogs import Prompts  # noqa: E402
from tests.support.waiting import spin_until  # noqa: E402

NAME = "bench_browse"
LIBRARY = "The big library"  # after "Local library": not the one selected at login
GOALS = {"first": 0.5, "all": 5.0, "cached": 0.3, "keystroke": 50.0, "reset": 2.0}
MOONSHOTS = {"first": 0.2, "all": 2.0}
BEFORE_ISSUE_12 = "13.8 s, every row at once (bench_gui, 2026-11-27)"


def seed_items(data_dir: Path, count: int) -> None:
    """A library of `count` items written straight into the service's store (no API calls)."""
    store = Store(data_dir)
    now = time.time()
    library = Library(str(uuid.uuid4()), LIBRARY, "", now, now)
    store.add_library(library)
    kinds = ("iso", "ovf", "file")
    for n in range(count):
        item = Item(
            str(uuid.uuid4()), library.id, f"item-{n:05d}", "", kinds[n % 3], now - n, now - n
        )
        store.add_item(item)
    store.close()


def quiet_prompts() -> Prompts:
    return Prompts(
        ask_login=lambda *_: None,
        confirm=lambda *_: True,
        show_error=lambda _parent, error: print(f"  error: {error.text}", file=sys.stderr),
    )


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Shown:
    """When the item table first painted rows, painted `count` rows, and the load ended."""

    def __init__(self, app: Application, count: int) -> None:
        self.window = app.window
        self.count = count
        self.start = 0.0
        self.first: float | None = None
        self.all: float | None = None
        self.loaded: float | None = None
        self._pending: set[str] = set()
        model = self.window.item_model
        model.rowsInserted.connect(self._changed)
        model.modelReset.connect(self._changed)
        app.browser.items_loaded.connect(self._loaded)

    def begin(self) -> None:
        self.start = time.perf_counter()

    def _changed(self, *_: object) -> None:
        rows = self.window.item_model.rowCount()
        if self.first is None and rows > 0 and "first" not in self._pending:
            self._pending.add("first")
            QTimer.singleShot(0, lambda: self._paint("first"))
        if self.all is None and rows >= self.count and "all" not in self._pending:
            self._pending.add("all")
            QTimer.singleShot(0, lambda: self._paint("all"))

    def _paint(self, which: str) -> None:
        self.window.item_view.viewport().repaint()  # what the user sees, painted
        setattr(self, which, time.perf_counter() - self.start)

    def _loaded(self, *_: object) -> None:
        if self.loaded is None:
            self.loaded = time.perf_counter() - self.start

    def done(self) -> bool:
        return None not in (self.first, self.all, self.loaded)


def open_app(data_dir: Path, settings: Path, url: str) -> Application:
    app = Application(AppConfig(data_dir=data_dir, settings_path=settings), prompts=quiet_prompts())
    app.window.resize(1280, 820)
    app.window.show()
    app.connect_to(LoginRequest(url, USER, PASSWORD))
    spin_until(lambda: app.window.library_id is not None, 30, "the login")
    spin_until(lambda: not app.browser.busy, 30, "the first library")
    return app


def select_library(app: Application) -> None:
    window = app.window
    root = window.library_model.item(0)
    node = next(root.child(r) for r in range(root.rowCount()) if root.child(r).text() == LIBRARY)
    window.library_tree.setCurrentIndex(node.index())


def timed_load(
    data_dir: Path, settings: Path, url: str, count: int, server_pid: int
) -> tuple[Shown, tuple[float, float, float], Application]:
    """Select the library in a new app; (times, (client, its GUI thread, server) CPU-s,
    the app)."""
    app = open_app(data_dir, settings, url)
    shown = Shown(app, count)
    cpu0, gui0, server0 = time.process_time(), time.thread_time(), server_cpu(server_pid)
    shown.begin()
    select_library(app)
    spin_until(shown.done, 300, "the big library")
    cpu = (
        time.process_time() - cpu0,
        time.thread_time() - gui0,
        server_cpu(server_pid) - server0,
    )
    return shown, cpu, app


def close(app: Application) -> None:
    app.window.close()
    app.shutdown()
    QCoreApplication.processEvents()


def curl_all(url: str, library_id: str, work: Path) -> float:
    """curl GETting every item, 8 at a time on kept-alive connections; seconds."""
    http = requests.Session()
    http.trust_env = False
    token = http.post(url + "/api/session", auth=(USER, PASSWORD), timeout=30).json()
    header = {"vmware-api-session-id": token}
    ids = http.get(
        url + "/api/content/library/item", params={"library_id": library_id}, headers=header
    ).json()
    config = work / "curl.cfg"
    lines = [f'header = "vmware-api-session-id: {token}"']
    for item_id in ids:
        lines += [f'url = "{url}/api/content/library/item/{item_id}"', 'output = "/dev/null"']
    config.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    subprocess.run(
        [
            "curl",
            "-sS",
            "--no-progress-meter",
            "--fail",
            "--parallel",
            "--parallel-max",
            "8",
            "-K",
            str(config),
        ],
        check=True,
    )
    elapsed = time.perf_counter() - started
    http.delete(url + "/api/session", headers=header, timeout=30)
    return elapsed


BEFORE = r"""
import sys, time
from pathlib import Path
from PySide6.QtWidgets import QApplication
qt_app = QApplication(sys.argv[:1])
from cl_desktop.app import AppConfig, Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.ui.dialogs import Prompts
from tests.support.waiting import spin_until
work, url, user, password, name, count = sys.argv[1:7]
app = Application(AppConfig(data_dir=Path(work) / "app", settings_path=Path(work) / "s.ini"),
                  prompts=Prompts(ask_login=lambda *a: None, show_error=lambda *a: None))
app.window.resize(1280, 820)
app.window.show()
app.connect_to(LoginRequest(url, user, password))
spin_until(lambda: app.window.library_id is not None, 30, "login")
spin_until(lambda: not app.browser.busy, 30, "first library")
root = app.window.library_model.item(0)
node = next(root.child(r) for r in range(root.rowCount()) if root.child(r).text() == name)
started = time.perf_counter()
app.window.library_tree.setCurrentIndex(node.index())
spin_until(lambda: app.window.item_model.rowCount() > 0, 300, "first rows")
app.window.item_view.viewport().repaint()
first = time.perf_counter() - started
spin_until(lambda: app.window.item_model.rowCount() >= int(count), 300, "all rows")
app.window.item_view.viewport().repaint()
print(f"{first:.3f} {time.perf_counter() - started:.3f}")
app.window.close()
app.shutdown()
"""


def checkout_server(checkout: Path, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """The checkout's own simulator on a copy of the seeded data; (process, base URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cl_desktop.simulator", "--port", "0", "--data-dir",
         str(data_dir), f"--user={USER}:{PASSWORD}"],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(checkout)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("serving "):
        proc.kill()
        raise SystemExit(f"the checkout's simulator did not start: {line!r}")
    return proc, line.split()[1].rstrip("/")


def before_load(checkout: Path, work: Path, url: str, count: int) -> tuple[float, float]:
    """The checkout's window on `url`: (first rows, every row) in seconds."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    work.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", BEFORE, str(work), url, USER, PASSWORD, LIBRARY, str(count)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    first, every = out.stdout.split()[-2:]
    return float(first), float(every)


def table_costs(app: Application, count: int, runs: int) -> tuple[float, float, float]:
    """(model reset + view shown median s, slowest and median filter keystroke ms)."""
    window = app.window
    items = tuple(window.item_model.items())
    library_id = window.library_id or ""
    timings = []
    for _ in range(runs):
        window.item_model.clear()
        QCoreApplication.processEvents()
        started = time.perf_counter()
        window._on_items_loaded(window.server, library_id, items)  # type: ignore[arg-type]
        window.item_view.viewport().repaint()
        QCoreApplication.processEvents()
        timings.append(time.perf_counter() - started)
    assert window.item_model.rowCount() == count
    window.filter_edit.setFocus()
    keystrokes = []
    for text in ("item-0", "item-0"):  # type twice: a cold and a warm pass
        window.filter_edit.clear()
        QCoreApplication.processEvents()
        for ch in text:
            started = time.perf_counter()
            QTest.keyClick(window.filter_edit, ch)
            window.item_view.viewport().repaint()
            QCoreApplication.processEvents()
            keystrokes.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), max(keystrokes), statistics.median(keystrokes)


def spread(values: list[float], digits: int = 2) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def run(
    items: int = 10_000,
    runs: int = 3,
    idle_wait: float = 30.0,
    before_checkout: Path | None = None,
    write: Path | None = None,
) -> list[dict[str, Any]]:
    """Measure, print, write the JSON results (and the docs section when `write`)."""
    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
    gate = IdleGate(idle_wait)
    work = Path(tempfile.mkdtemp(prefix="cl-bench-browse-"))
    measured: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        measured.setdefault(key, []).append(value)

    try:
        print(f"seeding {items:,} items", flush=True)
        seed_items(work / "server", items)
        if before_checkout is not None:
            shutil.copytree(work / "server", work / "before-server")
        server = SimulatorProcess(work / "server")
        assert server._proc is not None
        pid = server._proc.pid
        try:
            library_id = ""
            costs: tuple[float, float, float] | None = None
            for n in range(runs):
                data_dir = work / f"app-{n}"
                gate.wait()
                shown, (cpu, gui_cpu, server_s), app = timed_load(
                    data_dir, work / f"cold-{n}.ini", server.base_url, items, pid
                )
                library_id = app.window.library_id or ""
                close(app)
                add("cold_first", shown.first or 0)
                add("cold_all", shown.all or 0)
                add("cold_loaded", shown.loaded or 0)
                add("cold_cpu", cpu)
                add("cold_gui_cpu", gui_cpu)
                add("cold_server", server_s)
                gate.wait()
                add("curl", curl_all(server.base_url, library_id, work))
                gate.wait()
                shown, _cpu, app = timed_load(
                    data_dir, work / f"warm-{n}.ini", server.base_url, items, pid
                )
                add("warm_first", shown.first or 0)
                add("warm_all", shown.all or 0)
                add("warm_loaded", shown.loaded or 0)
                if n == runs - 1:
                    costs = table_costs(app, items, runs)
                close(app)
                print(
                    f"  run {n + 1}: cold first {measured['cold_first'][-1]:.3f} s, every row "
                    f"{measured['cold_all'][-1]:.2f} s; curl {measured['curl'][-1]:.2f} s; "
                    f"reopened: cached rows {measured['warm_first'][-1]:.3f} s, revalidated "
                    f"{measured['warm_loaded'][-1]:.2f} s",
                    flush=True,
                )
            if before_checkout is not None:
                # the checkout's client on its own service (before), and on this tree's
                # (the client unchanged: what the service's changes alone gave)
                old_server, old_url = checkout_server(before_checkout, work / "before-server")
                try:
                    gate.wait()
                    first, every = before_load(before_checkout, work / "before-1", old_url, items)
                finally:
                    old_server.terminate()
                    old_server.wait(30)
                add("before_first", first)
                add("before_all", every)
                gate.wait()
                _, every = before_load(before_checkout, work / "before-2", server.base_url, items)
                add("old_client_new_server", every)
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    del qt_app

    med = {key: statistics.median(values) for key, values in measured.items()}
    before_first = before_all = BEFORE_ISSUE_12
    if "before_all" in med:
        before_first = f"{med['before_first']:.2f} s (checkout, this run)"
        before_all = f"{med['before_all']:.2f} s (checkout, this run)"
    curl = f"curl, 8 parallel kept-alive GETs: {spread(measured['curl'])} s"
    n = f"{items:,}-item library"
    rows: list[dict[str, Any]] = [
        row(f"{n}: first rows shown after selecting it", med["cold_first"], "first",
            None, before_first, measured["cold_first"]),
        row(f"{n}: every row shown, embedded service", med["cold_all"], "all", curl, before_all,
            measured["cold_all"]),
        row(f"{n}: reopened in a new app run, rows from the local cache", med["warm_first"],
            "cached", None, "no cache", measured["warm_first"]),
        row(f"{n}: reopened, every cached row shown", med["warm_all"], None, None, None,
            measured["warm_all"]),
        row(f"{n}: reopened, revalidated (list + every item GET again)", med["warm_loaded"],
            None, curl, None, measured["warm_loaded"]),
        row(f"{n}: client CPU-seconds, cold load", med["cold_cpu"], None, None, None,
            measured["cold_cpu"], unit="CPU-s"),
        row(f"{n}: of which the GUI thread (rows built, the proxy sorting pages)",
            med["cold_gui_cpu"], None, None, None, measured["cold_gui_cpu"], unit="CPU-s"),
        row(f"{n}: server CPU-seconds, cold load", med["cold_server"], None, None, None,
            measured["cold_server"], unit="CPU-s"),
    ]  # fmt: skip
    if "old_client_new_server" in med:
        rows.append(
            row(f"{n}: every row shown, the checkout's client on this tree's service",
                med["old_client_new_server"], None, None, before_all,
                measured["old_client_new_server"])
        )  # fmt: skip
    if costs is not None:
        reset, worst, median = costs
        old = "(bench_gui, 2026-11-27)"
        rows += [
            row(f"{n}: model reset + view shown", reset, "reset", None, f"0.429 s {old}", [reset]),
            row(f"{n}: filter keystroke, slowest", worst, "keystroke", None, f"16.3 ms {old}",
                [worst], unit="ms", digits=1),
            row(f"{n}: filter keystroke, median", median, None, None, f"12.6 ms {old}", [median],
                unit="ms", digits=1),
        ]  # fmt: skip
    write_results(NAME, rows)
    body = section(rows, runs, gate.busy_starts) + "\n\n" + notes(med, items)
    print()
    print(body)
    if write is not None:
        replace_section(write, "Browsing a big library", body)
        print(f"\nwrote the browsing section of {write}")
    return rows


def row(
    measure: str,
    value: float,
    goal_key: str | None,
    ceiling: str | None,
    before: str | None,
    values: list[float],
    unit: str = "s",
    digits: int = 2,
) -> dict[str, Any]:
    goal = GOALS.get(goal_key or "")
    moon = MOONSHOTS.get(goal_key or "")
    goal_text = "" if goal is None else f"< {goal:g} {unit}"
    if moon is not None:
        goal_text += f" (moonshot < {moon:g} {unit})"
    return {
        "measure": measure,
        "value": round(value, 4),
        "unit": unit,
        "goal": goal_text,
        "ceiling": ceiling,
        "met": None if goal is None else value < goal,
        "before": before,
        "spread": spread(values, digits) + f" {unit}",
    }


def section(rows: list[dict[str, Any]], runs: int, busy: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} by `benchmarks/bench_browse.py` on "
        f"{os.cpu_count()} vCPU, Python {platform.python_version()}: the embedded service in "
        f"its own process on loopback, the window offscreen; median (min-max) of {runs} runs, "
        "each after waiting for an idle CPU"
        + (f" ({busy} started busy)" if busy else "")
        + ". A row counts as shown once painted.",
        "",
        "| measure | result | goal | met | ceiling | before |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "MISSED")
        lines.append(
            f"| {r['measure']} | {r['spread']} | {r['goal']} | {met} | {r['ceiling'] or ''} "
            f"| {r['before'] or ''} |"
        )
    return "\n".join(lines)


def notes(med: dict[str, float], items: int) -> str:
    """Where the time of "every row" goes, from this run's numbers."""
    per_get = (med["cold_cpu"] - med["cold_gui_cpu"]) / items * 1000
    text = (
        f"Every row of a cold load costs the client {med['cold_cpu']:.1f} CPU-s: "
        f"{per_get:.2f} ms of CPU per item GET on its fetching threads (urllib3 and "
        "http.client sending, parsing the status line and headers, the model decoded) and "
        f"{med['cold_gui_cpu']:.1f} s on the GUI thread; the service spends "
        f"{med['cold_server'] / items * 1000:.2f} ms per GET on the other core. So the client's "
        "Python, under one GIL, is what stands between this and curl, whose "
        f"{med['curl']:.2f} s is the service's own floor (one GET at a time per item, as the "
        "API lists ids only). The GETs go 3 at a time: more threads only fight over the "
        "GIL against a fast server (8 once the first GETs show a slow one)."
    )
    if "old_client_new_server" in med:
        text += (
            f" The service's own changes (an answer in one send, no log line formatted) "
            f"moved the old client's every-row time from {med['before_all']:.2f} s to "
            f"{med['old_client_new_server']:.2f} s: the rest of the gain is the client's."
        )
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-wait", type=float, default=30.0)
    parser.add_argument("--before-checkout", type=Path)
    parser.add_argument("--write", type=Path, metavar="FILE")
    args = parser.parse_args()
    run(args.items, args.runs, args.idle_wait, args.before_checkout, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
