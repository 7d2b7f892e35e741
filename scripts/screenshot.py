"""Regenerate docs/screenshots/main-window.png: the window in demo mode, mid-transfer.

    .venv/bin/python scripts/screenshot.py [--output PATH]

Runs offscreen (no display needed) on a throwaway data dir: the demo server is throttled
so that an upload and a download are caught half way.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEventLoop  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from cl_desktop.app import AppConfig, Application  # noqa: E402
from cl_desktop.transfers.jobs import JobState  # noqa: E402
from cl_desktop.ui.dialogs import Prompts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "docs" / "screenshots" / "main-window.png"
THROTTLE = 6 * 1024 * 1024  # bytes/s per transfer: slow enough to catch them running


def spin_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Run the Qt event loop until `condition()` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def write_iso(path: Path, size: int) -> Path:
    block = bytes(range(256)) * 4096
    with path.open("wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    qt_app = QApplication(sys.argv[:1])
    qt_app.setApplicationDisplayName("cl_desktop")
    with tempfile.TemporaryDirectory(prefix="cl-desktop-shot-") as tmp:
        work = Path(tmp)
        downloads = work / "Downloads"
        downloads.mkdir()
        prompts = Prompts(
            confirm=lambda *_: True,
            ask_directory=lambda *_: str(downloads),
            show_error=lambda _parent, error: print(error.text, file=sys.stderr),
        )
        app = Application(AppConfig(demo=True, data_dir=work / "data"), prompts=prompts)
        window = app.window
        window.resize(1280, 820)
        app.start()
        spin_until(lambda: window.item_model.rowCount() == 3, 30, "the demo library")
        assert app.demo is not None
        app.demo.service.faults.throttle(THROTTLE)

        # An upload dropped on the library (a new ISO item) and a download of the template.
        iso = write_iso(work / "rocky-9-minimal.iso", 160 * 1024 * 1024)
        window.drop_on_items(None, [str(iso)])
        row = window.item_model.row_of_name("demo-vm")
        index = window.item_proxy.mapFromSource(window.item_model.index(row, 0))
        window.item_view.setCurrentIndex(index)
        window.item_view.selectRow(index.row())
        window.download_selected_items()
        window.details.setCurrentIndex(1)  # the Files tab
        spin_until(lambda: window.details.files_model.rowCount() == 2, 10, "the files")
        dock = window.dock

        def caught_running() -> bool:
            jobs = dock.queue_model.snapshots()
            return len(jobs) == 2 and any(
                j.state is JobState.RUNNING and 0.3 < j.fraction < 0.7 and j.speed > 0
                for j in jobs
            )

        spin_until(caught_running, 60, "a transfer half way")
        dock.queue_model.flush()
        dock.queue_view.selectRow(0)
        window.item_view.setFocus()
        QCoreApplication.processEvents()
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.output)):
            raise SystemExit(f"could not write {args.output}")
        print(f"wrote {args.output} ({window.width()}x{window.height()})")
        app.demo.service.faults.throttle(None)
        window.close()
        app.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
