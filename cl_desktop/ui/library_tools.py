"""The Library menu's tools over several libraries: "Compare libraries..." and "Upload to
several libraries..." (added by the composition root after the window's menus)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMenu

from cl_desktop.services.compare import LibraryComparer
from cl_desktop.services.transfers import TransferService

from .actions import add_actions, make_action
from .compare_dialog import CompareDialog, connected_libraries
from .fanout_dialog import FanoutDialog
from .main_window import MainWindow


class LibraryTools(QObject):
    def __init__(
        self, window: MainWindow, comparer: LibraryComparer, transfers: TransferService
    ) -> None:
        super().__init__(window)
        self._window = window
        self._comparer = comparer
        self._transfers = transfers
        self.compare_dialog: CompareDialog | None = None
        self.fanout_dialog: FanoutDialog | None = None
        self.compare_action = make_action(
            window,
            self.tr("&Compare libraries..."),
            self.open_compare,
            tip=self.tr("Two libraries side by side: what is only in one, what differs"),
        )
        self.fanout_action = make_action(
            window,
            self.tr("Upload to &several libraries..."),
            self.open_fanout,
            tip=self.tr("One file into several libraries at once, read once"),
        )
        add_actions(self._library_menu(), [None, self.compare_action, self.fanout_action])

    def _library_menu(self) -> QMenu:
        for action in self._window.menuBar().actions():
            menu = action.menu()
            if isinstance(menu, QMenu) and menu.title().replace("&", "") == "Library":
                return menu
        return self._window.menuBar().addMenu(self.tr("&Library"))

    def open_compare(self) -> None:
        if self.compare_dialog is None:  # one, kept: a comparison running answers to it
            self.compare_dialog = CompareDialog(self._comparer, self._window)
        self.compare_dialog.set_libraries(connected_libraries(self._window.library_model))
        self.compare_dialog.show()
        self.compare_dialog.raise_()

    def open_fanout(self) -> None:
        entries = connected_libraries(self._window.library_model)
        if not entries:
            self._window.show_status(self.tr("Connect to a server first."), error=True)
            return
        dialog = FanoutDialog(entries, self._window)
        dialog.accepted.connect(lambda: self._queue_fanout(dialog))
        dialog.finished.connect(dialog.deleteLater)
        self.fanout_dialog = dialog
        dialog.open()

    def _queue_fanout(self, dialog: FanoutDialog) -> None:
        spec = dialog.spec()
        self._transfers.add([spec])
        self._window.show_status(
            self.tr("Uploading {file} to {n} libraries").format(
                file=spec.paths[0].replace("\\", "/").rsplit("/", 1)[-1],
                n=len(spec.fanout_targets),
            )
        )
