"""The composition root: builds every service once, injects it, and starts and stops them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, QTimer

from cl_desktop import logs, paths, preferences
from cl_desktop.credentials.passwords import Passwords
from cl_desktop.services import (
    BackgroundTasks,
    Connector,
    ErrorInfo,
    LibraryBrowser,
    LoginRequest,
    QThreadSpawner,
    TransferService,
)
from cl_desktop.services.compare import LibraryComparer
from cl_desktop.services.connections import ConnectionService
from cl_desktop.services.item_cache import CACHE_NAME, ItemCache
from cl_desktop.services.library_admin import LibraryAdmin
from cl_desktop.services.sessions import SessionMonitor
from cl_desktop.services.settings import SettingsService
from cl_desktop.transfers.jobs import JobSnapshot, JobState, ServerRef
from cl_desktop.transfers.policy import RetryPolicy
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from cl_desktop.ui.connect_dialog import login_asker
from cl_desktop.ui.dialogs import Prompts
from cl_desktop.ui.help_menu import HelpMenu
from cl_desktop.ui.library_tools import LibraryTools
from cl_desktop.ui.main_window import MainWindow

if TYPE_CHECKING:
    from cl_desktop.demo import DemoServer

APP_NAME = paths.APP_NAME
SHUTDOWN_WAIT_S = 10.0


@dataclass(frozen=True)
class AppConfig:
    """What the command line chose."""

    demo: bool = False
    data_dir: Path | None = None  # default: paths.data_dir() (CL_DESKTOP_DATA_DIR, else the user's)
    settings_path: Path | None = None  # default: <data dir>/settings.ini with --data-dir
    server: str | None = None
    user: str | None = None
    max_parallel: int | None = None  # for this run; None: the preference

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir or paths.data_dir()

    @property
    def resolved_settings_path(self) -> Path:
        if self.settings_path is not None:
            return self.settings_path
        if self.data_dir is not None:  # --data-dir isolates a whole instance
            return self.data_dir / "settings.ini"
        return paths.config_dir() / "settings.ini"

    @property
    def resolved_preferences_path(self) -> Path:
        """The preferences file cl-transfer reads too: in the config dir (the data dir with
        --data-dir or CL_DESKTOP_DATA_DIR), beside the window's settings.ini."""
        return preferences.preferences_path(self.data_dir)

    @property
    def resolved_cache_dir(self) -> Path:
        return self.data_dir / "cache" if self.data_dir is not None else paths.cache_dir()


class Application(QObject):
    """Every long-lived object of the program, wired together."""

    def __init__(
        self,
        config: AppConfig,
        prompts: Prompts | None = None,
        start_demo: Callable[[Path], DemoServer] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.data_dir = config.resolved_data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._start_demo = start_demo
        self.demo: DemoServer | None = None
        self.settings = QSettings(
            str(config.resolved_settings_path), QSettings.Format.IniFormat, self
        )
        # every user preference and its default, shared with cl-transfer
        prefs = preferences.load(config.resolved_preferences_path)
        self.passwords = Passwords()  # one keyring wrapper: logins, renewals, the dialog
        self.connector = Connector(passwords=self.passwords)
        self.store = JobStore(paths.job_store_path(self.data_dir))
        self.spawner = QThreadSpawner(self)
        self.queue = TransferQueue(
            self.store,
            self.connector,
            max_parallel=config.max_parallel or prefs.parallel_transfers,
            bandwidth_limit=prefs.bandwidth_limit_bytes,
            retry_policy=RetryPolicy(keep_alive_max=prefs.keep_alive_seconds),
            spawn=self.spawner,
        )
        self.tasks = BackgroundTasks(max_threads=4, parent=self)
        # One thread for queue commands keeps them in the order the user gave them.
        self.commands = BackgroundTasks(max_threads=1, parent=self)
        self.transfers = TransferService(self.queue, self.commands, self)
        # The login flow's one home: certificate trust, profiles, the keyring.
        self.connections = ConnectionService(self.connector, self.tasks, self.passwords, self)
        if prompts is None:  # the real dialogs, with the saved profiles
            prompts = Prompts(ask_login=login_asker(self.connections))
        # The items of libraries seen before, shown at once on the next run, then revalidated.
        self.item_cache = ItemCache(config.resolved_cache_dir / CACHE_NAME)
        self.browser = LibraryBrowser(self.connector, self.tasks, self, cache=self.item_cache)
        # Lists sessions on the browsing pool; owners are read from the store, so the jobs of a
        # cl-transfer sharing this store count as well as the window's own.
        self.sessions = SessionMonitor(
            self.connector,
            self.tasks,
            self.store.load,
            self,
            interval_ms=int(prefs.sessions_refresh_seconds * 1000),
        )
        # the Settings dialog's changes: saved, and applied to the running parts
        self.preferences = SettingsService(
            config.resolved_preferences_path,
            self.transfers,
            self.sessions,
            self,
            current=prefs,
            parallel_override=config.max_parallel,
        )
        # Management acts on the window's current server (that of the tree's current row).
        self.admin = LibraryAdmin(self.connector, self.tasks, lambda: self.window.server, self)
        self.window = MainWindow(
            self.browser,
            self.transfers,
            self.tasks,
            self.settings,
            prompts,
            admin=self.admin,
            connections=self.connections,
            sessions=self.sessions,
            preferences=self.preferences,
        )
        # Help: About, Show log, the user guide (F1); last in the menu bar.
        self.help = HelpMenu(
            self.window,
            self.data_dir,
            logs.log_dir(config.data_dir) / logs.WINDOW_LOG,
            show_status=self.window.show_status,
        )
        # Library > Compare libraries..., Upload to several libraries...
        self.comparer = LibraryComparer(self.connector, self.tasks, self.transfers, self)
        self.library_tools = LibraryTools(self.window, self.comparer, self.transfers)
        self.browser.connected.connect(self._on_connected)
        self.transfers.started.connect(self._connect_waiting_servers)
        self._queue_started = False

    def start(self) -> None:
        """Show the window at once; connecting (and the demo server) happen in the background.

        The queue starts now with every persisted job (of every server and user), so all
        are on show; each runs once its server is connected (`server_connected`)."""
        self.window.show()
        self._start_queue()
        if self.config.demo:
            self.window.set_starting("Starting the demo server...")
            # After the first paint: the server's start-up would compete for the GIL.
            QTimer.singleShot(
                0,
                lambda: self.tasks.run(
                    self._run_demo_server, self._on_demo_ready, self._on_demo_failed
                ),
            )
        else:
            initial = None
            if self.config.server:
                initial = LoginRequest(self.config.server, self.config.user or "", "")
            self.window.set_login_defaults(initial)
            QTimer.singleShot(0, self._connect_at_start)  # after the window is on screen

    def _connect_at_start(self) -> None:
        """The profiles marked "connect on start" connect (asking only for a password not
        stored); the dialog opens when none does, or when the command line named a server."""
        connecting = bool(self.connections.start_profiles())
        self.connections.connect_on_start()
        if self.config.server or not connecting:
            self.window.ask_login()

    def _connect_waiting_servers(self, jobs: list[JobSnapshot]) -> None:
        """Each server queued jobs wait for is connected: silently with a stored password,
        else by asking (the window asks one question at a time)."""
        waiting = (j.spec.server for j in jobs if j.state in (JobState.QUEUED, JobState.RUNNING))
        for server in dict.fromkeys(waiting):  # each once, in queue order
            self.connections.ensure_connected(server)
        # a fan-out's targets on other servers log in as the accounts they name: connect those
        fanout = (t.server for j in jobs if not j.state.finished for t in j.spec.fanout_targets)
        for server in dict.fromkeys(fanout):
            self.connections.ensure_connected(server)

    def connect_to(self, request: LoginRequest) -> None:
        self.window.connect_to(request)

    def _run_demo_server(self) -> DemoServer:
        if self._start_demo is not None:
            return self._start_demo(self.data_dir / "demo-server")
        # Imported here, in the background: start-up need not wait for the simulator.
        from cl_desktop.demo import start_demo_server

        return start_demo_server(self.data_dir / "demo-server")

    def _on_demo_ready(self, demo: DemoServer) -> None:
        self.demo = demo
        self.window.controller.import_hint = demo.import_hint  # its samples, served locally
        login = LoginRequest(demo.url, demo.username, demo.password, remember_server=False)
        self.window.connect_to(login)

    def _on_demo_failed(self, error: ErrorInfo) -> None:
        self.window.set_starting(f"The demo server did not start: {error.text}")
        self.window.prompts.show_error(self.window, error)

    def _start_queue(self) -> None:
        if not self._queue_started:
            self._queue_started = True
            self.transfers.start()

    def _on_connected(self, server: ServerRef) -> None:
        self._start_queue()  # if the window was shown without start() (benchmarks)
        self.transfers.server_connected(server)  # queue commands run in order: after start

    def shutdown(self) -> None:
        """Pause running transfers (they resume next time), stop workers, log out, stop."""
        self.window.save_state()
        self.transfers.shutdown()
        self.spawner.wait(int(SHUTDOWN_WAIT_S * 1000))
        self.tasks.shutdown()
        # Logging out is network I/O: bounded, so an unreachable server cannot hold up exit.
        logout = threading.Thread(target=self.connector.close_all, name="logout", daemon=True)
        logout.start()
        logout.join(2.0)
        if self.demo is not None:
            self.demo.stop()
            self.demo = None
        self.store.close()
        self.item_cache.close()
