"""Cooperative control of one running job: cancel/pause, progress reporting, bandwidth limit."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from cl_desktop.api.errors import (
    ContentLibraryError,
    InternalServerError,
    ServiceUnavailable,
    TimedOut,
    TlsTrustError,
    TransportError,
)

from .errors import Interrupted

T = TypeVar("T")

# Worth another try: the network or an overloaded server. Not: trust, auth, state errors.
RETRYABLE: tuple[type[ContentLibraryError], ...] = (
    TransportError,
    ServiceUnavailable,
    InternalServerError,
    TimedOut,
)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RETRYABLE) and not isinstance(exc, TlsTrustError)


class JobControl:
    """Shared between a worker and the queue: the worker checks it between buffers and steps."""

    def __init__(
        self,
        bandwidth_limit: Callable[[], int | None] = lambda: None,
        on_retry: Callable[[BaseException, int, float], None] | None = None,
    ) -> None:
        self.on_retry = on_retry  # told about every retried call (the queue shows "retrying")
        self._stop = threading.Event()
        self._pause = False
        self._bandwidth_limit = bandwidth_limit
        self._window_start = time.monotonic()
        self._window_bytes = 0

    def request_stop(self, pause: bool) -> None:
        self._pause = pause
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        if self._stop.is_set():
            raise Interrupted(self._pause)

    def wait(self, seconds: float) -> None:
        """Sleep that ends at once on cancel or pause."""
        if self._stop.wait(seconds):
            raise Interrupted(self._pause)

    def throttle(self, nbytes: int) -> None:
        """Hold the caller back to the bandwidth limit (bytes per second), if any."""
        limit = self._bandwidth_limit()
        if not limit:
            return
        self._window_bytes += nbytes
        elapsed = time.monotonic() - self._window_start
        ahead = self._window_bytes / limit - elapsed
        if ahead > 0:
            self.wait(ahead)
        if elapsed > 2.0:  # a sliding window keeps the limit responsive to changes
            self._window_start, self._window_bytes = time.monotonic(), 0


def with_retries(
    control: JobControl,
    action: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 15.0,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
) -> T:
    """Run `action`, retrying retryable errors with bounded exponential backoff and jitter."""
    for attempt in range(1, attempts + 1):
        control.check()
        try:
            return action()
        except Exception as exc:
            if not is_retryable(exc) or attempt == attempts:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            notify = on_retry or control.on_retry
            if notify is not None:
                notify(exc, attempt, delay)
            control.wait(delay)
    raise AssertionError("unreachable")
