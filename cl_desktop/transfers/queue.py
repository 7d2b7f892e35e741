"""The transfer queue: scheduling, workers, persistence, history. No Qt.

Listeners receive a JobSnapshot on every state change and at most every `progress_interval`
seconds per job while bytes move. They are called on worker threads with the queue's lock
held, so they must only hand the snapshot on (the Qt service layer queues it to the GUI
thread) and never call back into the queue. A removed job arrives once more with
`position == -1`. Workers are started through `spawn`, so the GUI can run them
in QThreads and the command line in plain threads.

A paused upload keeps its update session and item; a small keeper thread per paused job sends
keep-alives until it resumes, is cancelled or removed, or the queue shuts down. Sessions and
empty items that jobs could not end or delete (server unreachable) are remembered in the
store's cleanups and done at the next job run for that server, or by `perform_cleanups(server)`
(call it when a server is connected again); `wait_cleanups` waits for those threads.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from cl_desktop.api import ContentLibraryClient, ContentLibraryError, errors

from .context import CleanupKind, KeepAlive, WorkflowContext, end_session
from .control import JobControl, RetryPolicy, is_retryable
from .copy import run_copy
from .download import local_path, run_download
from .errors import (
    INTERNAL_ERROR_TITLE,
    Interrupted,
    LocalError,
    NotConnected,
    TransferError,
    describe,
    failure_kind,
)
from .fanout import fanout_history, fanout_labels, run_fanout
from .jobs import (
    Direction,
    FailureKind,
    FanoutSent,
    FileProgress,
    HistoryRecord,
    JobSnapshot,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
    WarningDecision,
    verdict,
)
from .meter import SpeedMeter
from .ownership import account_key, owned_session
from .pull import run_pull
from .signatures import RefusedWarnings, WarningsPending
from .store import JobStore
from .upload import delete_if_empty, resend_note, run_upload

log = logging.getLogger(__name__)

LOGIN_OPERATION = "log in"  # the operation of the client's errors from a login itself

Connector = Callable[[ServerRef], ContentLibraryClient]
Spawner = Callable[[Callable[[], None], str], None]
Listener = Callable[[JobSnapshot], None]


_SESSION_ENDED_AT_LOGOUT = (
    "the upload session ended when its server was disconnected; "
    "resuming sends the files again into the same item"
)


def thread_spawner(target: Callable[[], None], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


class JobClaimed(LocalError):
    """The job belongs to another live process (its queue claimed it)."""

    title = "Job in use"
    hint = "Wait for it to finish there, or stop that process."

    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} is in use by another running cl_desktop or cl-transfer.")
        self.job_id = job_id


def _history_extra(job: JobSnapshot, file: FileProgress | None) -> dict[str, str]:
    """The history record's extras: an import's URL, a downloaded file's local path."""
    extra = {"source_url": job.spec.source_url} if job.spec.source_url else {}
    if file is not None and job.spec.direction is Direction.DOWNLOAD and job.spec.target:
        extra["path"] = local_path(job.spec, file.name, len(job.files))
    if file is not None and job.spec.fanout_targets:  # which target, and whether skipped
        extra.update(fanout_history(job, file.name))
    if job.spec.direction is Direction.COPY:  # where the copy went (the record's ids: source)
        extra["source_item_id"] = job.spec.item_id or ""
        extra["target_server"] = job.spec.copy_target.url
        extra["target_user"] = job.spec.copy_target.username
        extra["target_library_id"] = job.spec.target_library_id
        extra["target_item_id"] = job.item_id or job.spec.target_item_id or ""
        extra["target_item_name"] = job.spec.target_item_name
    return extra


def _record_item_id(job: JobSnapshot) -> str:
    """The item the record's server and library hold: a copy's source (its target's item is
    in the extras), else the job's item."""
    if job.spec.direction is Direction.COPY:
        return job.spec.item_id or ""
    return job.item_id or job.spec.item_id or ""


def _record_place(job: JobSnapshot, file: FileProgress | None) -> tuple[ServerRef, str, str, str]:
    """(server, library id, item id, item name) of a history record: a fan-out's file row is
    one target's (its rows are named by `fanout_labels`), anything else the job's."""
    spec = job.spec
    if file is not None and spec.fanout_targets:
        labels = fanout_labels(spec.fanout_targets)
        for target, label in zip(spec.fanout_targets, labels, strict=True):
            if label == file.name:  # (the id of an item the fan-out made is not kept)
                return target.server, target.library_id, target.item_id or "", target.item_name
    return spec.server, spec.library_id, _record_item_id(job), spec.item_name


class _Running:
    """Book-keeping for one running job (only touched under the queue's lock)."""

    def __init__(self, control: JobControl) -> None:
        self.control = control
        self.meter = SpeedMeter()
        self.last_emit = 0.0
        self.last_persist = 0.0
        self.file_done: dict[str, int] = {}
        self.files_sent: set[str] = set()  # uploads: the server has these whole
        self.started_at = datetime.now(UTC)


class _SessionKeeper:
    """Holds a paused upload's update session open with keep-alives (without progress), so
    that the resume keeps the files already sent. Bounded: it stops when told (resume,
    cancel, remove, shutdown), when the session is gone, after a few failures in a row, or
    after `limit` seconds (the session then expires and the resume starts a new one)."""

    MAX_FAILURES = 5

    def __init__(
        self,
        connect: Callable[[], ContentLibraryClient],
        session_id: str,
        limit: float,
        max_interval: float = 60.0,
    ) -> None:
        self._connect = connect
        self._session_id = session_id
        self._limit = limit
        self._max_interval = max_interval
        self._stop = threading.Event()
        threading.Thread(target=self._run, name=f"keep-{session_id[:8]}", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        sid, deadline, failures = self._session_id, time.monotonic() + self._limit, 0
        try:
            client = self._connect()
            expiration = client.update_sessions.get(sid).expiration_time
            interval = KeepAlive(lambda _: None, expiration, max_interval=self._max_interval)
        except Exception as exc:
            log.info("cannot keep the paused session %s alive: %s", sid, exc)
            return
        while not self._stop.wait(interval.interval) and time.monotonic() < deadline:
            try:
                client.update_sessions.keep_alive(sid)
                failures = 0
            except (errors.NotFound, errors.NotAllowedInCurrentState):
                log.info("the paused session %s is gone; the resume starts a new one", sid)
                return
            except Exception as exc:
                failures += 1
                log.info("keep-alive of the paused session %s failed: %s", sid, exc)
                if failures >= self.MAX_FAILURES:
                    return


class TransferQueue:
    # how long a paused upload's session is held open for its resume
    pause_keep_alive_limit = 8 * 3600.0

    def __init__(
        self,
        store: JobStore,
        connector: Connector,
        *,
        max_parallel: int = 2,
        bandwidth_limit: int | None = None,
        spawn: Spawner | None = None,
        progress_interval: float = 0.2,
        retry_policy: RetryPolicy | None = None,
        wait_for_login_again: bool = True,
        ask_about_warnings: bool = True,
        command_line: bool = False,
    ) -> None:
        self._store = store
        # True: a failed job's message has the hints a command line gives ("refresh the view"
        # means nothing there; `describe`)
        self.command_line = command_line
        # False: a signed OVF's preview warnings that a job's spec does not allow fail it (the
        # command line cannot ask); True: the job waits, paused, for `decide_warnings`
        self.ask_about_warnings = ask_about_warnings
        # False: a refused login fails its job (the command line cannot log in again)
        self.wait_for_login_again = wait_for_login_again
        self.retry_policy = retry_policy or RetryPolicy()  # reconnect window, stall figures
        self._connector = connector
        self._spawn = spawn or thread_spawner
        self.max_parallel = max_parallel
        self.bandwidth_limit = bandwidth_limit  # bytes/s shared by all running jobs, or None
        self.progress_interval = progress_interval
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._jobs: dict[int, JobSnapshot] = {}
        self._running: dict[int, _Running] = {}
        self._listeners: list[Listener] = []
        self._keepers: dict[int, _SessionKeeper] = {}
        self._cleaners = 0  # threads performing remembered cleanups
        self._started = False
        self._closing = False
        # Accounts whose connector said NotConnected: their jobs wait for server_connected.
        self._no_login: set[tuple[str, str]] = set()
        self._logins = 0  # server_connected calls so far
        self._disconnecting: set[int] = set()  # running jobs stopped by server_disconnected
        self._launched_at_login: dict[int, int] = {}  # job id -> self._logins at its launch

    # --- life cycle -------------------------------------------------------------------------

    def start(self, accept: Callable[[JobSpec], bool] | None = None) -> None:
        """Load the persisted jobs this queue can claim and schedule the unfinished ones.

        A job is owned by one queue at a time (`JobStore.claim`): one that another live
        process holds is not loaded, so it is never shown, cancelled or run twice; one whose
        owner died is taken over (its RUNNING state is a leftover: it runs again).
        `accept` limits this queue to some jobs (the command line takes only those of the
        server and user it was given).
        """
        with self._lock:
            for job in self._store.load():
                if accept is not None and not accept(job.spec):
                    continue
                self._take(job)
            self._started = True
            self._schedule()

    def adopt(self, job_id: int) -> JobSnapshot:
        """Claim and load one persisted job (the command line's retry and remove).

        Adopted before `start`, a job does not run until then (remove never starts it).
        KeyError if there is no such job, JobClaimed if another live process owns it.
        """
        with self._lock:
            if job_id in self._jobs:
                return self._jobs[job_id]
            found = [job for job in self._store.load() if job.id == job_id]
            if not found:
                raise KeyError(job_id)
            if not self._take(found[0]):
                raise JobClaimed(job_id)
            self._schedule()
            return self._jobs[job_id]

    def _take(self, job: JobSnapshot) -> bool:
        if not self._store.claim(job.id):
            return False
        if job.state is JobState.RUNNING:  # its owner died mid-transfer
            job = dataclasses.replace(job, state=JobState.QUEUED)
            self._store.save(job)
        self._jobs[job.id] = job
        return True

    def configure(
        self, *, max_parallel: int, bandwidth_limit: int | None, keep_alive_max: float
    ) -> None:
        """Change the limits while jobs run (the window's settings): more parallel jobs start
        at once, fewer let the running ones finish; the bandwidth limit (bytes/s, None: none)
        applies to the running jobs at their next block (each asks for its share); the
        keep-alive interval to the sessions opened from now on."""
        with self._lock:
            self.max_parallel = max(1, max_parallel)
            self.bandwidth_limit = bandwidth_limit or None
            self.retry_policy = dataclasses.replace(
                self.retry_policy, keep_alive_max=keep_alive_max
            )
            self._schedule()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop running jobs so that they continue on the next start."""
        with self._lock:
            self._closing = True
            for running in self._running.values():
                running.control.request_stop(pause=True)
            for job_id in list(self._keepers):
                self._stop_keeper(job_id)
                # nobody keeps a paused session alive after exit: end it, keep the item
                paused = self._release(self._jobs[job_id], keep_item=True)
                note = (
                    "the upload session ended when the app closed; "
                    "resuming sends the files again into the same item"
                )
                if paused.decision is not None:  # runs on the next start and asks again
                    self._update(paused, state=JobState.QUEUED, decision=None, note=note)
                else:
                    self._update(paused, note=note)
            deadline = time.monotonic() + timeout
            while (self._running or self._cleaners) and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            for job_id in self._jobs:
                if job_id not in self._running:  # a worker still running keeps its claim
                    self._store.release(job_id)

    def server_connected(self, server: ServerRef) -> None:
        """A login to `server` now exists: its jobs that waited for it are scheduled."""
        key = account_key(server)
        with self._lock:
            self._logins += 1
            self._no_login.discard(key)
            for job in list(self._jobs.values()):
                waits = account_key(job.spec.server) == key or _copy_target(job.spec) == key
                if job.phase is Phase.WAITING_FOR_LOGIN and waits:
                    self._update(job, persist=False, phase=Phase.WAITING, note="")
            self._schedule()
        if self.pending_cleanups(server):  # what jobs left there while it was unreachable
            self.perform_cleanups(server)

    def server_disconnected(self, server: ServerRef, timeout: float = 10.0) -> None:
        """The user logs out of `server`: its running jobs stop and wait for a login again,
        with its queued ones; `server_connected` runs them. Returns once they have stopped
        (or after `timeout` seconds), so that the caller can log out afterwards.

        An upload's session is ended and its item kept, as at shutdown: without a login
        nobody can keep the session alive, and an ACTIVE session would hold the item
        against every other upload until it expired. A paused upload's session likewise.
        """
        key = account_key(server)
        with self._lock:
            self._no_login.add(key)
            for job in list(self._jobs.values()):
                target = _copy_target(job.spec) == key  # a copy into that server
                if account_key(job.spec.server) != key and not target:
                    continue
                if job.id in self._running:
                    self._disconnecting.add(job.id)
                    self._running[job.id].control.request_stop(pause=True)
                elif job.id in self._keepers:
                    self._stop_keeper(job.id)
                    paused = self._release(job, keep_item=True)
                    self._update(paused, note=_SESSION_ENDED_AT_LOGOUT)
                elif job.state is JobState.QUEUED:
                    self._wait_for_login(job, job.spec.copy_target if target else None)
            deadline = time.monotonic() + timeout
            while (self._disconnecting or self._cleaners) and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    # --- commands ---------------------------------------------------------------------------

    def add(self, spec: JobSpec) -> int:
        with self._lock:
            position = max((j.position for j in self._jobs.values()), default=0) + 1
            now = time.time()
            job_id = self._store.insert(spec, position, now)
            job = JobSnapshot(job_id, spec, JobState.QUEUED, position=position, created_at=now)
            self._jobs[job_id] = job
            self._emit(job)
            self._schedule()
            return job_id

    def cancel(self, job_id: int) -> None:
        self._stop(job_id, pause=False)

    def pause(self, job_id: int) -> None:
        self._stop(job_id, pause=True)

    def _stop(self, job_id: int, pause: bool) -> None:
        with self._lock:
            job = self._jobs[job_id]
            if job.id in self._running:
                self._running[job.id].control.request_stop(pause)  # the worker ends the job
            elif pause and job.state.can_pause():
                # a queued job may hold a session already (app closed mid-upload)
                self._keep_paused_session(self._update(job, state=JobState.PAUSED))
            elif not pause and job.state.can_cancel():
                self._stop_keeper(job_id)
                self._release(self._finish(job, JobState.CANCELED, None))

    def resume(self, job_id: int) -> None:
        with self._lock:
            job = self._jobs[job_id]
            if job.state.can_resume():
                self._stop_keeper(job_id)
                self._update(job, state=JobState.QUEUED)
                self._schedule()

    def retry(self, job_id: int) -> None:
        with self._lock:
            job = self._jobs[job_id]
            if job.state.can_retry():
                self._update(
                    job,
                    state=JobState.QUEUED,
                    error_title="",
                    error_message="",
                    failure=None,
                    finished_at=None,
                    verification=None,
                    phase=Phase.WAITING,
                    note="",
                )
                self._schedule()

    def decide_warnings(self, job_id: int, ignore: Iterable[str]) -> None:
        """The user's answer to a job paused on a signed OVF's preview warnings: the types in
        `ignore` join the job's allowed warnings (persisted with its spec). When that covers
        every pending warning the job resumes, reusing its session, which then marks them
        ignored and completes; otherwise it fails naming the warnings left, its session ended
        and an item it created deleted. Ignored for a job that waits for no decision."""
        with self._lock:
            job = self._jobs[job_id]
            if job.decision is None or job.state is not JobState.PAUSED:
                return
            decision, allowed = job.decision, set(ignore) & set(job.decision.types)
            spec = dataclasses.replace(
                job.spec, ignore_warnings=tuple(sorted({*job.spec.ignore_warnings, *allowed}))
            )
            self._store.save_spec(job_id, spec)
            self._stop_keeper(job_id)
            refused = tuple(w for w in decision.warnings if w.type not in allowed)
            if refused:
                error = RefusedWarnings(dataclasses.replace(decision, warnings=refused))
                job = self._update(job, spec=spec)
                self._release(self._finish(job, JobState.FAILED, error))
                log.info("job %s: the user refused the warnings %s", job_id, error.decision.types)
                return
            self._update(
                job, spec=spec, state=JobState.QUEUED, phase=Phase.WAITING, note="", decision=None
            )
            self._schedule()

    def remove(self, job_id: int) -> None:
        """Forget a job (cancelling it first if it runs); its history stays."""
        with self._lock:
            running = job_id in self._running
            if running:
                self._running[job_id].control.request_stop(pause=False)
                self._jobs[job_id] = dataclasses.replace(self._jobs[job_id], position=-1)
            self._stop_keeper(job_id)
            job = self._jobs.pop(job_id, None)
            self._launched_at_login.pop(job_id, None)
            if job is not None and not running and job.state is not JobState.DONE:
                self._release(job)  # a paused or stopped job's session and empty item
            self._store.delete(job_id)
            if job is not None:
                self._emit(dataclasses.replace(job, position=-1))

    # --- what jobs leave on servers ---------------------------------------------------------

    def _stop_keeper(self, job_id: int) -> None:
        keeper = self._keepers.pop(job_id, None)
        if keeper is not None:
            keeper.stop()

    def _release(self, job: JobSnapshot, keep_item: bool = False) -> JobSnapshot:
        """A job that no longer runs gives up its server session and (unless `keep_item`) the
        empty item it created: remembered in the store first (so a crash cannot lose it), then
        done on a cleaner thread, never on the caller's (the GUI's)."""
        if job.spec.direction is Direction.COPY:
            return self._release_copy(job, keep_item)
        upload = job.spec.direction is Direction.UPLOAD
        work: list[tuple[CleanupKind, str]] = []
        if job.session_id:
            kind = CleanupKind.UPDATE_SESSION if upload else CleanupKind.DOWNLOAD_SESSION
            work.append((kind, job.session_id))
        drop_item = upload and job.item_created and job.item_id and not keep_item
        if drop_item:
            work.append((CleanupKind.ITEM, job.item_id or ""))
        if not work:
            return job
        for kind, target in work:
            self._store.add_cleanup(job.spec.server, kind.value, target)
        if job.id in self._jobs:
            if drop_item:
                job = self._update(job, session_id=None, item_id=None, item_created=False)
            else:
                job = self._update(job, session_id=None)
        self.perform_cleanups(job.spec.server)
        return job

    def perform_cleanups(self, server: ServerRef) -> None:
        """End the sessions and delete the empty items that jobs of `server` left behind,
        on a thread of its own (call it when that server is connected again)."""
        with self._lock:
            self._cleaners += 1

        def clean() -> None:
            try:
                self._perform_cleanups(self._connector(server), server)
            except Exception as exc:
                log.info("cleanups for %s wait for the server: %s", server.url, exc)
            finally:
                with self._lock:
                    self._cleaners -= 1
                    self._changed.notify_all()

        threading.Thread(target=clean, name="transfer-cleanup", daemon=True).start()

    def wait_cleanups(self, timeout: float | None = None) -> bool:
        """Block until no cleaner thread runs (the command line before it exits, tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._cleaners:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def pending_cleanups(self, server: ServerRef | None = None) -> list[tuple[str, str]]:
        """(kind, id) of what is still to be ended or deleted on a server."""
        return [(kind, target) for _, _, kind, target in self._store.cleanups(server)]

    def _perform_cleanups(self, client: ContentLibraryClient, server: ServerRef) -> None:
        for cleanup_id, _, kind, target in self._store.cleanups(server):
            try:
                if kind == CleanupKind.ITEM:
                    delete_if_empty(client, target)
                else:
                    sessions = (
                        client.update_sessions
                        if kind == CleanupKind.UPDATE_SESSION
                        else client.download_sessions
                    )
                    if not end_session(sessions, target, None):
                        continue  # unreachable still: kept for the next time
            except Exception as exc:
                if is_retryable(exc):
                    log.info("cleanup of %s %s waits for the server: %s", kind, target, exc)
                    continue
                log.warning("cleanup of %s %s is impossible: %s", kind, target, exc)
            log.info("cleaned up %s %s", kind, target)
            self._store.delete_cleanup(cleanup_id)

    def move(self, job_id: int, new_index: int) -> None:
        """Put a job at `new_index` in queue order (0 = next to run)."""
        with self._lock:
            order = sorted(self._jobs.values(), key=lambda j: j.position)
            job = self._jobs[job_id]
            order.remove(job)
            order.insert(max(0, min(new_index, len(order))), job)
            for index, entry in enumerate(order, start=1):
                if entry.position != index:
                    self._update(entry, position=index)

    # --- queries ----------------------------------------------------------------------------

    def jobs(self) -> list[JobSnapshot]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.position)

    def snapshot(self, job_id: int) -> JobSnapshot:
        with self._lock:
            return self._jobs[job_id]

    def history(self) -> list[HistoryRecord]:
        return self._store.history()

    def export_history(self, path: Path | str, fmt: str) -> int:
        return self._store.export_history(path, fmt)

    def wait(self, job_id: int, timeout: float | None = None) -> JobSnapshot:
        """Block until the job is finished (or paused); for the command line and tests."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                job = self._jobs.get(job_id)
                if job is None:
                    raise KeyError(f"job {job_id} was removed")
                if (job.state.finished or job.state is JobState.PAUSED) and (
                    job_id not in self._running
                ):
                    return job
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"job {job_id} still {job.state.value}")
                self._changed.wait(left)

    # --- scheduling -------------------------------------------------------------------------

    def _schedule(self) -> None:
        if not self._started or self._closing:
            return
        busy_items = {
            self._jobs[i].item_id or self._jobs[i].spec.item_id
            for i in self._running
            if self._jobs[i].spec.direction is Direction.UPLOAD
        }
        for job in sorted(self._jobs.values(), key=lambda j: j.position):
            if len(self._running) >= self.max_parallel:
                return
            if job.state is not JobState.QUEUED:
                continue
            if account_key(job.spec.server) in self._no_login:
                self._wait_for_login(job)
                continue
            if _copy_target(job.spec) in self._no_login:  # a copy needs both logins
                self._wait_for_login(job, job.spec.copy_target)
                continue
            target = job.item_id or job.spec.item_id
            if job.spec.direction is Direction.UPLOAD and target and target in busy_items:
                continue  # the server allows one update session per item
            if job.spec.direction is Direction.UPLOAD and target:
                busy_items.add(target)
            self._launch(job)

    def _wait_for_login(self, job: JobSnapshot, server: ServerRef | None = None) -> None:
        """Queued, not run (no slot, no retries) until server_connected for its account."""
        if job.phase is not Phase.WAITING_FOR_LOGIN:
            label = (server or job.spec.server).label  # the account to connect to
            note = f"waiting for login to {label}"
            self._update(job, persist=False, phase=Phase.WAITING_FOR_LOGIN, note=note)

    def _not_connected(self, job: JobSnapshot, error: NotConnected | None = None) -> None:
        """The connector had no login for the job's account: undo the launch and wait."""
        launched_at = self._launched_at_login.pop(job.id, self._logins)
        job = self._update(
            job,
            state=JobState.QUEUED,
            attempts=max(0, job.attempts - 1),
            error_title="",
            error_message="",
            failure=None,
        )
        if launched_at == self._logins:  # else a login came meanwhile: just run it again
            server = getattr(error, "server", None) or job.spec.server  # a copy's target
            self._no_login.add(account_key(server))
            self._wait_for_login(job, server)

    def _login_refused(self, job: JobSnapshot) -> None:
        """The server refused the job's login: it waits for the user to log in again."""
        launched_at = self._launched_at_login.pop(job.id, self._logins)
        job = self._update(
            job,
            state=JobState.QUEUED,
            phase=Phase.WAITING,
            error_title="",
            error_message="",
            failure=None,
            speed=0.0,
        )
        if launched_at == self._logins:  # else a login came meanwhile: just run it again
            self._no_login.add(account_key(job.spec.server))
            note = f"log in again to {job.spec.server.label}: the password was refused"
            self._update(job, persist=False, phase=Phase.WAITING_FOR_LOGIN, note=note)

    def _launch(self, job: JobSnapshot) -> None:
        control = JobControl(self._share_of_bandwidth, policy=self.retry_policy)
        self._running[job.id] = _Running(control)
        self._launched_at_login[job.id] = self._logins
        resumes = job.spec.direction in (Direction.UPLOAD, Direction.COPY) and job.session_id
        self._update(
            job,
            state=JobState.RUNNING,
            phase=Phase.WAITING,
            attempts=job.attempts + 1,
            started_at=time.time(),
            error_title="",
            error_message="",
            failure=None,
            decision=None,  # asked again if the run reaches the same warnings
            bytes_done=job.bytes_done if resumes else 0,  # a resumed upload shows what it keeps
        )
        self._spawn(lambda: self._work(job.id, control), f"transfer-{job.id}")

    def _share_of_bandwidth(self) -> int | None:
        limit = self.bandwidth_limit
        return max(1, limit // max(1, len(self._running))) if limit else None

    # --- the worker -------------------------------------------------------------------------

    def _work(self, job_id: int, control: JobControl) -> None:
        job = self.snapshot(job_id)
        reporter = _QueueReporter(self, job_id)
        control.on_retry = reporter.retrying
        outcome = JobState.DONE
        error: BaseException | None = None
        login_refused = False
        decision: WarningDecision | None = None
        try:
            client = self._connector(job.spec.server)
            self._perform_cleanups(client, job.spec.server)  # what earlier jobs left there
            spec = job.spec
            upload = spec.direction is Direction.UPLOAD
            if not upload:
                self._clean_stale_session(client, job)
            if upload and spec.item_id is None and job.item_id:
                spec = dataclasses.replace(spec, item_id=job.item_id)  # created by an earlier run
            ctx = WorkflowContext(
                client,
                spec,
                control,
                reporter,
                str(uuid.uuid4()),
                resume_session=owned_session(job) if upload else None,
                item_created=job.item_created and spec.item_id == job.item_id,
                ask_about_warnings=self.ask_about_warnings,
            )
            if spec.direction is Direction.COPY:
                self._run_copy(job, ctx)
            elif spec.direction is Direction.UPLOAD and spec.source_url:
                run_pull(ctx)  # the server fetches the bytes (Import from URL)
            elif spec.direction is Direction.UPLOAD and spec.fanout_targets:
                # one file into several items, read once; each verified target kept
                run_fanout(ctx, self._connector, on_sent=lambda s: self._fanout_sent(job_id, s))
            elif spec.direction is Direction.UPLOAD:
                run_upload(ctx)
            else:
                run_download(ctx)
        except Interrupted as stop:
            outcome = JobState.PAUSED if stop.pause else JobState.CANCELED
            if isinstance(stop, WarningsPending):
                decision = stop.decision
                log.info("job %s waits for a decision on %s", job_id, ", ".join(decision.types))
        except errors.Unauthenticated as exc:
            # the password was refused (changed on the server): the job waits for a new
            # login, with its session and item, instead of failing
            if self.wait_for_login_again and exc.operation == LOGIN_OPERATION:
                outcome, login_refused = JobState.PAUSED, True
                log.info("job %s waits for a new login: %s", job_id, exc.message)
            else:
                outcome, error = JobState.FAILED, exc
                log.info("job %s failed: %s", job_id, exc.message)
        except (ContentLibraryError, LocalError) as exc:
            outcome, error = JobState.FAILED, exc
            log.info("job %s failed: %s", job_id, exc.message)
        except Exception as exc:  # a bug: show it, log the traceback, keep the queue alive
            outcome, error = JobState.FAILED, exc
            log.exception("job %s failed unexpectedly", job_id)
        with self._lock:
            running = self._running.pop(job_id, None)
            disconnected = job_id in self._disconnecting
            self._disconnecting.discard(job_id)
            current = self._jobs.get(job_id)
            if current is not None:
                if outcome is JobState.PAUSED:
                    current = self._paused(current, running)
                if isinstance(error, NotConnected):
                    self._not_connected(current, error)
                elif login_refused:
                    self._login_refused(current)
                elif disconnected and outcome is JobState.PAUSED and not self._closing:
                    current = self._update(current, state=JobState.QUEUED, phase=Phase.WAITING)
                    current = self._release(current, keep_item=True)
                    if account_key(current.spec.server) in self._no_login:
                        self._wait_for_login(current)
                    elif _copy_target(current.spec) in self._no_login:
                        self._wait_for_login(current, current.spec.copy_target)
                elif self._closing and outcome is JobState.PAUSED:
                    current = self._update(current, state=JobState.QUEUED)  # runs on next start
                    # nobody keeps its session alive once this process ends: end it rather
                    # than leave it ACTIVE; the item (and the job's claim on it) stays
                    self._release(current, keep_item=True)
                elif outcome is JobState.PAUSED and decision is not None:
                    current = self._update(
                        current,
                        state=JobState.PAUSED,
                        phase=Phase.NEEDS_DECISION,
                        decision=decision,
                        note=f"needs a decision: {decision.summary()}",
                    )
                    self._keep_paused_session(current)
                elif outcome is JobState.PAUSED:
                    self._update(current, state=JobState.PAUSED, phase=Phase.WAITING)
                    self._keep_paused_session(current)
                else:
                    current = self._finish(current, outcome, error)
                    if outcome is not JobState.DONE:
                        self._release(current)  # whatever the workflow could not end itself
            self._changed.notify_all()
            self._schedule()

    def _paused(self, job: JobSnapshot, running: _Running | None) -> JobSnapshot:
        """A paused upload shows what it really keeps: the files sent whole (a partly sent one
        starts again from 0, and the row says so), not the percentage it had reached."""
        if job.spec.direction is Direction.DOWNLOAD or job.spec.source_url:
            return job  # (an import's server goes on pulling while the job is paused)
        done = dict(running.file_done) if running is not None else {}
        sent = running.files_sent if running is not None else set()
        files = tuple(
            dataclasses.replace(f, done=f.size if f.name in sent else 0) for f in job.files
        )
        partial = [f.name for f in job.files if f.name not in sent and done.get(f.name, f.done)]
        note = resend_note(partial) if partial and job.session_id else job.note
        return self._update(
            job, files=files, bytes_done=sum(f.done for f in files), speed=0.0, note=note
        )

    def _keep_paused_session(self, job: JobSnapshot) -> None:
        if job.spec.direction in (Direction.UPLOAD, Direction.COPY) and job.session_id:
            self._stop_keeper(job.id)
            server = job.spec.copy_target  # an upload's own server
            self._keepers[job.id] = _SessionKeeper(
                lambda: self._connector(server),
                job.session_id,
                self.pause_keep_alive_limit,
                self.retry_policy.keep_alive_max,
            )

    # --- copies: two servers per job ----------------------------------------------------------

    def _run_copy(self, job: JobSnapshot, ctx: WorkflowContext) -> None:
        """A copy runs with a client for each server (one when both are the same account);
        the target item and update session an earlier run left are taken up again."""
        spec = ctx.spec
        target = spec.copy_target
        client = ctx.client
        if _copy_target(spec) is not None:
            try:
                client = self._connector(target)
            except NotConnected as exc:
                exc.server = target  # type: ignore[attr-defined]  # the login to wait for
                raise
            self._perform_cleanups(client, target)
        if spec.target_item_id is None and job.item_id:  # created by an earlier run
            spec = dataclasses.replace(spec, target_item_id=job.item_id)
        ctx = dataclasses.replace(
            ctx,
            spec=spec,
            resume_session=owned_session(job),
            item_created=job.item_created and spec.target_item_id == job.item_id,
        )
        run_copy(ctx, client)

    def _fanout_sent(self, job_id: int, sent: FanoutSent) -> None:
        """A fan-out target was verified: kept in the job's spec, so a retry skips it."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return
            sent = dataclasses.replace(sent, attempt=job.attempts)
            earlier = tuple(s for s in job.spec.fanout_sent if s.index != sent.index)
            spec = dataclasses.replace(job.spec, fanout_sent=(*earlier, sent))
            self._store.save_spec(job_id, spec)
            self._update(job, persist=False, spec=spec)

    def _release_copy(self, job: JobSnapshot, keep_item: bool) -> JobSnapshot:
        """`_release` for a copy: its update session and item on the target, its download
        session on the source."""
        target = job.spec.copy_target
        work: list[tuple[ServerRef, CleanupKind, str]] = []
        if job.session_id:
            work.append((target, CleanupKind.UPDATE_SESSION, job.session_id))
        if job.source_session_id:
            work.append((job.spec.server, CleanupKind.DOWNLOAD_SESSION, job.source_session_id))
        drop_item = job.item_created and job.item_id and not keep_item
        if drop_item:
            work.append((target, CleanupKind.ITEM, job.item_id or ""))
        if not work:
            return job
        for server, kind, ident in work:
            self._store.add_cleanup(server, kind.value, ident)
        if job.id in self._jobs:
            job = self._update(job, session_id=None, source_session_id=None)
            if drop_item:
                job = self._update(job, item_id=None, item_created=False)
        for server in {account_key(s): s for s, _, _ in work}.values():
            self.perform_cleanups(server)
        return job

    def _clean_stale_source(self, client: ContentLibraryClient, job: JobSnapshot) -> None:
        """A copy's download session recorded by an earlier run: ended before this one."""
        stale = None if job.state.finished else job.source_session_id
        if not stale:
            return
        if not end_session(client.download_sessions, stale, None):
            raise TransferError(
                f"the session {stale} left by an earlier run could not be ended; "
                "retry when the server is reachable"
            )
        with self._lock:
            self._update(self._jobs[job.id], source_session_id=None)

    def _clean_stale_session(self, client: ContentLibraryClient, job: JobSnapshot) -> None:
        """A download session recorded by an earlier run (crash, kill): end it so nothing
        stays ACTIVE. (An upload's is handed to the workflow, which reuses it if it can.)"""
        if job.spec.direction is Direction.COPY:  # its source session; the target's is reused
            self._clean_stale_source(client, job)
            return
        stale = owned_session(job)
        if not stale:
            return
        sessions = (
            client.update_sessions
            if job.spec.direction is Direction.UPLOAD
            else client.download_sessions
        )
        if not end_session(sessions, stale, None):
            raise TransferError(
                f"the session {stale} left by an earlier run could not be ended; "
                "retry when the server is reachable"
            )
        log.info("cleaned up session %s left by an earlier run of job %s", stale, job.id)
        with self._lock:
            self._update(self._jobs[job.id], session_id=None)

    def _finish(
        self, job: JobSnapshot, state: JobState, error: BaseException | None
    ) -> JobSnapshot:
        title, message = describe(error, command_line=self.command_line) if error else ("", "")
        failure = failure_kind(error) if error else None
        if failure is FailureKind.INTERNAL:
            title = INTERNAL_ERROR_TITLE  # escaped the engine's own errors: a bug (logged)
        verification = verdict(job.files) if state is JobState.DONE else job.verification
        # a finished copy keeps saying which path it took and why
        kept = state is JobState.DONE and job.spec.direction is Direction.COPY
        # a fan-out that skipped targets verified by an earlier run says which
        kept = kept or any(s.attempt < job.attempts for s in job.spec.fanout_sent)
        job = self._update(
            job,
            state=state,
            phase=Phase.WAITING,
            error_title=title,
            error_message=message,
            failure=failure,
            finished_at=time.time(),
            verification=verification,
            speed=0.0,
            note=job.note if kept else "",
            decision=None,
        )
        if state is not JobState.DONE:
            self._record(job, None, state.value, message)
        return job

    def _record(
        self,
        job: JobSnapshot,
        file: FileProgress | None,
        outcome: str,
        error: str,
        session_id: str = "",
    ) -> None:
        started = job.started_at or job.created_at
        server, library_id, item_id, item_name = _record_place(job, file)
        self._store.add_history(
            HistoryRecord(
                job_id=job.id,
                server=server.url,
                user=server.username,
                direction=job.spec.direction.value,
                library_id=library_id,
                item_id=item_id,
                item_name=item_name,
                session_id=session_id or job.session_id or "",
                file=file.name if file else ", ".join(f.name for f in job.files),
                bytes=file.size if file else job.bytes_done,
                checksum=(file.checksum or "") if file else "",
                verification=(file.verification.value if file and file.verification else ""),
                started_at=datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
                duration_s=round(time.time() - started, 3),
                outcome=outcome,
                error=error,
                extra=_history_extra(job, file),
            )
        )

    # --- state updates (under the lock) --------------------------------------------------------

    def _update(self, job: JobSnapshot, persist: bool = True, **changes: object) -> JobSnapshot:
        job = dataclasses.replace(self._jobs.get(job.id, job), **changes)  # type: ignore[arg-type]
        if job.id in self._jobs:
            self._jobs[job.id] = job
            if persist:
                self._store.save(job)
        self._emit(job)
        self._changed.notify_all()
        return job

    def _emit(self, job: JobSnapshot) -> None:
        for listener in list(self._listeners):
            try:
                listener(job)
            except Exception:
                log.exception("a queue listener failed")


def _copy_target(spec: JobSpec) -> tuple[str, str] | None:
    """The account of a copy's target when it is another than the job's own."""
    if spec.direction is not Direction.COPY or spec.target_server is None:
        return None
    key = account_key(spec.target_server)
    return None if key == account_key(spec.server) else key


class _QueueReporter:
    """The Reporter a workflow gets: updates the job's snapshot under the queue's lock."""

    def __init__(self, queue: TransferQueue, job_id: int) -> None:
        self._queue = queue
        self._job_id = job_id
        self._server = queue._jobs[job_id].spec.server  # still known once the job is removed
        self._before_retry = Phase.TRANSFERRING

    def _job(self) -> JobSnapshot:
        return self._queue._jobs[self._job_id]

    def phase(self, phase: Phase, note: str = "") -> None:
        with self._queue._lock:
            if self._job_id in self._queue._jobs:
                self._queue._update(
                    self._job(),
                    persist=False,
                    phase=phase,
                    error_message=note if phase is Phase.RETRYING else "",
                )

    def retrying(self, phase: Phase | None, note: str) -> None:
        """A step waits to be tried again (RECONNECTING, RETRYING or STALLED, with a note such
        as "reconnecting, try 3, next in 8 s"), or works again (None: back to what it did)."""
        with self._queue._lock:
            if self._job_id not in self._queue._jobs:
                return
            job = self._job()
            waiting = (Phase.RECONNECTING, Phase.RETRYING, Phase.STALLED)
            if phase is None:
                back = self._before_retry if job.phase in waiting else job.phase
                if job.note or back is not job.phase:
                    self._queue._update(job, persist=False, phase=back, note="", error_message="")
                return
            if job.phase not in waiting:
                self._before_retry = job.phase
            self._queue._update(job, persist=False, phase=phase, note=note, error_message=note)

    def files(self, files: list[FileProgress]) -> None:
        with self._queue._lock:
            if self._job_id in self._queue._jobs:
                running = self._queue._running.get(self._job_id)
                if running is not None:
                    running.file_done = {f.name: f.done for f in files}
                self._queue._update(
                    self._job(),
                    files=tuple(files),
                    bytes_total=sum(f.size for f in files),
                    bytes_done=sum(f.done for f in files),
                )

    def progress(self, name: str, done: int) -> None:
        queue = self._queue
        with queue._lock:
            running = queue._running.get(self._job_id)
            if running is None or self._job_id not in queue._jobs:
                return
            job = self._job()
            running.file_done[name] = done
            total_done = sum(running.file_done.values())
            speed = running.meter.add(total_done)
            now = time.monotonic()
            if now - running.last_emit < queue.progress_interval:
                return
            files = tuple(
                dataclasses.replace(f, done=running.file_done.get(f.name, f.done))
                for f in job.files
            )
            persist = now - running.last_persist > 2.0
            running.last_emit = now
            if persist:
                running.last_persist = now
            extra: dict[str, object] = {}
            if job.phase is Phase.RETRYING:  # bytes move again: the retry worked
                extra = {"phase": Phase.TRANSFERRING, "error_message": ""}
            queue._update(
                job, persist=persist, bytes_done=total_done, speed=speed, files=files, **extra
            )

    def file_sent(self, name: str) -> None:
        with self._queue._lock:
            running = self._queue._running.get(self._job_id)
            if running is not None:
                running.files_sent.add(name)

    def file_done(
        self, name: str, verification: Verification, checksum: str | None, session_id: str
    ) -> None:
        queue = self._queue
        with queue._lock:
            if self._job_id not in queue._jobs:
                return
            job = self._job()
            files = tuple(
                dataclasses.replace(f, done=f.size, verification=verification, checksum=checksum)
                if f.name == name
                else f
                for f in job.files
            )
            running = queue._running.get(self._job_id)
            if running is not None:
                running.file_done[name] = next(f.size for f in files if f.name == name)
            job = queue._update(job, files=files, bytes_done=sum(f.done for f in files))
            record = next(f for f in files if f.name == name)
            queue._record(job, record, JobState.DONE.value, "", session_id)

    def session(self, session_id: str | None) -> None:
        with self._queue._lock:
            if self._job_id in self._queue._jobs:
                self._queue._update(self._job(), session_id=session_id)

    def item(self, item_id: str, item_name: str, created: bool = False) -> None:
        with self._queue._lock:
            if self._job_id in self._queue._jobs:
                job = self._job()
                spec = job.spec
                if spec.direction is Direction.COPY:  # the job's item is the copy's target
                    if created or not spec.target_item_name:
                        name = item_name or spec.target_item_name
                        spec = dataclasses.replace(spec, target_item_name=name)
                    if spec != job.spec:  # kept: `jobs` and the history say where it went
                        self._queue._store.save_spec(job.id, spec)
                elif created or not spec.item_name:  # the name really used: "big-2g (2)"
                    spec = dataclasses.replace(spec, item_name=item_name or spec.item_name)
                ours = created if created or not item_id else job.item_created
                self._queue._update(job, item_id=item_id or None, spec=spec, item_created=ours)

    def note(self, text: str) -> None:
        with self._queue._lock:
            if self._job_id in self._queue._jobs and self._job().note != text:
                self._queue._update(self._job(), note=text)

    def cleanup_later(
        self, kind: CleanupKind, target: str, server: ServerRef | None = None
    ) -> None:
        self._queue._store.add_cleanup(server or self._server, kind.value, target)

    def source_session(self, session_id: str | None) -> None:
        with self._queue._lock:
            if self._job_id in self._queue._jobs:
                self._queue._update(self._job(), source_session_id=session_id)

    def destination(self, path: str) -> None:
        queue = self._queue
        with queue._lock:
            if self._job_id in queue._jobs:
                job = self._job()
                spec = dataclasses.replace(job.spec, target=path)
                queue._store.save_spec(job.id, spec)
                queue._update(job, spec=spec)
