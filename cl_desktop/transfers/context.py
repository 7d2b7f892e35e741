"""What a workflow gets to work with, and the keep-alive that holds its server session open."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from cl_desktop.api import ContentLibraryClient, errors
from cl_desktop.api.resources import SessionService

from .control import JobControl
from .jobs import FileProgress, JobSpec, Phase, ServerRef, Verification

log = logging.getLogger(__name__)


class CleanupKind(StrEnum):
    """What a job left on a server it could not reach, for the queue to end or delete later."""

    UPDATE_SESSION = "update session"
    DOWNLOAD_SESSION = "download session"
    ITEM = "item"  # deleted only if it is still empty


class Reporter(Protocol):
    """How a workflow tells the queue what it is doing (called on the worker thread)."""

    def phase(self, phase: Phase, note: str = "") -> None: ...
    def files(self, files: list[FileProgress]) -> None: ...
    def progress(self, name: str, done: int) -> None: ...
    def file_sent(self, name: str) -> None: ...  # the server has all of it (its PUT answered)
    def file_done(
        self, name: str, verification: Verification, checksum: str | None, session_id: str
    ) -> None: ...
    def session(self, session_id: str | None) -> None: ...
    # created: the job made this item (it is deleted if the job ends without filling it);
    # item_id "" means the job no longer holds an item
    def item(self, item_id: str, item_name: str, created: bool = False) -> None: ...
    def note(self, text: str) -> None: ...  # what the row says besides the state; "" clears
    # `server`: another server than the job's (a copy's target)
    def cleanup_later(
        self, kind: CleanupKind, target: str, server: ServerRef | None = None
    ) -> None: ...
    # a copy's download session on its source server (the update session goes to `session`)
    def source_session(self, session_id: str | None) -> None: ...
    # a download's local target, chosen on its first run: kept in the job's spec (and store)
    # so that a later run writes to the same place and finds its .part files
    def destination(self, path: str) -> None: ...


@dataclass
class WorkflowContext:
    client: ContentLibraryClient
    spec: JobSpec
    control: JobControl
    report: Reporter
    client_token: str  # stable across restarts of this job, so a repeated create is idempotent
    # the update session an earlier run of the job left (paused, app closed, killed): reused
    # while the server keeps it ACTIVE
    resume_session: str | None = None
    item_created: bool = False  # spec.item_id was created by an earlier run of this job
    # a signed OVF's preview warnings the spec does not allow: stop for the user to decide
    # (True) or fail naming them (False: nobody to ask, the command line)
    ask_about_warnings: bool = True


class KeepAlive:
    """Calls `send(progress)` often enough that the server session never expires.

    The interval is a third of the time the server guarantees (`expiration_time`), at most
    `max_interval` (`RetryPolicy.keep_alive_max`, a preference); progress is passed only when
    it grew, because the server refuses anything else.
    """

    def __init__(
        self,
        send: Callable[[int | None], None],
        expiration: datetime | None,
        max_interval: float = 60.0,
        progress: int = 0,  # the session's client_progress already (a reused session)
    ) -> None:
        self._send = send
        self._lock = threading.Lock()  # parallel PUTs share one keep-alive
        self._last_progress = progress
        self._last_sent = time.monotonic()
        self.interval = max_interval
        if expiration is not None:
            left = (expiration - datetime.now(UTC)).total_seconds()
            self.interval = max(0.2, min(max_interval, left / 3))

    def maybe(self, percent: int | None = None) -> None:
        """Send when due; from parallel PUTs, one thread sends and the others go on."""
        if time.monotonic() - self._last_sent < self.interval:
            return
        if self._lock.acquire(blocking=False):
            try:
                if time.monotonic() - self._last_sent >= self.interval:
                    self._now(percent)
            finally:
                self._lock.release()

    def now(self, percent: int | None = None) -> None:
        with self._lock:
            self._now(percent)

    def _now(self, percent: int | None) -> None:
        progress = percent if percent is not None and percent > self._last_progress else None
        self._send(progress)
        if progress is not None:
            self._last_progress = progress
        self._last_sent = time.monotonic()


def end_session(sessions: SessionService[Any], session_id: str, failure: str | None) -> bool:
    """Cancel the session (the user's choice) or fail it with our message, then delete it.

    True when the session is gone from the server; False when it could not be reached, so the
    caller keeps its id for the queue to clean up on the next start.
    """
    try:
        if failure is None:
            sessions.cancel(session_id)
        else:
            sessions.fail(session_id, f"cl_desktop: {failure}"[:1000])
    except errors.NotFound:
        return True
    except errors.NotAllowedInCurrentState:
        pass  # no longer ACTIVE: only the delete is left to do
    except Exception as exc:
        log.warning("could not end session %s: %s", session_id, exc)
        return False
    return delete_session(sessions, session_id)


def delete_session(sessions: SessionService[Any], session_id: str) -> bool:
    try:
        sessions.delete(session_id)
    except errors.NotFound:
        pass
    except Exception as exc:
        log.warning("could not delete session %s: %s", session_id, exc)
        return False
    return True
