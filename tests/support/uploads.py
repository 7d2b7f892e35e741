"""Helpers for the upload session tests: a queue on the embedded service for one user, and a
record of the session calls the service really answered (read from its backend in-process)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.transfers.jobs import JobSnapshot, Phase, ServerRef
from cl_desktop.transfers.queue import TransferQueue
from tests.support.jobs import started_queue

PASSWORD = "secret"  # of both users of tests/support/accounts.py: admin and the read-only reader


class ServerLog:
    """The update-session calls (and item deletions) the service carried out, in order, as
    (call, session or item id, ...).

    The backend's own methods are wrapped (and still run), so what is recorded is what the
    server did, whatever the client believes. `before_put(file name)` runs as a PUT arrives.
    `watch(queue)` adds ("job", id, state) when a job of that queue ends, in the same order.
    """

    def __init__(self, backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.backend = backend
        self.calls: list[tuple[str, ...]] = []
        self.before_put: Callable[[str], None] = lambda name: None
        self._lock = threading.Lock()
        for name in ("create_update_session", "fail_update_session", "cancel_update_session",
                     "delete_update_session", "keep_alive_update", "delete_item"):  # fmt: skip
            monkeypatch.setattr(backend, name, self._recorded(name, getattr(backend, name)))
        begin = backend.begin_upload

        def begin_upload(token: str, name: str, *rest: Any) -> Any:
            self.before_put(name)
            ticket = begin(token, name, *rest)
            self._add("put", ticket.session.id, name)
            return ticket

        monkeypatch.setattr(backend, "begin_upload", begin_upload)

    def _add(self, *entry: str) -> None:
        with self._lock:
            self.calls.append(entry)

    def _recorded(self, call: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            texts = [a for a in args if isinstance(a, str)]
            if call == "create_update_session":
                texts = [result]
            self._add(call.removesuffix("_update_session").removesuffix("_update"), *texts)
            return result

        return run

    def watch(self, queue: TransferQueue) -> None:
        # listeners run on the worker as the state changes, so the order with calls is exact
        queue.add_listener(
            lambda job: (
                self._add("job", str(job.id), job.state.value) if job.state.finished else None
            )
        )

    def of(self, call: str) -> list[tuple[str, ...]]:
        with self._lock:
            return [c for c in self.calls if c[0] == call]

    def puts(self, name: str) -> int:
        return sum(1 for c in self.of("put") if c[2] == name)

    def active_sessions(self) -> list[str]:
        with self.backend.lock:
            return [s.id for s in self.backend.update_sessions.values() if s.state == "ACTIVE"]

    def session_exists(self, session_id: str) -> bool:
        with self.backend.lock:
            return session_id in self.backend.update_sessions

    def empty_items(self, library_id: str) -> list[str]:
        with self.backend.lock:
            return [
                i.name
                for i in self.backend.store.items.values()
                if i.library_id == library_id and not i.files
            ]

    def item_exists(self, item_id: str) -> bool:
        with self.backend.lock:
            return item_id in self.backend.store.items


@contextmanager
def sim_queue(db: Path, user: str = "admin", **options: Any) -> Iterator[TransferQueue]:
    """A started queue whose jobs log in as `user`; shut down afterwards."""
    queue = started_queue(db, user, PASSWORD, **options)
    try:
        yield queue
    finally:
        queue.shutdown()


def record_jobs(queue: TransferQueue) -> list[JobSnapshot]:
    """Every snapshot the queue publishes, in order."""
    seen: list[JobSnapshot] = []
    queue.add_listener(seen.append)
    return seen


def phases(seen: list[JobSnapshot]) -> set[Phase]:
    return {job.phase for job in list(seen)}


def ref_for(base_url: str, user: str = "admin") -> ServerRef:
    return ServerRef(base_url, user)


def sessions_of(sim: Any, state: str = "ACTIVE") -> dict[str, Any]:
    """The simulator's update sessions in `state`, by id (read from its in-process state)."""
    with sim.backend.lock:
        return {sid: s for sid, s in sim.backend.update_sessions.items() if s.state == state}


def bytes_received(sim: Any, session_id: str) -> int:
    with sim.backend.lock:
        session = sim.backend.update_sessions[session_id]
        return sum(f.bytes_transferred for f in session.files.values())


def total_received(sim: Any) -> int:
    return sum(bytes_received(sim, sid) for sid in sessions_of(sim))
