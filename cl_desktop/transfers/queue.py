"""The transfer queue: scheduling, workers, persistence, history. No Qt.

Listeners receive a JobSnapshot on every state change and at most every `progress_interval`
seconds per job while bytes move. They are called on worker threads with the queue's lock
held, so they must only hand the snapshot on (the Qt service layer queues it to the GUI
thread) and never call back into the queue. A removed job arrives once more with
`position == -1`. Workers are started through `spawn`, so the GUI can run them
in QThreads and the command line in plain threads.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cl_desktop.api import ContentLibraryClient, ContentLibraryError

from .context import WorkflowContext, end_session
from .control import JobControl, RetryPolicy
from .download import run_download
from .errors import Interrupted, TransferError
from .jobs import (
    Direction,
    FileProgress,
    HistoryRecord,
    JobSnapshot,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
)
from .store import JobStore
from .upload import run_upload

log = logging.getLogger(__name__)

Connector = Callable[[ServerRef], ContentLibraryClient]
Spawner = Callable[[Callable[[], None], str], None]
Listener = Callable[[JobSnapshot], None]


def thread_spawner(target: Callable[[], None], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


class _Running:
    """Book-keeping for one running job (only touched under the queue's lock)."""

    def __init__(self, control: JobControl) -> None:
        self.control = control
        self.samples: deque[tuple[float, int]] = deque()
        self.last_emit = 0.0
        self.last_persist = 0.0
        self.file_done: dict[str, int] = {}
        self.started_at = datetime.now(UTC)


class TransferQueue:
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
    ) -> None:
        self._store = store
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
        self._started = False
        self._closing = False

    # --- life cycle -------------------------------------------------------------------------

    def start(self, accept: Callable[[JobSpec], bool] | None = None) -> None:
        """Load unfinished jobs (a crash leaves them RUNNING: they run again) and schedule.

        `accept` limits this queue to some jobs (the command line takes only those of the
        server and user it was given).
        """
        with self._lock:
            for job in self._store.load():
                if accept is not None and not accept(job.spec):
                    continue
                if job.state is JobState.RUNNING:
                    job = dataclasses.replace(job, state=JobState.QUEUED)
                    self._store.save(job)
                self._jobs[job.id] = job
            self._started = True
            self._schedule()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop running jobs so that they continue on the next start."""
        with self._lock:
            self._closing = True
            for running in self._running.values():
                running.control.request_stop(pause=True)
            deadline = time.monotonic() + timeout
            while self._running and time.monotonic() < deadline:
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
            elif job.state in (JobState.QUEUED, JobState.PAUSED):
                if pause:
                    self._update(job, state=JobState.PAUSED)
                else:
                    self._finish(job, JobState.CANCELED, None)

    def resume(self, job_id: int) -> None:
        with self._lock:
            job = self._jobs[job_id]
            if job.state is JobState.PAUSED:
                self._update(job, state=JobState.QUEUED)
                self._schedule()

    def retry(self, job_id: int) -> None:
        with self._lock:
            job = self._jobs[job_id]
            if job.state in (JobState.FAILED, JobState.CANCELED):
                self._update(
                    job, state=JobState.QUEUED, error_title="", error_message="",
                    finished_at=None, verification=None, phase=Phase.WAITING,
                )  # fmt: skip
                self._schedule()

    def remove(self, job_id: int) -> None:
        """Forget a job (cancelling it first if it runs); its history stays."""
        with self._lock:
            if job_id in self._running:
                self._running[job_id].control.request_stop(pause=False)
                self._jobs[job_id] = dataclasses.replace(self._jobs[job_id], position=-1)
            job = self._jobs.pop(job_id, None)
            self._store.delete(job_id)
            if job is not None:
                self._emit(dataclasses.replace(job, position=-1))

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
            target = job.item_id or job.spec.item_id
            if job.spec.direction is Direction.UPLOAD and target and target in busy_items:
                continue  # the server allows one update session per item
            if job.spec.direction is Direction.UPLOAD and target:
                busy_items.add(target)
            self._launch(job)

    def _launch(self, job: JobSnapshot) -> None:
        control = JobControl(self._share_of_bandwidth, policy=self.retry_policy)
        self._running[job.id] = _Running(control)
        self._update(
            job, state=JobState.RUNNING, phase=Phase.WAITING, attempts=job.attempts + 1,
            started_at=time.time(), error_title="", error_message="", bytes_done=0,
        )  # fmt: skip
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
        try:
            client = self._connector(job.spec.server)
            self._clean_stale_session(client, job)
            spec = job.spec
            if spec.direction is Direction.UPLOAD and spec.item_id is None and job.item_id:
                spec = dataclasses.replace(spec, item_id=job.item_id)  # created by an earlier run
            ctx = WorkflowContext(client, spec, control, reporter, str(uuid.uuid4()))
            if spec.direction is Direction.UPLOAD:
                run_upload(ctx)
            else:
                run_download(ctx)
        except Interrupted as stop:
            outcome = JobState.PAUSED if stop.pause else JobState.CANCELED
        except ContentLibraryError as exc:
            outcome, error = JobState.FAILED, exc
            log.info("job %s failed: %s", job_id, exc.message)
        except Exception as exc:  # a bug: show it, log the traceback, keep the queue alive
            outcome, error = JobState.FAILED, exc
            log.exception("job %s failed unexpectedly", job_id)
        with self._lock:
            self._running.pop(job_id, None)
            current = self._jobs.get(job_id)
            if current is not None:
                if self._closing and outcome is JobState.PAUSED:
                    self._update(current, state=JobState.QUEUED)  # continues on next start
                elif outcome is JobState.PAUSED:
                    self._update(current, state=JobState.PAUSED, phase=Phase.WAITING)
                else:
                    self._finish(current, outcome, error)
            self._changed.notify_all()
            self._schedule()

    def _clean_stale_session(self, client: ContentLibraryClient, job: JobSnapshot) -> None:
        """A session recorded by an earlier run (crash, kill): end it so nothing stays ACTIVE."""
        if not job.session_id:
            return
        sessions = (
            client.update_sessions
            if job.spec.direction is Direction.UPLOAD
            else client.download_sessions
        )
        if not end_session(sessions, job.session_id, None):
            raise TransferError(
                f"the session {job.session_id} left by an earlier run could not be ended; "
                "retry when the server is reachable"
            )
        log.info("cleaned up session %s left by an earlier run of job %s", job.session_id, job.id)
        with self._lock:
            self._update(self._jobs[job.id], session_id=None)

    def _finish(self, job: JobSnapshot, state: JobState, error: BaseException | None) -> None:
        title = getattr(error, "title", "Internal error") if error else ""
        message = (getattr(error, "message", None) or str(error) or type(error).__name__
                   if error else "")  # fmt: skip
        verification = job.verification
        if state is JobState.DONE:
            kinds = [
                f.verification for f in job.files if f.verification is not Verification.CONSUMED
            ]
            if kinds and all(k is Verification.VERIFIED for k in kinds):
                verification = Verification.VERIFIED
            elif kinds and all(k in (Verification.VERIFIED, Verification.SIZE_ONLY) for k in kinds):
                verification = Verification.SIZE_ONLY
            else:
                verification = Verification.UNVERIFIED
        job = self._update(
            job, state=state, phase=Phase.WAITING, error_title=title, error_message=message,
            finished_at=time.time(), verification=verification, speed=0.0,
        )  # fmt: skip
        if state is not JobState.DONE:
            self._record(job, None, state.value, message)

    def _record(self, job: JobSnapshot, file: FileProgress | None, outcome: str, error: str,
                session_id: str = "") -> None:  # fmt: skip
        started = job.started_at or job.created_at
        self._store.add_history(
            HistoryRecord(
                job_id=job.id,
                server=job.spec.server.url,
                user=job.spec.server.username,
                direction=job.spec.direction.value,
                library_id=job.spec.library_id,
                item_id=job.item_id or job.spec.item_id or "",
                item_name=job.spec.item_name,
                session_id=session_id or job.session_id or "",
                file=file.name if file else ", ".join(f.name for f in job.files),
                bytes=file.size if file else job.bytes_done,
                checksum=(file.checksum or "") if file else "",
                verification=(file.verification.value if file and file.verification else ""),
                started_at=datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
                duration_s=round(time.time() - started, 3),
                outcome=outcome,
                error=error,
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


class _QueueReporter:
    """The Reporter a workflow gets: updates the job's snapshot under the queue's lock."""

    def __init__(self, queue: TransferQueue, job_id: int) -> None:
        self._queue = queue
        self._job_id = job_id
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
                self._queue._update(
                    self._job(),
                    files=tuple(files),
                    bytes_total=sum(f.size for f in files),
                    bytes_done=0,
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
            now = time.monotonic()
            running.samples.append((now, total_done))
            while len(running.samples) > 2 and now - running.samples[0][0] > 3.0:
                running.samples.popleft()
            if now - running.last_emit < queue.progress_interval:
                return
            first_t, first_bytes = running.samples[0]
            speed = (total_done - first_bytes) / (now - first_t) if now > first_t else 0.0
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

    def item(self, item_id: str, item_name: str) -> None:
        with self._queue._lock:
            if self._job_id in self._queue._jobs:
                job = self._job()
                spec = job.spec
                if not spec.item_name:
                    spec = dataclasses.replace(spec, item_name=item_name)
                self._queue._update(job, item_id=item_id or None, spec=spec)
