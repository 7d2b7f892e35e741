"""Services: background tasks, the QThread spawner, the transfer service, the browser."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QThread
from pytestqt.qtbot import QtBot

from cl_desktop.api.errors import ServiceUnavailable, Unauthenticated
from cl_desktop.services import BackgroundTasks, Connector, QThreadSpawner
from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.errors import ErrorInfo, ErrorKind
from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.errors import NotConnected
from cl_desktop.transfers.jobs import (
    Direction,
    HistoryRecord,
    JobSnapshot,
    JobSpec,
    JobState,
    ServerRef,
)

SERVER = ServerRef("http://127.0.0.1:1", "admin")


def test_background_task_results_and_failures_arrive_on_the_gui_thread(qtbot: QtBot) -> None:
    tasks = BackgroundTasks()
    gui = threading.current_thread()
    seen: list[tuple[str, object, bool]] = []
    worker_threads: list[threading.Thread] = []

    def work() -> int:
        worker_threads.append(threading.current_thread())
        return 42

    def fail() -> int:
        raise ServiceUnavailable("down", operation="list items")

    tasks.run(work, lambda r: seen.append(("ok", r, threading.current_thread() is gui)))
    tasks.run(fail, None, lambda e: seen.append(("error", e, threading.current_thread() is gui)))
    with qtbot.waitSignal(tasks.busy_changed, timeout=5000, check_params_cb=lambda b: not b):
        pass
    assert worker_threads and worker_threads[0] is not gui
    assert ("ok", 42, True) in seen
    error = next(value for kind, value, _ in seen if kind == "error")
    assert isinstance(error, ErrorInfo)
    assert error.title == "Service unavailable"
    assert error.kind is ErrorKind.SERVER
    assert "list items: down" in error.message
    tasks.shutdown()


def test_discarded_task_delivers_nothing(qtbot: QtBot) -> None:
    tasks = BackgroundTasks()
    gate = threading.Event()
    seen: list[object] = []
    task = tasks.run(lambda: gate.wait(5), seen.append, seen.append)
    tasks.discard(task)
    gate.set()
    qtbot.waitUntil(lambda: not tasks.busy, timeout=5000)
    assert seen == []
    tasks.shutdown()


def test_error_info_by_kind() -> None:
    assert ErrorInfo.from_exception(Unauthenticated("no")).kind is ErrorKind.AUTH
    local = ErrorInfo.from_exception(FileNotFoundError(2, "No such file", "/x/y"))
    assert local.kind is ErrorKind.LOCAL and "/x/y" in local.message
    bug = ErrorInfo.from_exception(ZeroDivisionError("oops"))
    assert bug.kind is ErrorKind.BUG and "ZeroDivisionError" in bug.details
    # what may pass by itself (the window lists again on its own) and what will not
    from cl_desktop.api import errors as e

    transient = [e.TransportError("refused"), ServiceUnavailable("restarting"),
                 e.ConnectionRefused("restarting"), e.ConnectTimedOut("slow")]  # fmt: skip
    # a misspelt host, a wrong port, a refused login stay so however often they are tried
    lasting = [e.TlsTrustError("bad cert"), Unauthenticated("no"), e.NotFound("gone"),
               OSError(5, "io"), e.NoSuchHost("typo"), e.NotTls("port 80"),
               e.NotAVCenter("a web server"), e.WrongCredentials("no"), e.AccountLocked("no"),
               e.PasswordExpired("no"), e.CertificateExpired("old"),
               e.HostnameMismatch("alias"), e.CaFileError("missing")]  # fmt: skip
    said = [ErrorInfo.from_exception(x).transient for x in transient + lasting]
    assert said == [True] * len(transient) + [False] * len(lasting)


def test_spawner_runs_workers_in_qthreads_from_any_thread(qtbot: QtBot) -> None:
    spawner = QThreadSpawner()
    ran: list[bool] = []
    done = threading.Event()

    def worker() -> None:
        ran.append(isinstance(QThread.currentThread(), QThread) and not _is_main())
        if len(ran) == 2:
            done.set()

    spawner(worker, "from-gui")
    helper = threading.Thread(target=spawner, args=(worker, "from-helper"))
    helper.start()
    helper.join()
    qtbot.waitUntil(done.is_set, timeout=5000)
    assert spawner.wait(5000)
    assert ran == [True, True]
    qtbot.waitUntil(lambda: spawner.running == 0, timeout=5000)


def _is_main() -> bool:
    return threading.current_thread() is threading.main_thread()


class FakeQueue:
    """Records commands; the test plays the engine by calling `notify` from any thread."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[JobSnapshot], None]] = []
        self.calls: list[tuple[str, object]] = []
        self.snapshots: dict[int, JobSnapshot] = {}
        self.accept: object = None

    def notify(self, snapshot: JobSnapshot) -> None:
        self.snapshots[snapshot.id] = snapshot
        for listener in self.listeners:
            listener(snapshot)

    def add_listener(self, callback: Callable[[JobSnapshot], None]) -> None:
        self.listeners.append(callback)

    def start(self, accept: object = None) -> None:
        self.accept = accept

    def shutdown(self) -> None:
        self.calls.append(("shutdown", None))

    def add(self, spec: JobSpec) -> int:
        job_id = len(self.snapshots) + 1
        self.notify(JobSnapshot(job_id, spec, JobState.QUEUED))
        return job_id

    def snapshot(self, job_id: int) -> JobSnapshot:
        return self.snapshots[job_id]

    def jobs(self) -> list[JobSnapshot]:
        return list(self.snapshots.values())

    def history(self) -> list[HistoryRecord]:
        return []

    def export_history(self, path: Any, fmt: str) -> int:
        Path(path).write_text(fmt)
        return 0

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name in ("cancel", "pause", "resume", "retry", "remove", "move"):
            return lambda *args: self.calls.append((name, args))
        raise AttributeError(name)


def test_transfer_service_reemits_engine_snapshots_on_the_gui_thread(qtbot: QtBot) -> None:
    queue = FakeQueue()
    commands = BackgroundTasks(max_threads=1)
    service = TransferService(queue, commands)  # type: ignore[arg-type]
    received: list[tuple[JobState, bool]] = []
    service.job_changed.connect(
        lambda s: received.append((s.state, threading.current_thread() is threading.main_thread()))
    )
    spec = JobSpec(Direction.UPLOAD, SERVER, "lib", item_name="x", paths=("/a",))
    added: list[list[int]] = []
    service.add([spec], added.append)
    qtbot.waitUntil(lambda: added == [[1]], timeout=5000)

    def engine() -> None:  # a worker thread reporting progress, then the end
        queue.notify(JobSnapshot(1, spec, JobState.RUNNING, bytes_done=5, bytes_total=10))
        queue.notify(
            JobSnapshot(1, spec, JobState.DONE, bytes_done=10, bytes_total=10, finished_at=1.0)
        )

    with qtbot.waitSignal(service.job_finished, timeout=5000) as finished:
        threading.Thread(target=engine).start()
    assert finished.args[0].state is JobState.DONE
    states = [state for state, _ in received]
    # Updates that arrive together are coalesced to each job's latest: RUNNING may be skipped.
    assert states[0] is JobState.QUEUED and states[-1] is JobState.DONE
    assert all(on_gui for _, on_gui in received)
    assert service.job(1) is not None and service.job(1).state is JobState.DONE  # type: ignore[union-attr]

    removed: list[int] = []
    service.job_removed.connect(removed.append)
    service.retry(1)
    service.remove(1)
    queue.notify(JobSnapshot(1, spec, JobState.DONE, position=-1))  # the engine's removal
    qtbot.waitUntil(lambda: not commands.busy and removed == [1], timeout=5000)
    assert queue.calls == [("retry", (1,)), ("remove", (1,))]
    queue.notify(JobSnapshot(1, spec, JobState.DONE))  # a late update of a removed job
    QCoreApplication.processEvents()  # delivers that (queued) signal
    assert service.jobs() == [] and removed == [1]
    service.shutdown()
    assert ("shutdown", None) in queue.calls


def test_connector_logs_in_once_and_refuses_unknown_accounts() -> None:
    logins: list[str] = []

    class FakeClient:
        def __init__(self, ref: ServerRef, password: str) -> None:
            self.password = password

        def login(self) -> None:
            logins.append(self.password)
            if self.password == "wrong":
                raise Unauthenticated("bad password")

        http = type("H", (), {"close": lambda self: None})()

        def close(self) -> None:
            pass

    connector = Connector(FakeClient)  # type: ignore[arg-type]
    with pytest.raises(NotConnected):
        connector(SERVER)
    connector.set_password(SERVER, "pw1")
    clients = []
    threads = [threading.Thread(target=lambda: clients.append(connector(SERVER))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert logins == ["pw1"] and len({id(c) for c in clients}) == 1
    connector.set_password(SERVER, "pw2")
    assert connector(SERVER).password == "pw2"  # type: ignore[attr-defined]
    assert "pw1" not in repr(LoginRequest("h", "u", "pw1"))
    # a refused password is forgotten: jobs wait for a login instead of failing with it
    connector.set_password(SERVER, "wrong")
    with pytest.raises(Unauthenticated):
        connector(SERVER)
    with pytest.raises(NotConnected):
        connector(SERVER)


def test_local_errors_are_shown_as_local_with_the_words_of_describe() -> None:
    from cl_desktop.transfers.errors import DiskFullError, UnsafeNameError, describe

    for exc in (DiskFullError("no space left"), UnsafeNameError("'..'")):
        info = ErrorInfo.from_exception(exc)
        assert info.kind is ErrorKind.LOCAL and not info.transient
        assert (info.title, info.message) == describe(exc)
