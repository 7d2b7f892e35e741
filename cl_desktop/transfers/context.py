"""What a workflow gets to work with, and the keep-alive that holds its server session open."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from cl_desktop.api import ContentLibraryClient

from .control import JobControl
from .jobs import FileProgress, JobSpec, Phase, Verification


class Reporter(Protocol):
    """How a workflow tells the queue what it is doing (called on the worker thread)."""

    def phase(self, phase: Phase, note: str = "") -> None: ...
    def files(self, files: list[FileProgress]) -> None: ...
    def progress(self, name: str, done: int) -> None: ...
    def file_done(
        self, name: str, verification: Verification, checksum: str | None, session_id: str
    ) -> None: ...
    def session(self, session_id: str | None) -> None: ...
    def item(self, item_id: str, item_name: str) -> None: ...


@dataclass
class WorkflowContext:
    client: ContentLibraryClient
    spec: JobSpec
    control: JobControl
    report: Reporter
    client_token: str  # stable across restarts of this job, so a repeated create is idempotent


class KeepAlive:
    """Calls `send(progress)` often enough that the server session never expires.

    The interval is a third of the time the server guarantees (`expiration_time`), at most
    60 s; progress is passed only when it grew, because the server refuses anything else.
    """

    def __init__(
        self,
        send: Callable[[int | None], None],
        expiration: datetime | None,
        max_interval: float = 60.0,
    ) -> None:
        self._send = send
        self._last_progress = 0
        self._last_sent = time.monotonic()
        self.interval = max_interval
        if expiration is not None:
            left = (expiration - datetime.now(UTC)).total_seconds()
            self.interval = max(0.2, min(max_interval, left / 3))

    def maybe(self, percent: int | None = None) -> None:
        if time.monotonic() - self._last_sent >= self.interval:
            self.now(percent)

    def now(self, percent: int | None = None) -> None:
        progress = percent if percent is not None and percent > self._last_progress else None
        self._send(progress)
        if progress is not None:
            self._last_progress = progress
        self._last_sent = time.monotonic()
