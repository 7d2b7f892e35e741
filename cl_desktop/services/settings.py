"""SettingsService: the user's preferences for the window, saved and applied while it runs.

The preferences themselves (each default, the file) are `cl_desktop.preferences`, shared with
cl-transfer. Applying a change reaches the running parts: parallel transfers and the
bandwidth limit the queue (its running jobs at their next block), the keep-alive interval the
sessions opened next, the refresh interval the session monitor, the level the "cl_desktop"
logger.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cl_desktop import preferences
from cl_desktop.preferences import Preferences

from .sessions import SessionMonitor
from .transfers import TransferService

log = logging.getLogger(__name__)


class SettingsService(QObject):
    """Holds the current preferences; `apply` saves and applies a changed set.

    A value the command line chose for this run (cl-desktop --parallel) stays in force until
    the user changes that preference. The log level is set at start by the program itself
    (`__main__`, unless --debug), so that building the application leaves logging alone.

    Signals:
        changed(Preferences): applied (and saved).
    """

    changed = Signal(object)

    def __init__(
        self,
        path: Path,
        transfers: TransferService,
        sessions: SessionMonitor | None = None,
        parent: QObject | None = None,
        *,
        current: Preferences | None = None,
        parallel_override: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.path = path
        self.current = current if current is not None else preferences.load(path)
        self._transfers = transfers
        self._sessions = sessions
        self._parallel = parallel_override or self.current.parallel_transfers

    @property
    def max_parallel(self) -> int:
        """The parallel transfers of this run (the preference, or --parallel)."""
        return self._parallel

    def apply(self, new: Preferences) -> None:
        """Save `new` (OSError if the file cannot be written: nothing is applied then) and
        apply what changed to the running parts."""
        old = self.current
        preferences.save(new, self.path)
        self.current = new
        if new.parallel_transfers != old.parallel_transfers:
            self._parallel = new.parallel_transfers
        limits = ("parallel_transfers", "bandwidth_limit", "keep_alive_seconds")
        if any(getattr(new, name) != getattr(old, name) for name in limits):
            self._transfers.configure(
                max_parallel=self._parallel,
                bandwidth_limit=new.bandwidth_limit_bytes,
                keep_alive_max=new.keep_alive_seconds,
            )
        if self._sessions is not None:
            self._sessions.set_interval(int(new.sessions_refresh_seconds * 1000))
        if new.log_level != old.log_level:
            preferences.apply_log_level(new)
        log.info("preferences saved to %s", self.path)
        self.changed.emit(new)
