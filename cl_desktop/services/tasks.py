"""BackgroundTasks: run blocking calls on a thread pool; results come back on the GUI thread."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from .errors import ErrorInfo, ErrorKind

log = logging.getLogger(__name__)

T = TypeVar("T")
Success = Callable[[Any], None]
Failure = Callable[[ErrorInfo], None]


class TaskCancelled(Exception):
    """Raised inside a task that found itself superseded: nothing is delivered or logged."""


class _Relay(QObject):
    """Lives on the GUI thread; workers emit on it, so delivery is queued to that thread."""

    done = Signal(int, object, object)  # task id, result, ErrorInfo | None


class _Task(QRunnable):
    def __init__(self, task_id: int, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Python side keeps it until delivery
        self.task_id = task_id
        self.fn = fn
        self.relay = relay
        self.cancelled = False

    def run(self) -> None:
        result: Any = None
        error: ErrorInfo | None = None
        try:
            result = self.fn()
        except TaskCancelled:
            self.cancelled = True
        except BaseException as exc:  # every failure is reported, never swallowed
            error = ErrorInfo.from_exception(exc)
            if error.kind is ErrorKind.BUG:
                log.error("background task failed", exc_info=exc)
            else:
                log.info("background task failed: %s", error.text)
        try:
            self.relay.done.emit(self.task_id, result, error)
        except RuntimeError:  # the relay was deleted: the application is shutting down
            pass


@dataclass
class _Pending:
    task: _Task
    on_success: Success | None
    on_failure: Failure | None


class BackgroundTasks(QObject):
    """Runs `fn()` on a QThreadPool and calls `on_success(result)` or `on_failure(ErrorInfo)`
    on the GUI thread (like anki's run_in_background: never touch widgets inside `fn`).

    Signals:
        busy_changed(bool): True when the first task starts, False when the last one ends.
    """

    busy_changed = Signal(bool)

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def run(
        self,
        fn: Callable[[], T],
        on_success: Callable[[T], None] | None = None,
        on_failure: Failure | None = None,
    ) -> int:
        """Start `fn` in the background; returns a task id for `discard`."""
        task_id = next(self._ids)
        task = _Task(task_id, fn, self._relay)
        was_busy = self.busy
        self._pending[task_id] = _Pending(task, on_success, on_failure)
        self._pool.start(task)
        if not was_busy:
            self.busy_changed.emit(True)
        return task_id

    def discard(self, task_id: int) -> None:
        """Forget a task's callbacks: its result will be dropped (the call itself runs on)."""
        pending = self._pending.get(task_id)
        if pending is not None:
            pending.on_success = pending.on_failure = None

    def wait(self, msecs: int = -1) -> bool:
        """Block until every task has run (for shutdown and tests); False on time-out."""
        return self._pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 5000) -> None:
        """Drop pending callbacks and wait for running calls (they have HTTP timeouts)."""
        for task_id in list(self._pending):
            self.discard(task_id)
        self._pool.clear()
        self.wait(msecs)

    @Slot(int, object, object)
    def _deliver(self, task_id: int, result: object, error: ErrorInfo | None) -> None:
        pending = self._pending.pop(task_id, None)
        if pending is None:
            return
        if pending.task.cancelled:
            pending.on_success = pending.on_failure = None
        try:
            if error is None:
                if pending.on_success is not None:
                    pending.on_success(result)
            elif pending.on_failure is not None:
                pending.on_failure(error)
            elif pending.on_success is not None or error.kind is ErrorKind.BUG:
                log.error("unhandled background failure: %s\n%s", error.text, error.details)
        finally:
            if not self._pending:
                self.busy_changed.emit(False)
