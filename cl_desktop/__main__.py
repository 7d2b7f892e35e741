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
from typing import TYPE_CHECKING

from cl_desktop import __version__

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from cl_desktop.services.errors import ErrorInfo

log = logging.getLogger("cl_desktop")
SELF_TEST_TIMEOUT_S = 60.0


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
    # packaging: what the built application's smoke check runs
    parser.add_argument("--version", action="version", version=f"cl-desktop {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="start on the demo service in a temporary data folder (or --data-dir), wait until "
        "its libraries are listed, and exit 0; exit 1 with a message on any error or after "
        "--self-test-timeout (works with QT_QPA_PLATFORM=offscreen)",
    )
    parser.add_argument(
        "--self-test-timeout",
        type=float,
        default=SELF_TEST_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long --self-test waits (default {SELF_TEST_TIMEOUT_S:.0f})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from cl_desktop import logs

    if args.self_test:  # the self-test keeps out of the user's folders, its log included
        logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
        log_file = None
    else:  # stderr as before, and cl-desktop.log (rotating, redacted) in the log dir
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
    from cl_desktop.ui.icons import app_icon

    qt_app.setWindowIcon(app_icon())  # every window's, unless it sets its own
    from cl_desktop.ui.translations import install_translators

    install_translators(qt_app)  # the system's language, where a translation exists
    if args.self_test:
        return _self_test(qt_app, args)
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
        crashes.uninstall()


def _self_test(qt_app: QApplication, args: argparse.Namespace) -> int:
    """The packaged application's smoke check: the window on the embedded demo service.

    Passes once the demo library is listed; any error shown, or the timeout, fails it. The data
    folder (and with it settings, profiles, logs and cache) is a temporary one, so the user's
    own are neither read nor changed."""
    import os
    import tempfile

    from PySide6.QtCore import QTimer

    from cl_desktop import paths
    from cl_desktop.app import AppConfig, Application
    from cl_desktop.demo import DEMO_LIBRARY
    from cl_desktop.ui.dialogs import Prompts

    failures: list[str] = []

    def fail(text: str) -> None:
        failures.append(text)
        qt_app.exit(1)

    def ask_login(*_: object) -> None:
        fail("the self-test was asked to log in")

    def confirm(_parent: object, title: str, *_: object) -> bool:
        fail(f"the self-test was asked: {title}")
        return False

    def show_error(_parent: object, error: ErrorInfo) -> None:
        fail(error.text)

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        traceback.print_exception(kind, exc, tb)
        fail(f"unexpected {kind.__name__}: {exc}")

    sys.excepthook = excepthook
    prompts = Prompts(ask_login=ask_login, confirm=confirm, show_error=show_error)
    with tempfile.TemporaryDirectory(prefix="cl-desktop-self-test-") as scratch:
        data_dir = args.data_dir or Path(scratch)
        os.environ[paths.DATA_DIR_ENV] = str(data_dir)  # profiles, logs, cache: all in there
        app = Application(AppConfig(demo=True, data_dir=data_dir), prompts=prompts)

        def on_libraries(_server: object, libraries: Sequence[object]) -> None:
            names = [getattr(library, "name", None) for library in libraries]
            if qt_app.windowIcon().isNull() or not _icon_drawn():
                fail("the icons did not load")
            elif DEMO_LIBRARY in names and app.window.isVisible():
                print(f"self-test passed: connected to the demo service, libraries {names}")
                qt_app.exit(0)
            else:
                fail(f"the demo service listed {names}, not {DEMO_LIBRARY!r}")

        app.browser.libraries_loaded.connect(on_libraries)
        app.browser.libraries_failed.connect(lambda _s, e: fail(f"listing libraries: {e.text}"))
        timeout = args.self_test_timeout
        QTimer.singleShot(int(timeout * 1000), lambda: fail(f"timed out after {timeout:g} s"))
        app.start()
        try:
            status = qt_app.exec()
        finally:
            app.window.hide()  # now, while the docks' services still exist
            app.shutdown()
    if failures or status != 0:
        print(f"self-test failed: {failures[0] if failures else status}", file=sys.stderr)
        return 1
    return 0


def _icon_drawn() -> bool:
    """An action icon drew something: its SVG file was found and QtSvg is there to draw it."""
    from PySide6.QtCore import QSize
    from PySide6.QtGui import QImage

    from cl_desktop.ui.icons import action_icon

    image = action_icon("upload").pixmap(QSize(24, 24)).toImage()
    blank = QImage(image.size(), image.format())
    blank.fill(0)
    return not image.isNull() and image != blank


if __name__ == "__main__":
    sys.exit(main())
