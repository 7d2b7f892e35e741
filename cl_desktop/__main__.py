"""Command line entry point: `cl-desktop [--demo] [--data-dir DIR] [--server URL --user NAME]`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("cl_desktop")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cl-desktop",
        description="Desktop transfer manager for VMware vSphere Content Library.",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded Content Library service (seeded with samples) and use it",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="keep the queue, history, settings and demo server here "
        "(default: $CL_DESKTOP_DATA_DIR, else the user data directory)",
    )
    parser.add_argument("--server", metavar="URL", help="server to offer in the connect dialog")
    parser.add_argument("--user", metavar="NAME", help="user name to offer in the connect dialog")
    parser.add_argument(
        "--parallel", type=int, default=2, metavar="N", help="transfers at the same time"
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from cl_desktop import logs

    # stderr as before, and cl-desktop.log (rotating, redacted) in the log dir
    log_file = logs.setup_logging(
        logs.WINDOW_LOG,
        level=logging.DEBUG if args.debug else logging.INFO,
        directory=logs.log_dir(args.data_dir),
    )
    # Qt is imported only now, so that --help works without a display.
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from cl_desktop.app import AppConfig, Application

    qt_app = QApplication(sys.argv[:1])
    qt_app.setApplicationName("cl-desktop")
    qt_app.setApplicationDisplayName("cl_desktop")
    qt_app.setOrganizationName("cl-desktop")
    qt_app.setDesktopFileName("cl-desktop")
    # An exception escaping a slot or a thread: logged, shown in one crash dialog, app running.
    from cl_desktop.ui.crash_dialog import CrashReporter

    crashes = CrashReporter(logs.log_file(log_file))
    crashes.install()
    app = Application(
        AppConfig(
            demo=args.demo,
            data_dir=args.data_dir,
            server=args.server,
            user=args.user,
            max_parallel=max(1, args.parallel),
        )
    )
    # Ctrl+C and SIGTERM quit cleanly (running transfers pause and resume next time). Python
    # runs signal handlers only between bytecodes, so a timer wakes it now and then.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: qt_app.quit())
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)
    app.start()
    try:
        return qt_app.exec()
    finally:
        app.shutdown()
        crashes.uninstall()


if __name__ == "__main__":
    sys.exit(main())
