"""Regenerate docs/screenshots/main-window.png and sessions.png: the window in demo mode,
mid-transfer, and its Sessions view during that upload (beside an orphan session).

    .venv/bin/python scripts/screenshot.py [--output PATH] [--sessions-output PATH]

Runs offscreen (no display needed) on a throwaway data dir: the demo server is throttled
so that an upload and a download are caught half way.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
# It shares the tests' file generator and event-loop wait (tests.support).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QCoreApplication  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from cl_desktop.api import ContentLibraryClient  # noqa: E402
from cl_desktop.app import AppConfig, Application  # noqa: E402
from cl_desktop.transfers.jobs import Direction, JobState  # noqa: E402
from cl_desktop.ui.dialogs import Prompts  # noqa: E402
from cl_desktop.ui.item_model import item_of  # noqa: E402
from tests.support.files import make_file  # noqa: E402
from tests.support.waiting import spin_until  # noqa: E402

DEFAULT_OUTPUT = ROOT / "docs" / "screenshots" / "main-window.png"
SESSIONS_OUTPUT = ROOT / "docs" / "screenshots" / "sessions.png"
THROTTLE = 6 * 1024 * 1024  # bytes/s per transfer: slow enough to catch them running


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--sessions-output", type=Path, default=SESSIONS_OUTPUT)
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
            # the template as loose files, as remembered (the dialog would wait for a click)
            ask_download_options=lambda _parent, question: question.initial,
        )
        app = Application(AppConfig(demo=True, data_dir=work / "data"), prompts=prompts)
        window = app.window
        window.resize(1280, 820)
        app.start()
        spin_until(lambda: window.item_model.rowCount() == 3, 30, "the demo library")
        assert app.demo is not None
        app.demo.service.faults.throttle(THROTTLE)

        # An upload dropped on the library (a new ISO item) and a download of the template.
        iso = make_file(work / "rocky-9-minimal.iso", 96 * 1024 * 1024)
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
            # The download finished (and verified), the upload half way.
            jobs = {j.spec.direction: j for j in dock.queue_model.snapshots()}
            upload, download = jobs.get(Direction.UPLOAD), jobs.get(Direction.DOWNLOAD)
            return (
                download is not None
                and download.state is JobState.DONE
                and upload is not None
                and upload.state is JobState.RUNNING
                and 0.35 < upload.fraction < 0.65
            )

        spin_until(caught_running, 60, "a transfer half way")
        dock.queue_model.flush()
        dock.queue_view.selectRow(1)
        window.item_view.setFocus()
        QCoreApplication.processEvents()
        args.output.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(args.output)):
            raise SystemExit(f"could not write {args.output}")
        print(f"wrote {args.output} ({window.width()}x{window.height()})")

        # The Sessions view during the upload, beside a session no job owns (an orphan).
        demo_vm = item_of(window.item_model.index(window.item_model.row_of_name("demo-vm"), 0))
        assert demo_vm is not None and demo_vm.id
        with ContentLibraryClient(app.demo.url, app.demo.username, app.demo.password) as client:
            client.update_sessions.create(demo_vm.id)
        sessions = window.sessions_dock
        assert sessions is not None
        window.show_sessions()
        spin_until(lambda: len(sessions.model.sessions()) == 2, 30, "the two sessions")
        sessions.select_session(sessions.orphans()[0].session_id)
        sessions.view.setFocus()
        QCoreApplication.processEvents()
        if not window.grab().save(str(args.sessions_output)):
            raise SystemExit(f"could not write {args.sessions_output}")
        print(f"wrote {args.sessions_output}")
        app.demo.service.faults.throttle(None)
        window.close()
        app.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
