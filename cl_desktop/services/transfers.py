"""TransferService: the TransferQueue as a QObject whose job updates arrive on the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal, Slot

from cl_desktop.transfers.context import CleanupKind
from cl_desktop.transfers.jobs import HistoryRecord, JobSnapshot, JobSpec, ServerRef

from .errors import ErrorInfo
from .tasks import BackgroundTasks


class QueueLike(Protocol):
    """The part of cl_desktop.transfers.queue.TransferQueue this service uses."""

    def add_listener(self, callback: Callable[[JobSnapshot], None]) -> Any: ...
    def start(self, accept: Callable[[JobSpec], bool] | None = None) -> None: ...
    def shutdown(self) -> Any: ...
    def server_connected(self, server: ServerRef) -> Any: ...
    def server_disconnected(self, server: ServerRef) -> Any: ...
    def add(self, spec: JobSpec) -> int: ...
    def cancel(self, job_id: int) -> Any: ...
    def pause(self, job_id: int) -> Any: ...
    def resume(self, job_id: int) -> Any: ...
    def retry(self, job_id: int) -> Any: ...
    def remove(self, job_id: int) -> Any: ...
    def move(self, job_id: int, new_position: int) -> Any: ...
    def jobs(self) -> list[JobSnapshot]: ...
    def snapshot(self, job_id: int) -> JobSnapshot: ...
    def history(self) -> list[HistoryRecord]: ...
    def export_history(self, path: Any, fmt: str) -> Any: ...
    def pending_cleanups(self, server: ServerRef | None = None) -> list[tuple[str, str]]: ...
    def decide_warnings(self, job_id: int, ignore: Iterable[str]) -> Any: ...
    def configure(
        self, *, max_parallel: int, bandwidth_limit: int | None, keep_alive_max: float
    ) -> Any: ...


class TransferService(QObject):
    """Wraps the transfer queue for the GUI.

    Commands (add, cancel, ...) run on one background thread, in order, so the GUI thread
    never waits for the queue's database; the queue's listener callbacks (from any thread)
    are re-emitted on the GUI thread, the latest snapshot of each job once per wake-up.

    Signals:
        job_changed(JobSnapshot): a new or updated job (throttled by the engine).
        job_finished(JobSnapshot): a job reached done, failed or canceled.
        job_removed(int): a job left the queue.
        history_loaded(list[HistoryRecord]): the finished-transfer history, oldest first.
        started(list[JobSnapshot]): the queue started with these persisted jobs.
        command_failed(ErrorInfo): a queue command could not be carried out.
    """

    job_changed = Signal(object)
    job_finished = Signal(object)
    job_removed = Signal(int)
    history_loaded = Signal(object)
    started = Signal(object)
    command_failed = Signal(object)
    _wake = Signal()

    def __init__(
        self, queue: QueueLike, commands: BackgroundTasks, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.queue = queue
        self._commands = commands
        self._jobs: dict[int, JobSnapshot] = {}
        self._removed: set[int] = set()
        self._history_pending = False
        self._lock = threading.Lock()
        self._pending: dict[int, JobSnapshot] = {}
        self._wake_posted = False
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        queue.add_listener(self._listener)

    # --- called by the queue, from any thread ---------------------------------------------

    def _listener(self, snapshot: JobSnapshot) -> None:
        # Keep the latest snapshot per job and wake the GUI thread once for all of them:
        # each wake-up costs the GUI thread a turn at the GIL, which the workers hold often.
        with self._lock:
            self._pending[snapshot.id] = snapshot
            if self._wake_posted:
                return
            self._wake_posted = True
        try:
            self._wake.emit()
        except RuntimeError:  # this QObject is gone: the application is shutting down
            pass

    # --- GUI thread -----------------------------------------------------------------------

    @Slot()
    def _drain(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._wake_posted = False
        for snapshot in pending.values():
            self._on_snapshot(snapshot)

    def _on_snapshot(self, snapshot: JobSnapshot, announce: bool = True) -> None:
        if snapshot.id in self._removed:
            return  # a late update of a job the user removed
        if snapshot.position < 0:  # the queue announces a removal with position -1
            self._forget(snapshot.id)
            return
        old = self._jobs.get(snapshot.id)
        self._jobs[snapshot.id] = snapshot
        self.job_changed.emit(snapshot)
        # By finish time, not state: a quick retry can go from FAILED to DONE between drains.
        finished_now = old is None or old.finished_at != snapshot.finished_at
        if announce and snapshot.state.finished and finished_now:
            self.job_finished.emit(snapshot)
            self.refresh_history()

    def _accept_new(self, snapshot: JobSnapshot, announce: bool = True) -> None:
        # A command's result may be older than what the listener already delivered.
        if snapshot.id not in self._jobs:
            self._on_snapshot(snapshot, announce)

    def jobs(self) -> list[JobSnapshot]:
        """The latest snapshot of every job, in job-id order."""
        return [self._jobs[job_id] for job_id in sorted(self._jobs)]

    def job(self, job_id: int) -> JobSnapshot | None:
        return self._jobs.get(job_id)

    def start(self, accept: Callable[[JobSpec], bool] | None = None) -> None:
        """Start the queue (it resumes the persisted jobs `accept` takes, all by default; a
        job whose server has no login waits for one) and load jobs and history."""

        def start() -> tuple[list[JobSnapshot], list[HistoryRecord]]:
            self.queue.start(accept)
            return self.queue.jobs(), self.queue.history()

        def loaded(result: tuple[list[JobSnapshot], list[HistoryRecord]]) -> None:
            jobs, history = result
            for snapshot in jobs:
                self._accept_new(snapshot, announce=False)  # finished in an earlier session
            self.history_loaded.emit(history)
            self.started.emit(jobs)

        self._commands.run(start, loaded, self.command_failed.emit)

    def server_connected(self, server: ServerRef) -> None:
        """A login to `server` exists now: the jobs waiting for it run."""
        self._commands.run(
            lambda: self.queue.server_connected(server), None, self.command_failed.emit
        )

    def server_disconnected(
        self, server: ServerRef, on_done: Callable[[], None] | None = None
    ) -> None:
        """The user logs out of `server`: its jobs stop and wait for a login again. Log out
        (`Connector.disconnect`) from `on_done` (GUI thread), once the jobs have ended their
        upload sessions while still logged in."""
        done = (lambda _: on_done()) if on_done is not None else None
        self._commands.run(
            lambda: self.queue.server_disconnected(server), done, self.command_failed.emit
        )

    def configure(
        self, *, max_parallel: int, bandwidth_limit: int | None, keep_alive_max: float
    ) -> None:
        """New limits for the running queue (the settings): parallel transfers, the bandwidth
        limit in bytes/s shared by the running jobs (None: none), the keep-alive interval."""
        self._commands.run(
            lambda: self.queue.configure(
                max_parallel=max_parallel,
                bandwidth_limit=bandwidth_limit,
                keep_alive_max=keep_alive_max,
            ),
            None,
            self.command_failed.emit,
        )

    def shutdown(self) -> None:
        """Stop the queue: running jobs are interrupted and persisted for the next start."""
        self._commands.shutdown()
        self.queue.shutdown()

    def add(
        self, specs: Iterable[JobSpec], on_added: Callable[[list[int]], None] | None = None
    ) -> None:
        """Queue new jobs; `on_added(job ids)` runs on the GUI thread."""
        specs = list(specs)

        def add() -> list[JobSnapshot]:
            return [self.queue.snapshot(self.queue.add(spec)) for spec in specs]

        def added(snapshots: list[JobSnapshot]) -> None:
            for snapshot in snapshots:
                self._accept_new(snapshot)
            if on_added is not None:
                on_added([s.id for s in snapshots])

        self._commands.run(add, added, self.command_failed.emit)

    def cancel(self, job_id: int) -> None:
        self._command(self.queue.cancel, job_id)

    def pause(self, job_id: int) -> None:
        self._command(self.queue.pause, job_id)

    def resume(self, job_id: int) -> None:
        self._command(self.queue.resume, job_id)

    def retry(self, job_id: int) -> None:
        self._command(self.queue.retry, job_id)

    def decide_warnings(self, job_id: int, ignore: Iterable[str]) -> None:
        """The user's answer about a signed OVF's warnings: ignore these (the job resumes),
        or fail the job if any of its warnings is not among them."""
        chosen = frozenset(ignore)
        self._command(lambda job: self.queue.decide_warnings(job, chosen), job_id)

    def move(self, job_id: int, new_position: int) -> None:
        self._command(lambda job: self.queue.move(job, new_position), job_id)

    def remove(self, job_id: int) -> None:
        """Forget a job (a running one is cancelled first); its history stays."""
        self._commands.run(
            lambda: self.queue.remove(job_id),
            lambda _: self._forget(job_id),
            self.command_failed.emit,
        )

    def _forget(self, job_id: int) -> None:
        self._removed.add(job_id)
        if self._jobs.pop(job_id, None) is not None:
            self.job_removed.emit(job_id)

    def _command(self, method: Callable[[int], Any], job_id: int) -> None:
        # The engine announces every state change to its listeners, so no result is needed.
        self._commands.run(lambda: method(job_id), None, self.command_failed.emit)

    def refresh_history(self) -> None:
        if self._history_pending:
            return
        self._history_pending = True

        def loaded(records: list[HistoryRecord]) -> None:
            self._history_pending = False
            self.history_loaded.emit(records)

        def failed(error: ErrorInfo) -> None:
            self._history_pending = False
            self.command_failed.emit(error)

        self._commands.run(self.queue.history, loaded, failed)

    def load_leftover_items(self, server: ServerRef, on_done: Callable[[set[str]], None]) -> None:
        """The empty items jobs created and could not delete yet (their server was away),
        read from the queue's database in the background."""

        def read() -> set[str]:
            cleanups = self.queue.pending_cleanups(server)
            return {target for kind, target in cleanups if kind == CleanupKind.ITEM}

        self._commands.run(read, on_done, self.command_failed.emit)

    def export_history(
        self,
        path: str,
        fmt: str,
        on_done: Callable[[str], None] | None = None,
        on_failed: Callable[[ErrorInfo], None] | None = None,
    ) -> None:
        """Write the history as "csv" or "json" to `path` in the background."""
        self._commands.run(
            lambda: (self.queue.export_history(path, fmt), path)[1],
            on_done,
            on_failed or self.command_failed.emit,
        )
