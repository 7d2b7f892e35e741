"""QThreadSpawner: the TransferQueue's `spawn`, running each worker function in a QThread."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QThread, Slot

log = logging.getLogger(__name__)

WORKER_NICENESS = 10


def lower_thread_priority(niceness: int = WORKER_NICENESS) -> None:
    """Make the calling thread yield the CPU to the GUI thread when both want it (Linux).

    Transfers are I/O-bound, so they lose no speed; but on a busy machine the GUI thread,
    which needs the CPU and then the GIL for each event, gets them sooner.
    """
    if not hasattr(os, "setpriority") or sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except OSError as exc:  # a restricted container: carry on at normal priority
        log.debug("cannot lower the priority of %s: %s", threading.current_thread().name, exc)


class _WorkerThread(QThread):
    def __init__(self, fn: Callable[[], None], name: str) -> None:
        super().__init__()
        self._fn = fn
        self.setObjectName(name)

    def run(self) -> None:
        lower_thread_priority()
        try:
            self._fn()
        except BaseException as exc:  # the engine reports job failures itself; this is a bug
            # the process's hook: the crash dialog's logs it and shows it on the GUI thread
            sys.excepthook(type(exc), exc, exc.__traceback__)


class QThreadSpawner(QObject):
    """Callable `spawn(fn, name)`: starts `fn` in a new QThread at once, from any thread.

    The queue calls it from whichever thread schedules the next job (a command thread, a
    finishing worker). Each QThread object is handed to the GUI thread, which deletes it
    when it has finished; `wait()` joins them all at shutdown.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._threads: set[_WorkerThread] = set()

    def __call__(self, fn: Callable[[], None], name: str) -> None:
        thread = _WorkerThread(fn, name)
        thread.moveToThread(self.thread())  # so that deleteLater runs on the GUI thread
        thread.finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    @property
    def running(self) -> int:
        with self._lock:
            return sum(1 for thread in self._threads if thread.isRunning())

    @Slot()
    def _on_finished(self) -> None:
        with self._lock:
            done = {thread for thread in self._threads if thread.isFinished()}
            self._threads -= done
        for thread in done:
            thread.deleteLater()

    def wait(self, msecs: int = 10000) -> bool:
        """Wait for every worker to end (after the queue was told to shut down)."""
        with self._lock:
            threads = list(self._threads)
        return all(thread.wait(msecs) for thread in threads)
