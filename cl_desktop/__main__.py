"""Command line entry point: `cl-desktop [--demo] [--data-dir DIR] [--server URL --user NAME]`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

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
        "--parallel",
        type=int,
        metavar="N",
        help="transfers at the same time, for this run (default: the Settings' value, 2)",
    )
    parser.add_argument("--debug", action="store_true", help="log debug messages")
    return parser.parse_args(argv)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """An exception in a Qt slot: log it and show it with copyable details; keep running."""
    log.critical("unhandled exception", exc_info=(exc_type, exc, tb))
    from cl_desktop.services.errors import ErrorInfo, ErrorKind
    from cl_desktop.ui.dialogs import show_error

    details = "".join(traceback.format_exception(exc_type, exc, tb))
    show_error(
        None, ErrorInfo("Unexpected error", f"{exc_type.__name__}: {exc}", ErrorKind.BUG, details)
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
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
    sys.excepthook = _excepthook
    app = Application(
        AppConfig(
            demo=args.demo,
            data_dir=args.data_dir,
            server=args.server,
            user=args.user,
            max_parallel=max(1, args.parallel) if args.parallel is not None else None,
        )
    )
    if not args.debug:  # the Settings' log level (the dialog changes it while running)
        from cl_desktop import preferences

        preferences.apply_log_level(app.preferences.current)

    # Ctrl+C and SIGTERM quit cleanly (running transfers pause and resume next time), without
    # the question about running transfers. Python runs signal handlers only between
    # bytecodes, so a timer wakes it now and then.
    def quit_now(*_: object) -> None:
        app.window.quit_guard.allow()
        qt_app.quit()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, quit_now)
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)
    app.start()
    try:
        return qt_app.exec()
    finally:
        app.shutdown()


if __name__ == "__main__":
    sys.exit(main())
