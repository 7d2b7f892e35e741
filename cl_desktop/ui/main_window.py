"""MainWindow: the library tree, item table, detail panes and transfers dock, wired together."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QByteArray, QMimeData, QModelIndex, QPoint, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSplitter,
    QStyle,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.api.models import ItemModel, LibraryModel
from cl_desktop.preferences import Preferences
from cl_desktop.services.browser import ItemDetails, LibraryBrowser
from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.connections import (
    CertificateChange,
    CertificateDetails,
    ConnectionService,
)
from cl_desktop.services.errors import ErrorInfo, ErrorKind
from cl_desktop.services.library_admin import LibraryAdmin
from cl_desktop.services.sessions import SessionMonitor
from cl_desktop.services.settings import SettingsService
from cl_desktop.services.tasks import BackgroundTasks
from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobState, ServerRef
from cl_desktop.transfers.ownership import account_key

from . import format as fmt
from .actions import add_actions, make_action
from .copying import DraggedItems, copy_targets, items_mime
from .details import DetailPanes
from .dialogs import Prompts
from .item_model import UPLOADING, ItemFilterProxy, ItemTableModel, item_of
from .library_manager import LibraryManager
from .library_model import LibraryIdRole, LibraryTreeModel, ServerRole
from .queue_model import error_text, verification_label
from .quit_prompt import QuitGuard
from .sessions_view import BusyItemResolver, SessionsDock
from .settings_dialog import SettingsDialog
from .status import StatusMessage
from .transfer_controller import TransferController
from .transfers_dock import Totals, TransfersDock
from .tray import TrayIcon
from .views import ItemTableView, LibraryTreeView, setup_table
from .warnings_dialog import WarningQuestions

APP_TITLE = "cl_desktop"
ITEMS_RELOAD_DELAY_MS = 300  # coalesces the reloads of several uploads finishing together
# After a connection-level listing error the items are listed again by themselves, with
# growing pauses for about two minutes (a vCenter's services restart in tens of seconds).
ITEMS_RETRY_DELAYS_S = (1, 2, 4, 8, 15, 30, 30, 30)

# QSettings keys
K_GEOMETRY = "window/geometry"
K_STATE = "window/state"
K_MAIN_SPLITTER = "window/main_splitter"
K_RIGHT_SPLITTER = "window/right_splitter"
K_ITEMS_HEADER = "views/items_header"
K_FILES_HEADER = "views/files_header"
K_LAST_LIBRARY = "browser/last_library"


def library_key(server: ServerRef, library_id: str) -> str:
    """A library as the settings remember it: its id is unique on its server only."""
    return f"{server.label}/{library_id}"


class MainWindow(QMainWindow):
    """The application window. Talks to the server only through LibraryBrowser and
    TransferService; asks the user only through `prompts` (replaced in tests)."""

    def __init__(
        self,
        browser: LibraryBrowser,
        transfers: TransferService,
        tasks: BackgroundTasks,
        settings: QSettings,
        prompts: Prompts | None = None,
        parent: QWidget | None = None,
        *,
        admin: LibraryAdmin,
        connections: ConnectionService,
        sessions: SessionMonitor | None = None,
        preferences: SettingsService | None = None,
    ) -> None:
        super().__init__(parent)
        self.preferences = preferences  # the Settings dialog's; None: the defaults
        self.browser = browser
        self.connections = connections
        self.transfers = transfers
        self.tasks = tasks
        self.settings = settings
        self.prompts = prompts or Prompts()
        # The server of the tree's current row (a server's or one of its libraries).
        self._server: ServerRef | None = None
        self.libraries: dict[tuple[ServerRef, str], LibraryModel] = {}
        self.library_id: str | None = None  # of the current library, on `server`
        self.item_id: str | None = None
        self._login: LoginRequest | None = None  # what the first dialog offers (command line)
        self.settings_dialog: SettingsDialog | None = None  # while it is open
        # Questions about connecting, asked one at a time: a modal dialog never opens on top
        # of another (queued jobs of several servers, a failed login, a certificate to trust).
        self._questions: list[Callable[[], None]] = []
        self._asking = False
        self._reselect_item: str | None = None
        self._connected_once = False
        self._newly_connected: set[ServerRef] = set()  # their first listing takes the selection

        self.setObjectName("MainWindow")
        self.resize(1200, 800)
        self._shown_geometry: QByteArray | None = None  # saved while on screen (save_state)
        self.controller = TransferController(
            self,
            browser,
            transfers,
            tasks,
            settings,
            self.prompts,
            lambda: self.server,
            preferences=self.current_preferences,
        )
        self._build_actions()
        self.manager = LibraryManager(self, self, admin, transfers)
        self.manager.guard_uploads([self.upload_action, self.upload_new_action])
        self._library_after_reload: str | None = None
        self._status_after_reload: tuple[str, bool] | None = None
        self._build_central()
        self.dock = TransfersDock(transfers, settings, self.prompts, self)
        self.controller.queued.connect(self.dock.show_queue)
        self.controller.status.connect(self.show_status)
        self.controller.failed.connect(self._show_failure)
        self.dock.totals_changed.connect(self._on_totals)
        self.dock.message.connect(self.show_status)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.sessions_dock: SessionsDock | None = None
        if sessions is not None:
            self.sessions_dock = SessionsDock(sessions, settings, self.prompts, self)
            self.sessions_dock.open_item.connect(self.show_item)
            self.sessions_dock.message.connect(self.show_status)
            self.tabifyDockWidget(self.dock, self.sessions_dock)
            self.dock.raise_()
            self.busy_items = BusyItemResolver(self, self.dock, sessions, transfers, self.prompts)
        self._build_menus_and_toolbar()
        self._build_status_bar()
        # closing with transfers running or queued asks first (the "confirm quit" preference)
        self.quit_guard = QuitGuard(
            self,
            transfers,
            lambda *counts: self.prompts.ask_quit(*counts),
            lambda: self.current_preferences().confirm_quit,
            self.statusBar(),
        )
        self._connect_services()
        # a signed OVF's warnings: asked in the same one-at-a-time queue as the logins
        self.warning_questions = WarningQuestions(
            self, transfers, lambda *question: self.prompts.ask_warnings(*question), self._ask
        )
        self._items_reload = QTimer(self)
        self._items_reload.setSingleShot(True)
        self._items_reload.setInterval(ITEMS_RELOAD_DELAY_MS)
        self._items_reload.timeout.connect(self._reload_items_keep_selection)
        self._items_retry = QTimer(self)
        self._items_retry.setSingleShot(True)
        self._items_retry.timeout.connect(self._retry_items)
        self._items_retries = 0  # background retries since the last listing or navigation
        self.restore_state()
        self._update_actions()
        self._update_title()
        self._name_controls()
        # The tray icon, where the desktop has a tray: overall progress, a notification when
        # a transfer ends while the window is not active, Show/Pause all/Resume all/Quit.
        self.tray: TrayIcon | None = None
        if TrayIcon.available():
            self.tray = TrayIcon(self, self.dock, transfers, self.quit_action)

    # --- construction ----------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.connect_action = make_action(
            self,
            self.tr("&Connect..."),
            self.ask_login,
            shortcut="Ctrl+L",
            icon="connect",
            tip=self.tr("Connect to a vCenter server (those connected stay connected)"),
        )
        self.disconnect_action = make_action(
            self,
            self.tr("D&isconnect"),
            lambda: self.disconnect_server(self.server),
            icon="disconnect",
            tip=self.tr("Disconnect the selected server (its transfers wait for the next login)"),
        )
        self.refresh_action = make_action(
            self,
            self.tr("&Refresh"),
            self.refresh,
            shortcut=QKeySequence.StandardKey.Refresh,
            icon="refresh",
            tip=self.tr("Reload libraries, items and details"),
        )
        self.upload_action = make_action(
            self,
            self.tr("&Upload into item..."),
            self.upload_into_selected,
            shortcut="Ctrl+U",
            icon="upload",
            tip=self.tr("Upload files into the selected item"),
        )
        self.upload_new_action = make_action(
            self,
            self.tr("Upload as &new items..."),
            self.upload_new_items_dialog,
            shortcut="Ctrl+Shift+U",
            icon="upload-new",
            tip=self.tr("Create one new item per file in the selected library"),
        )
        self.download_action = make_action(
            self,
            self.tr("&Download..."),
            self.download_selected_items,
            shortcut="Ctrl+D",
            icon="download",
            tip=self.tr("Download all files of the selected items to a folder"),
        )
        self.download_files_action = make_action(
            self,
            self.tr("Download selected &files..."),
            self.download_selected_files,
            shortcut="Ctrl+Shift+D",
            icon="download",
            tip=self.tr("Download the files selected in the Files tab"),
        )
        self.filter_action = make_action(
            self,
            self.tr("&Find"),
            self._focus_filter,
            shortcut=QKeySequence.StandardKey.Find,
            icon="find",
        )
        self.quit_action = make_action(
            self, self.tr("&Quit"), self.close, shortcut=QKeySequence.StandardKey.Quit, icon="quit"
        )
        self.copy_id_action = make_action(
            self, self.tr("Copy item &ID"), self._copy_item_id, icon="copy"
        )
        self.settings_action = make_action(
            self,
            self.tr("&Settings..."),
            self.open_settings,
            icon="settings",
            tip=self.tr(
                "Parallel transfers, bandwidth limit, download folder, confirmations, logging"
            ),
        )
        # the platform's Preferences key where it has one, Ctrl+, everywhere
        keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
        comma = QKeySequence("Ctrl+,")
        self.settings_action.setShortcuts([*keys, *([] if comma in keys else [comma])])
        self.copy_to_action = make_action(
            self,
            self.tr("Cop&y to..."),
            self.copy_selected_items,
            icon="copy-to",
            tip=self.tr("Copy the selected items into a library of any connected server"),
        )
        self.import_url_action = make_action(
            self,
            self.tr("Import from UR&L..."),
            self.import_from_url,
            shortcut="Ctrl+Shift+I",
            icon="import-url",
            tip=self.tr("Have the server import an http(s) URL into a new or the selected item"),
        )

    def _build_central(self) -> None:
        self.library_model = LibraryTreeModel(self)
        self.library_tree = LibraryTreeView()
        self.library_tree.setObjectName("libraryTree")
        self.library_tree.setModel(self.library_model)
        self.library_tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.library_tree.customContextMenuRequested.connect(self._library_menu)
        self.library_tree.files_dropped.connect(self.drop_on_library)
        self.library_tree.items_dropped.connect(self.drop_items_on_library)
        self.library_tree.selectionModel().currentChanged.connect(self._on_library_current)

        self.item_model = ItemTableModel(self)
        self.item_proxy = ItemFilterProxy(self)
        self.item_proxy.setSourceModel(self.item_model)
        self.item_view = ItemTableView()
        self.item_view.setObjectName("itemView")
        self.item_view.setModel(self.item_proxy)
        setup_table(self.item_view, {0: 320})
        self.item_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.item_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.item_view.customContextMenuRequested.connect(self._item_menu)
        self.item_view.files_dropped.connect(self.drop_on_items)
        self.item_view.drag_items = self._drag_selected_items
        self.item_view.doubleClicked.connect(lambda _: self.download_selected_items())
        self.item_view.selectionModel().currentRowChanged.connect(self._on_item_current)
        self.item_view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("filterEdit")
        self.filter_edit.setPlaceholderText(self.tr("Filter items by name (Ctrl+F)"))
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.items_label = QLabel()
        self.items_label.setObjectName("itemsLabel")
        filter_row = QHBoxLayout()
        # a right margin as the style's layouts have: the counter is not cut at the edge
        margin = self.style().pixelMetric(QStyle.PixelMetric.PM_LayoutRightMargin)
        filter_row.setContentsMargins(0, 0, margin, 0)
        filter_row.addWidget(self.filter_edit, 1)
        filter_row.addWidget(self.items_label)
        items_box = QWidget()
        items_layout = QVBoxLayout(items_box)
        items_layout.setContentsMargins(0, 0, 0, 0)
        items_layout.addLayout(filter_row)
        items_layout.addWidget(self.item_view)

        self.details = DetailPanes()
        self.details.setObjectName("details")
        self.details.files_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.details.files_view.addAction(self.download_files_action)
        self.details.files_view.selectionModel().selectionChanged.connect(
            lambda *_: self._update_actions()
        )

        self.right_splitter = QSplitter(Qt.Orientation.Vertical)
        self.right_splitter.setObjectName("rightSplitter")
        self.right_splitter.addWidget(items_box)
        self.right_splitter.addWidget(self.details)
        self.right_splitter.setStretchFactor(0, 3)
        self.right_splitter.setStretchFactor(1, 2)
        # 3:2 from the start too: the details scroll, so their size hint alone is small
        self.right_splitter.setSizes([300, 200])
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(self.library_tree)
        self.main_splitter.addWidget(self.right_splitter)
        self.main_splitter.setStretchFactor(1, 1)
        self.main_splitter.setSizes([260, 940])
        self.setCentralWidget(self.main_splitter)

    def _build_menus_and_toolbar(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu(self.tr("&File"))
        file_menu.addAction(self.connect_action)
        file_menu.addAction(self.disconnect_action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = menu.addMenu(self.tr("&View"))
        view_menu.addAction(self.refresh_action)
        view_menu.addAction(self.filter_action)
        toggle = self.dock.toggleViewAction()
        toggle.setShortcut(QKeySequence("Ctrl+T"))
        view_menu.addAction(toggle)
        # the status bar's message in full, for the keyboard (a click on it does the same)
        self.status_details_action = make_action(
            self, self.tr("Status &message..."), self.show_status_details, shortcut="Ctrl+Shift+M"
        )
        view_menu.addAction(self.status_details_action)
        window_actions = [
            self.filter_action,
            self.quit_action,
            toggle,
            self.settings_action,
            self.status_details_action,
        ]
        if self.sessions_dock is not None:
            self.sessions_action = make_action(
                self,
                self.tr("&Sessions"),
                self.show_sessions,
                shortcut="Ctrl+Shift+S",
                icon="sessions",
                tip=self.tr("The server's update and download sessions"),
            )
            view_menu.addAction(self.sessions_action)
            window_actions.append(self.sessions_action)
        add_actions(
            menu.addMenu(self.tr("&Library")),
            [*self.manager.library_actions, None, self.import_url_action, self.refresh_action],
        )
        add_actions(
            menu.addMenu(self.tr("&Item")),
            [
                *self.manager.item_actions,
                None,
                self.upload_action,
                self.upload_new_action,
                self.import_url_action,
                None,
                self.download_action,
                self.download_files_action,
                self.copy_to_action,
                None,
                self.copy_id_action,
            ],
        )
        d = self.dock
        add_actions(
            menu.addMenu(self.tr("&Transfers")),
            [*d.queue_actions, None, d.export_csv_action, d.export_json_action]
            + ([None, self.busy_items.action] if self.sessions_dock is not None else []),
        )
        toolbar = QToolBar(self.tr("Main toolbar"))
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        add_actions(
            toolbar,
            [
                self.connect_action,
                self.refresh_action,
                None,
                self.upload_action,
                self.upload_new_action,
                self.download_action,
            ],
        )
        self.addToolBar(toolbar)
        # The window-wide actions need the window to own them for their shortcuts.
        self.addActions(window_actions)

    def _build_status_bar(self) -> None:
        self.status_label = StatusMessage(self.tr("Not connected"))
        self.status_label.clicked.connect(self.show_status_details)
        self.transfer_label = QLabel()
        self.total_progress = QProgressBar()
        self.total_progress.setObjectName("totalProgress")
        self.total_progress.setRange(0, 100)
        self.total_progress.setMaximumWidth(220)
        self.total_progress.setTextVisible(True)
        self.total_progress.hide()
        queue_button = QToolButton()
        queue_button.setDefaultAction(self.dock.toggleViewAction())
        queue_button.setAutoRaise(True)
        bar = self.statusBar()
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(self.transfer_label)
        bar.addPermanentWidget(self.total_progress)
        bar.addPermanentWidget(queue_button)

    def _name_controls(self) -> None:
        """Names a screen reader says for the controls that show no text of their own."""
        names: list[tuple[QWidget, str]] = [
            (self.library_tree, self.tr("Servers and libraries")),
            (self.item_view, self.tr("Items of the library")),
            (self.filter_edit, self.tr("Filter items by name")),
            (self.items_label, self.tr("Item count")),
            (self.details, self.tr("Item details")),
            (self.details.files_view, self.tr("Files of the item")),
            (self.details.storage_tree, self.tr("Storage of the item's files")),
            (self.dock.queue_view, self.tr("Transfer queue")),
            (self.dock.history_view, self.tr("Transfer history")),
            (self.transfer_label, self.tr("Transfers running")),
            (self.total_progress, self.tr("Overall transfer progress")),
        ]
        if self.sessions_dock is not None:
            names.append((self.sessions_dock.view, self.tr("Sessions on the server")))
        for widget, name in names:
            widget.setAccessibleName(name)

    def _connect_services(self) -> None:
        c = self.connections
        c.connected.connect(self.browser.add_server)
        c.connection_failed.connect(self._on_connection_failed)
        c.trust_needed.connect(self._on_trust_needed)
        c.certificate_changed.connect(self._on_certificate_changed)
        c.password_needed.connect(self._on_password_needed)
        b = self.browser
        b.connected.connect(self._on_connected)
        b.libraries_loaded.connect(self._on_libraries_loaded)
        b.libraries_failed.connect(self._on_libraries_failed)
        b.items_cached.connect(self._on_items_page)
        b.items_listed.connect(self._on_items_listed)
        b.items_page.connect(self._on_items_page)
        b.items_progress.connect(self._on_items_progress)
        b.items_loaded.connect(self._on_items_loaded)
        b.items_failed.connect(self._on_items_failed)
        b.details_loaded.connect(self._on_details_loaded)
        b.details_failed.connect(self._on_details_failed)
        t = self.transfers
        t.job_changed.connect(self._on_job_changed)
        t.job_finished.connect(self._on_job_finished)
        t.command_failed.connect(self._show_failure)

    # --- state ---------------------------------------------------------------------------

    def restore_state(self) -> None:
        s = self.settings

        def restore(key: str, apply: Callable[[QByteArray], object]) -> None:
            value = s.value(key)
            if isinstance(value, QByteArray) and not value.isEmpty():
                apply(value)

        restore(K_GEOMETRY, self.restoreGeometry)
        restore(K_STATE, self.restoreState)
        restore(K_MAIN_SPLITTER, self.main_splitter.restoreState)
        restore(K_RIGHT_SPLITTER, self.right_splitter.restoreState)
        restore(K_ITEMS_HEADER, self.item_view.horizontalHeader().restoreState)
        restore(K_FILES_HEADER, self.details.files_view.horizontalHeader().restoreState)
        self.dock.restore_state()

    def save_state(self) -> None:
        s = self.settings
        # A hidden window's frame is unknown to Qt (on X11 it reports the frame at the client
        # area's top), so its geometry saved at exit put the window lower by a title bar on
        # each start: the one taken while it was still on screen is kept.
        geometry = self.saveGeometry() if self.isVisible() else self._shown_geometry
        if geometry is not None:
            s.setValue(K_GEOMETRY, geometry)
        s.setValue(K_STATE, self.saveState())
        s.setValue(K_MAIN_SPLITTER, self.main_splitter.saveState())
        s.setValue(K_RIGHT_SPLITTER, self.right_splitter.saveState())
        s.setValue(K_ITEMS_HEADER, self.item_view.horizontalHeader().saveState())
        s.setValue(K_FILES_HEADER, self.details.files_view.horizontalHeader().saveState())
        self.dock.save_state()
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.quit_guard.may_close():  # transfers run: asked, and not now
            event.ignore()
            return
        self._stop_items_retry()
        self._shown_geometry = self.saveGeometry() if self.isVisible() else self._shown_geometry
        self.save_state()
        super().closeEvent(event)

    # --- settings --------------------------------------------------------------------------

    def current_preferences(self) -> Preferences:
        return self.preferences.current if self.preferences is not None else Preferences()

    def open_settings(self) -> None:
        """The Settings dialog (window-modal, not blocking); OK saves and applies."""
        if self.settings_dialog is not None:
            self.settings_dialog.raise_()
            return
        where = str(self.preferences.path) if self.preferences is not None else ""
        dialog = SettingsDialog(
            self,
            self.current_preferences(),
            lambda *question: self.prompts.ask_directory(*question),
            where,
        )
        dialog.accepted.connect(lambda: self._apply_settings(dialog.preferences()))
        dialog.finished.connect(lambda _result: self._settings_closed(dialog))
        self.settings_dialog = dialog
        dialog.open()

    def _settings_closed(self, dialog: SettingsDialog) -> None:
        self.settings_dialog = None
        dialog.deleteLater()

    def _apply_settings(self, prefs: Preferences) -> None:
        if self.preferences is None:
            return
        try:
            self.preferences.apply(prefs)
        except OSError as exc:
            self.prompts.show_error(
                self,
                ErrorInfo(
                    self.tr("Settings not saved"),
                    self.tr("{path} could not be written: {reason}").format(
                        path=self.preferences.path, reason=exc.strerror or exc
                    ),
                    ErrorKind.LOCAL,
                ),
            )
            return
        self.show_status(self.tr("Settings saved and applied."))

    # --- connection ------------------------------------------------------------------------

    def show_status(self, text: str, error: bool = False) -> None:
        self.status_label.show_message(text, error)

    def show_status_details(self) -> None:
        """The status message in full, in a dialog (the bar shows one cut line)."""
        text = self.status_label.text()
        if text:
            kind = ErrorKind.SERVER if self.status_label.is_error else ErrorKind.LOCAL
            title = self.tr("Error") if self.status_label.is_error else self.tr("Status")
            self.prompts.show_error(self, ErrorInfo(title, text, kind))

    def set_starting(self, text: str) -> None:
        """Before a connection exists (demo server starting, logging in)."""
        self.show_status(text)
        self.item_view.set_placeholder(text)

    def set_login_defaults(self, request: LoginRequest | None) -> None:
        """What the connection dialog shows first (from the command line)."""
        self._login = request

    def connect_to(self, request: LoginRequest) -> None:
        """Log in (through the ConnectionService, which owns the login flow)."""
        self._connecting(request)
        self.connections.connect_to(request)

    def _connecting(self, request: LoginRequest) -> None:
        text = self.tr("Connecting to {server} as {user}...").format(
            server=request.server, user=request.username
        )
        if self.browser.servers:  # the table shows another server's items: leave it
            self.show_status(text)
        else:
            self.set_starting(text)

    def ask_login(self, error: ErrorInfo | None = None) -> None:
        """The connection dialog (its last-used profile preselected, or the command line's
        server and user before the first login)."""
        self._ask(lambda: self._ask_login(None if self._connected_once else self._login, error))

    def _ask(self, question: Callable[[], None]) -> None:
        self._questions.append(question)
        while self._questions and not self._asking:
            self._asking = True
            try:
                self._questions.pop(0)()
            finally:
                self._asking = False

    def _ask_login(self, initial: LoginRequest | None, error: ErrorInfo | None) -> None:
        request = self.prompts.ask_login(self, initial, error)
        if request is not None:
            self.connect_to(request)
        elif not self.browser.servers:
            if error is not None:
                text = self.tr("Not connected. {reason}\nUse File > Connect... (Ctrl+L).")
                text = text.format(reason=error.text)
            else:
                text = self.tr("Not connected. Use File > Connect... (Ctrl+L).")
            self.show_status(text.replace("\n", " "), error=error is not None)
            self.item_view.set_placeholder(text, error=error is not None)
        else:
            self.show_status(self._connected_text())

    def _on_connected(self, server: ServerRef) -> None:
        self._newly_connected.add(server)
        if self.sessions_dock is not None:
            self.sessions_dock.monitor.watch(server)
        self._connected_once = True
        self.show_status(self._connected_text())
        self._update_title()

    def _on_connection_failed(self, request: LoginRequest, error: ErrorInfo) -> None:
        self.show_status(error.text, error=True)
        if not self.browser.servers:
            self.item_view.set_placeholder(
                self.tr("Could not connect.\n{reason}").format(reason=error.text), error=True
            )
        # The request itself, typed password included: the dialog keeps what was typed.
        self._ask(lambda: self._ask_login(request, error))

    def _on_trust_needed(self, request: LoginRequest, details: CertificateDetails) -> None:
        def ask() -> None:
            if self.prompts.ask_trust(self, request, details):
                self._connecting(request)
                self.connections.trust_and_connect(request, details)
            else:
                why = self.tr("Not connected to {server}: its certificate is not trusted.")
                self._not_trusted(why.format(server=request.server))

        self._ask(ask)

    def _on_certificate_changed(self, request: LoginRequest, change: CertificateChange) -> None:
        def ask() -> None:
            if self.prompts.show_certificate_changed(self, request, change):
                self._connecting(request)
                self.connections.replace_pin(request, change)
            else:
                why = self.tr(
                    "Not connected to {server}: its certificate changed since it was trusted."
                )
                self._not_trusted(why.format(server=request.server))

        self._ask(ask)

    def _not_trusted(self, text: str) -> None:
        self.show_status(text, error=True)
        if not self.browser.servers:
            hint = self.tr("{reason}\nUse File > Connect... (Ctrl+L).").format(reason=text)
            self.item_view.set_placeholder(hint, True)

    def _on_password_needed(self, server: ServerRef) -> None:
        """Queued transfers wait for `server` and no password is stored: ask (once)."""

        def ask() -> None:
            c = self.connections
            if c.is_connected(server) or c.is_connecting(server):
                return  # logged in meanwhile (the first dialog, a profile connecting on start)
            note = ErrorInfo(
                self.tr("Transfers wait for {server}").format(server=server.label),
                self.tr("Log in to run them (Cancel: they wait until you connect)."),
                ErrorKind.AUTH,
            )
            request = self.prompts.ask_login(self, c.request_for(server), note)
            if request is not None:
                self.connect_to(request)
            else:
                text = self.tr("Transfers wait for login to {server}: File > Connect... (Ctrl+L).")
                self.show_status(text.format(server=server.label))

        self._ask(ask)

    @property
    def server(self) -> ServerRef | None:
        """The current server: that of the tree's current row."""
        return self._server

    @property
    def current_library(self) -> LibraryModel | None:
        if self._server is None or self.library_id is None:
            return None
        return self.libraries.get((self._server, self.library_id))

    def disconnect_server(self, server: ServerRef | None) -> None:
        """Log out of `server` and take its root away; its running transfers pause until it
        is connected again (they say "waiting for login")."""
        if server is None or server not in self.browser.servers:
            return
        self._newly_connected.discard(server)
        # Log out only once its jobs have stopped: an upload ends its session while the login
        # still holds (else the session stays ACTIVE on the server and locks the item).
        self.transfers.server_disconnected(
            server, on_done=lambda: self.connections.disconnect_server(server)
        )
        self.browser.disconnect_server(server)
        if self.sessions_dock is not None:
            self.sessions_dock.monitor.unwatch(server)
        self.libraries = {key: lib for key, lib in self.libraries.items() if key[0] != server}
        model = self.library_model
        model.remove_server(server)
        if server == self._server:  # on to another server's first library (or nothing)
            others = model.servers()
            select = model.first_library()
            select = select if select.isValid() or not others else model.server_index(others[0])
            self.library_tree.setCurrentIndex(select)
            self._on_library_current(select, QModelIndex())
        if not self.browser.servers:
            self.item_view.set_placeholder(
                self.tr("Not connected. Use File > Connect... (Ctrl+L).")
            )
        text = self.tr("Disconnected from {server}. {connected}")
        self.show_status(text.format(server=server.label, connected=self._connected_text()))
        self._update_title()
        self._update_actions()

    def _connected_text(self) -> str:
        servers = self.browser.servers
        if not servers:
            return self.tr("Not connected.")
        if len(servers) == 1:
            return self.tr("Connected to {server}").format(server=servers[0].label)
        return fmt.counted(self.tr("Connected to %n server(s)", "", len(servers)), len(servers))

    # --- libraries -------------------------------------------------------------------------

    def _on_libraries_loaded(self, server: ServerRef, libraries: Sequence[LibraryModel]) -> None:
        if server not in self.browser.servers:
            return  # disconnected while the listing ran
        takes_selection = (
            server in self._newly_connected or self._server is None or self._server == server
        )
        self._newly_connected.discard(server)
        previous = self._library_after_reload or (
            self.library_id if self._server == server else None
        )
        if previous is None:
            saved = str(self.settings.value(K_LAST_LIBRARY, "", str))
            prefix = library_key(server, "")
            previous = saved[len(prefix) :] if saved.startswith(prefix) else None
        self._library_after_reload = None
        self.libraries = {key: lib for key, lib in self.libraries.items() if key[0] != server}
        self.libraries.update({(server, lib.id): lib for lib in libraries if lib.id})
        status = self._status_after_reload or (self._connected_text(), False)
        self._status_after_reload = None
        self.show_status(*status)
        # Rebuilding the tree moves its current index through "none": not a user's choice.
        tree = self.library_tree
        selection = tree.selectionModel()
        blocked = selection.blockSignals(True)
        model = self.library_model
        model.set_libraries(server, libraries)
        tree.expand(model.server_index(server))
        select = QModelIndex()
        if takes_selection:
            select = model.library_index(server, previous)
            select = select if select.isValid() else model.first_library(server)
            select = select if select.isValid() else model.server_index(server)
            tree.setCurrentIndex(select)
        else:  # the current row is on another server: stays
            select = model.library_index(self._server, self.library_id)
            if select.isValid():
                tree.setCurrentIndex(select)
        selection.blockSignals(blocked)
        tree.viewport().update()
        if takes_selection:
            self._on_library_current(select, QModelIndex())
            if self.library_id is None:
                self.item_model.clear()
                self.item_view.set_placeholder(self.tr("This server has no content libraries."))
        self._update_actions()

    def _on_libraries_failed(self, server: ServerRef, error: ErrorInfo) -> None:
        text = self.tr("Could not list the libraries of {server}: {reason}")
        self.show_status(text.format(server=server.label, reason=error.text), True)

    def _on_library_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        server = current.data(ServerRole) if current.isValid() else None
        library_id = current.data(LibraryIdRole) if current.isValid() else None
        if (server, library_id) == (self._server, self.library_id):
            return
        server_changed = server != self._server
        self._server = server
        self.library_id = library_id
        self.item_id = None
        self._stop_items_retry()
        self.item_model.clear()
        self.item_view.drops_enabled = library_id is not None
        self.details.show_nothing()
        if server_changed:
            self._update_title()
        if server is None or library_id is None:
            self.item_view.set_placeholder(self.tr("Select a library."))
            self._update_actions()
            return
        self.settings.setValue(K_LAST_LIBRARY, library_key(server, library_id))
        self.details.show_library(self.libraries[(server, library_id)], None)
        self._load_items()
        self._update_actions()

    def _load_items(self, quiet: bool = False) -> None:
        """List the current library's items; `quiet` keeps the table's message (a retry)."""
        if self.library_id is None or self._server is None:
            return
        if self.item_model.rowCount() == 0 and not quiet:
            self.item_view.set_placeholder(self.tr("Loading items..."))
        self.items_label.setText(self.tr("Loading..."))
        # rows on show (a reload) may be newer than the cache: only an empty table takes it
        use_cache = self.item_model.rowCount() == 0
        self.browser.load_items(self._server, self.library_id, use_cache=use_cache)

    def _reload_items_keep_selection(self, quiet: bool = False) -> None:
        self._reselect_item = self.item_id
        self._load_items(quiet)

    def _retry_items(self) -> None:
        self._items_retries += 1
        self._reload_items_keep_selection(quiet=True)

    def _stop_items_retry(self) -> None:
        self._items_retry.stop()
        self._items_retries = 0

    # --- items -----------------------------------------------------------------------------

    def _is_current(self, server: ServerRef, library_id: str | None) -> bool:
        return (server, library_id) == (self._server, self.library_id)

    def _on_items_progress(self, server: ServerRef, library_id: str, done: int, total: int) -> None:
        if self._is_current(server, library_id):
            text = self.tr("Loading items... {done} of {total}").format(
                done=f"{done:,}", total=f"{total:,}"
            )
            self.items_label.setText(text)
            if self.item_model.rowCount() == 0:
                self.item_view.set_placeholder(text)

    def _on_items_page(
        self, server: ServerRef, library_id: str, items: Sequence[ItemModel]
    ) -> None:
        """Rows as they come (cached, then fetched): new ones appended, changed ones updated
        in place, so selection, sort and filter hold while a big library loads."""
        if not self._is_current(server, library_id):
            return
        self.item_model.add_items(items)
        self.item_view.set_placeholder(self.tr("No items match the filter."))

    def _on_items_listed(self, server: ServerRef, library_id: str, ids: Sequence[str]) -> None:
        # rows of items gone since the cache or the last listing go now, their notes with them
        if self._is_current(server, library_id) and self.item_model.keep_only(frozenset(ids)):
            self.manager.show_notes()

    def _on_items_loaded(
        self, server: ServerRef, library_id: str, items: Sequence[ItemModel]
    ) -> None:
        if not self._is_current(server, library_id):
            return  # the user moved on to another library meanwhile
        if self._items_retries:
            self.show_status(self._connected_text())  # the error is past
        self._stop_items_retry()
        reselect = self._reselect_item or self.item_id
        self._reselect_item = None
        self.item_model.set_items(items)
        self.manager.reload_notes()
        library = self.current_library
        self.item_view.set_placeholder(
            self.tr("This library is empty.\nDrop files here to create new items.")
            if not items
            else self.tr("No items match the filter.")
        )
        self._update_items_label()
        if reselect:
            current = item_of(self.item_view.currentIndex())
            if current is not None and current.id == reselect:
                # Still selected (the rows were updated in place): show its new details.
                self._on_item_current(self.item_view.currentIndex(), QModelIndex())
            else:
                self._select_item(reselect)
        if self.item_id is None and library is not None:
            self.details.show_library(library, len(items))
        self._update_actions()

    def show_sessions(self) -> None:
        if self.sessions_dock is not None:
            self.sessions_dock.show()
            self.sessions_dock.raise_()

    def show_item(self, server: ServerRef, library_id: str, item_id: str) -> None:
        """Select `item_id` in the browser, moving to its library first if need be."""
        index = self.library_model.library_index(server, library_id)
        if not index.isValid():
            text = self.tr("That item's library is not listed; refresh the libraries")
            self.show_status(text, True)
            return
        if not self._is_current(server, library_id):
            self._reselect_item = item_id  # selected once the library's items are listed
            self.library_tree.setCurrentIndex(index)
        elif self.item_model.row_of(item_id) >= 0:
            self._select_item(item_id)
        else:
            self._reselect_item = item_id
            self._load_items()
        self.item_view.setFocus()

    def _select_item(self, item_id: str) -> None:
        row = self.item_model.row_of(item_id)
        index = self.item_proxy.mapFromSource(self.item_model.index(row, 0))
        if row >= 0 and index.isValid():
            self.item_view.setCurrentIndex(index)
            self.item_view.selectRow(index.row())

    def _on_items_failed(self, server: ServerRef, library_id: str, error: ErrorInfo) -> None:
        if not self._is_current(server, library_id):
            return
        self.items_label.setText("")
        again = self.tr("Press F5 to try again.")
        if error.transient and self._items_retries < len(ITEMS_RETRY_DELAYS_S):
            delay = ITEMS_RETRY_DELAYS_S[self._items_retries]
            self._items_retry.start(delay * 1000)
            again = self.tr("Trying again in {delay} s (F5: now).").format(delay=delay)
        text = self.tr("Could not list the items: {reason} {again}")
        self.show_status(text.format(reason=error.text, again=again), error=True)
        if self.item_model.rowCount() == 0:
            text = self.tr("Could not list the items.\n{title}: {message}\n{again}")
            self.item_view.set_placeholder(
                text.format(title=error.title, message=error.message, again=again), error=True
            )

    def _update_items_label(self) -> None:
        shown, total = self.item_proxy.rowCount(), self.item_model.rowCount()
        if shown == total:
            text = fmt.counted(self.tr("%Ln item(s)", "", total), total)
        else:
            text = fmt.counted(self.tr("%1 of %Ln item(s)", "", total), total)
            text = text.replace("%1", fmt.number(shown))
        self.items_label.setText(text)

    def _on_filter_changed(self, text: str) -> None:
        self.item_proxy.setFilterFixedString(text)
        self._update_items_label()

    def _focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    def selected_items(self) -> list[ItemModel]:
        rows = self.item_view.selectionModel().selectedRows()
        found = (item_of(index) for index in sorted(rows, key=lambda i: i.row()))
        return [item for item in found if item is not None]

    def current_item(self) -> ItemModel | None:
        index = self.item_view.currentIndex()
        return item_of(index)

    def _on_item_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item = item_of(current)
        if item is None or not item.id:
            self.item_id = None
            library = self.current_library
            if library is not None:
                self.details.show_library(library, self.item_model.rowCount())
            self._update_actions()
            return
        self.item_id = item.id
        library = self.current_library
        self.details.show_item(item, library.name or "" if library else "")
        if self._server is not None:
            self.browser.load_details(self._server, item.id)
        self._update_actions()

    def _on_details_loaded(self, server: ServerRef, details: ItemDetails) -> None:
        if server == self._server and details.item_id == self.item_id:
            self.details.set_details(details)
            self._update_actions()

    def _on_details_failed(self, server: ServerRef, item_id: str, error: ErrorInfo) -> None:
        if server == self._server and item_id == self.item_id:
            self.details.show_error(error)

    def refresh(self) -> None:
        if not self.browser.servers:
            self.ask_login()
            return
        self.show_status(self.tr("Refreshing..."))
        self._stop_items_retry()
        for server in self.browser.servers:
            self.browser.load_libraries(server)
        self._reload_items_keep_selection()

    def reload_after_change(self, library_id: str | None, status: str, error: bool = False) -> None:
        """After a create, rename or delete: the libraries again (showing `library_id` if
        given), the current library's items if it is `library_id`, then `status`."""
        self._library_after_reload = library_id
        self._status_after_reload = (status, error)
        if self._server is not None:
            self.browser.load_libraries(self._server)
        if library_id is not None and library_id == self.library_id:
            self._reload_items_keep_selection()

    def _copy_item_id(self) -> None:
        item = self.current_item()
        if item is not None and item.id:
            QGuiApplication.clipboard().setText(item.id)

    # --- transfers (the controller builds and queues them) -------------------------------

    def _library_name(self, server: ServerRef, library_id: str) -> str:
        library = self.libraries.get((server, library_id))
        return library.name if library is not None and library.name else library_id

    def drop_on_items(self, item: ItemModel | None, paths: list[str]) -> None:
        """Files dropped on the item table: into `item`, or new items in the library."""
        if self.manager.refuse_upload():
            return
        if item is not None:
            self.controller.upload_into(item, paths)
        elif self._server is not None and self.library_id is not None:
            self.drop_on_library(self._server, self.library_id, paths)

    def drop_on_library(self, server: ServerRef, library_id: str, paths: list[str]) -> None:
        """Files dropped on a library of the tree: new items there, on that library's server
        (whichever row is current)."""
        if self.manager.refuse_upload(server):
            return
        name = self._library_name(server, library_id)
        self.controller.upload_new_items(server, library_id, name, paths)

    def upload_into_selected(self) -> None:
        item = self.current_item()
        if item is None:
            self.upload_new_items_dialog()
        else:
            self.controller.ask_upload_into(item)

    def upload_new_items_dialog(self) -> None:
        library_id, server = self.library_id, self._server
        name = self._library_name(server, library_id) if server and library_id else ""
        self.controller.ask_upload_new_items(library_id, name)

    def import_from_url(self) -> None:
        """Import from URL into a new item of the current library or the selected item."""
        if self.manager.refuse_upload():
            return
        library_id, server = self.library_id, self._server
        name = self._library_name(server, library_id) if server and library_id else ""
        self.controller.ask_import_url(library_id, name, self.current_item())

    def download_selected_items(self) -> None:
        items = [item for item in self.selected_items() if item.id] or [
            item for item in [self.current_item()] if item is not None
        ]
        self.controller.download_items(items)

    def _items_selected(self) -> list[ItemModel]:
        """The selected items, else the current one."""
        return [item for item in self.selected_items() if item.id] or [
            item for item in [self.current_item()] if item is not None and item.id
        ]

    def copy_selected_items(self) -> None:
        """Copy to...: the selected items into a library of any connected server."""
        items, server, library_id = self._items_selected(), self._server, self.library_id
        if not items or server is None or library_id is None:
            return
        what = (
            self.tr("\u201c{name}\u201d").format(name=items[0].name)
            if len(items) == 1
            else self.tr("{count} items").format(count=len(items))
        )
        target = self.prompts.ask_copy_target(self, what, copy_targets(self.library_model))
        if target is not None:
            self.controller.copy_items(server, library_id, items, target.server, target.library_id)

    def _drag_selected_items(self) -> QMimeData | None:
        items, server, library_id = self._items_selected(), self._server, self.library_id
        if not items or server is None or library_id is None:
            return None
        return items_mime(server, library_id, items)

    def drop_items_on_library(
        self, server: ServerRef, library_id: str, dragged: DraggedItems
    ) -> None:
        """Items dragged from the item table onto a library of the tree: copied there."""
        same = account_key(server) == account_key(dragged.server)
        if same and library_id == dragged.library_id:
            self.show_status(self.tr("The items are in that library already."), error=True)
            return
        self.controller.copy_items(
            dragged.server, dragged.library_id, dragged.models(), server, library_id
        )

    def download_selected_files(self) -> None:
        item = self.current_item()
        if item is not None:
            self.controller.download_files(item, self.details.selected_file_names())

    def _shows_library_of(self, job: JobSnapshot) -> bool:
        """Whether the item table lists the library `job` uploads into."""
        spec = job.spec
        if spec.direction is Direction.COPY:  # a copy into the library shown
            return (
                spec.target_library_id == self.library_id
                and self._server is not None
                and account_key(spec.copy_target) == account_key(self._server)
            )
        return (
            spec.direction is Direction.UPLOAD
            and spec.library_id == self.library_id
            and self._server is not None
            and account_key(spec.server) == account_key(self._server)
        )

    def _on_job_changed(self, job: JobSnapshot) -> None:
        if not self._shows_library_of(job):
            return
        if job.item_id and self.item_model.row_of(job.item_id) < 0:
            self._items_reload.start()  # the item a job created: shown while it uploads
        elif job.item_id and self.item_model.note(job.item_id) != UPLOADING:
            self.manager.show_notes()

    def _on_job_finished(self, job: JobSnapshot) -> None:
        self.manager.note_job_finished(job)
        self._update_actions()
        if job.state is JobState.FAILED:
            text = self.tr("Transfer failed: {title}: {reason}")
            self.show_status(text.format(title=job.spec.title, reason=error_text(job)), error=True)
        elif job.state is JobState.DONE:
            text = self.tr("Finished: {title} ({verification})")
            verification = verification_label(job.verification) if job.verification else ""
            self.show_status(text.format(title=job.spec.title, verification=verification))
        if self._shows_library_of(job):
            self._items_reload.start()  # sizes, versions and new items changed

    def _on_totals(self, totals: Totals) -> None:
        if not totals.active:
            self.total_progress.hide()
            self.transfer_label.setText("")
            self._update_title()
            return
        percent = int(totals.fraction * 100)
        if percent != self.total_progress.value():
            # QProgressBar.setValue repaints the window at once, inside this Python slot;
            # with updates off it is painted by the event loop, which needs no GIL.
            self.total_progress.setUpdatesEnabled(False)
            self.total_progress.setValue(percent)
            self.total_progress.setUpdatesEnabled(True)
        self.total_progress.show()
        text = totals.text()
        if text != self.transfer_label.text():
            self.transfer_label.setText(text)
        self._update_title(totals.fraction)

    def _update_title(self, fraction: float | None = None) -> None:
        servers = self.browser.servers
        shown = self._server or (servers[0] if servers else None)
        prefix = f"{int(fraction * 100)}% \u00b7 " if fraction is not None else ""
        # "what \u2014 application", the application's name last: the platform adds it to a
        # title that does not already end with it, so "cl_desktop \u2014 x" showed it twice.
        name = QGuiApplication.applicationDisplayName() or APP_TITLE
        label = shown.label if shown else ""
        if shown and len(servers) > 1:
            more = self.tr("{server} (+{count} more)")
            label = more.format(server=shown.label, count=len(servers) - 1)
        what = f"{prefix}{label}" if shown else prefix.removesuffix(" \u00b7 ")
        title = f"{what} \u2014 {name}" if what else name
        if title != self.windowTitle():
            self.setWindowTitle(title)

    # --- menus, actions, errors ------------------------------------------------------------

    def _update_actions(self) -> None:
        connected = self._server is not None
        self.disconnect_action.setEnabled(connected)
        has_item = self.current_item() is not None
        self.refresh_action.setEnabled(True)
        self.upload_action.setEnabled(connected and has_item)
        self.upload_new_action.setEnabled(connected and self.library_id is not None)
        self.download_action.setEnabled(connected and bool(self.selected_items() or has_item))
        self.download_files_action.setEnabled(
            connected and has_item and bool(self.details.selected_file_names())
        )
        self.copy_id_action.setEnabled(has_item)
        self.copy_to_action.setEnabled(
            connected and self.library_id is not None and bool(self.selected_items() or has_item)
        )
        self.import_url_action.setEnabled(connected and self.library_id is not None)
        self.manager.update_actions(connected)

    def _item_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        add_actions(
            menu,
            [
                self.download_action,
                self.copy_to_action,
                self.upload_action,
                self.upload_new_action,
                self.import_url_action,
                None,
                self.copy_id_action,
                None,
                *self.manager.item_actions,
                None,
                self.refresh_action,
            ],
        )
        menu.popup(self.item_view.viewport().mapToGlobal(pos))

    def _library_menu(self, pos: QPoint) -> None:
        menu = self.library_menu(self.library_tree.indexAt(pos))
        menu.popup(self.library_tree.viewport().mapToGlobal(pos))

    def library_menu(self, index: QModelIndex) -> QMenu:
        """The tree's context menu for the row at `index`: a server's or a library's."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if index.isValid() and not index.data(LibraryIdRole):  # a server's row
            server = index.data(ServerRole)
            label = server.label.replace("&", "&&")  # a literal "&", not a mnemonic
            disconnect = menu.addAction(self.tr("D&isconnect {server}").format(server=label))
            disconnect.triggered.connect(lambda: self.disconnect_server(server))
            add_actions(menu, [None, self.connect_action, self.refresh_action])
        else:
            add_actions(
                menu,
                [
                    self.upload_new_action,
                    self.import_url_action,
                    None,
                    *self.manager.library_actions,
                    self.refresh_action,
                ],
            )
        return menu

    def _show_failure(self, error: ErrorInfo) -> None:
        self.show_status(error.text, error=True)
        if error.kind is ErrorKind.BUG:
            self.prompts.show_error(self, error)
