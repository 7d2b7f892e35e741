"""Cooperative control of one running job: cancel/pause, retries, stalls, bandwidth limit."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from cl_desktop.api.errors import (
    ContentLibraryError,
    InternalServerError,
    ReadTimedOut,
    ServiceUnavailable,
    TimedOut,
    TlsTrustError,
    TransportError,
)

from .errors import Interrupted, ServerUnreachable, StalledError
from .jobs import Phase
from .policy import RetryPolicy as RetryPolicy  # its home was here: still importable from here

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


class Stalled(TransportError):
    """Raised inside a transfer that moves (almost) nothing; retried like a lost connection."""

    title = "Transfer stalled"


# phase None: the retried step works again, the row's note can go
RetryNotice = Callable[[Phase | None, str], None]


class JobControl:
    """Shared between a worker and the queue: the worker checks it between buffers and steps."""

    def __init__(
        self,
        bandwidth_limit: Callable[[], int | None] = lambda: None,
        on_retry: RetryNotice | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.on_retry = on_retry  # told about every retry wait (the queue shows it in the row)
        self.policy = policy or RetryPolicy()
        self._stop = threading.Event()
        self._pause = False
        self._bandwidth_limit = bandwidth_limit
        self._window_start = time.monotonic()
        self._window_bytes = 0
        self._window_limit: int | None = None

    def request_stop(self, pause: bool) -> None:
        self._pause = pause
        self._stop.set()

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
        if limit != self._window_limit:  # changed (a setting, a job more or less): start over
            self._window_limit = limit
            self._window_start, self._window_bytes = time.monotonic(), 0
        self._window_bytes += nbytes
        elapsed = time.monotonic() - self._window_start
        ahead = self._window_bytes / limit - elapsed
        if ahead > 0:
            self.wait(ahead)
        if elapsed > 2.0:  # a sliding window keeps the limit responsive to changes
            self._window_start, self._window_bytes = time.monotonic(), 0

    def bandwidth_limit(self) -> int | None:
        return self._bandwidth_limit()

    def notify(self, phase: Phase | None, note: str) -> None:
        if self.on_retry is not None:
            self.on_retry(phase, note)


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes > 1 else "")
    return f"{seconds:g} s"


class Retrier:
    """One step's streak of failures: decides whether to try again, shows the wait, waits.

    `failed(exc)` raises when `exc` is not worth another try or the streak has lasted too long
    (the reconnect window for connection and server errors, the stall limit for stalls);
    otherwise it waits the backoff, telling the row "reconnecting, try 3, next in 8 s".
    `succeeded()` ends the streak (bytes move again, or the call answered).
    `stopped` is the message a stall ends with: the server stopped sending / receiving.
    """

    def __init__(self, control: JobControl, stopped: str = "the server stopped answering") -> None:
        self.control = control
        self.policy = control.policy
        self.stopped = stopped
        self.attempt = 0
        self._since: float | None = None  # first failure of the streak
        self._stalled_since: float | None = None

    def succeeded(self) -> None:
        """The step worked: the streak is over."""
        self.answered()
        self.attempt, self._since = 0, None

    def answered(self) -> None:
        """The server answers again: the row stops saying "reconnecting" (the streak goes on
        until bytes really move, so a server that drops every connection still ends it)."""
        if self.attempt:
            self.control.notify(None, "")

    def moved(self) -> None:
        """Enough bytes moved for a whole stall window: the stall streak is over."""
        self._stalled_since = None

    def failed(self, exc: BaseException, *, stall: bool = False) -> None:
        """`stall`: this was a data transfer, so a read timeout means the server went quiet."""
        if not is_retryable(exc):
            self.succeeded()  # the server answered: no longer reconnecting
            raise exc
        now = time.monotonic()
        policy = self.policy
        stalled = isinstance(exc, Stalled) or (stall and isinstance(exc, ReadTimedOut))
        detail = getattr(exc, "detail", None) or str(exc)
        if stalled:
            if self._stalled_since is None:  # it has been quiet for a stall window already
                self._stalled_since = now - policy.stall_seconds
            if now - self._stalled_since >= policy.stall_limit:
                self.succeeded()  # the row shows the failure now, not a countdown
                raise StalledError(
                    f"{self.stopped} (less than {policy.stall_bytes:,} bytes in "
                    f"{_duration(policy.stall_seconds)}, for {_duration(policy.stall_limit)})",
                    operation=getattr(exc, "operation", ""),
                ) from exc
            phase, verb, connection = Phase.STALLED, "stalled", True
        else:
            if self._since is None:
                self._since = now
            connection = isinstance(exc, TransportError)
            if now - self._since >= policy.reconnect_window:
                state = "has not answered" if connection else "kept answering with errors"
                self.succeeded()  # the row shows the failure now, not a countdown
                raise ServerUnreachable(
                    f"the server {state} for {_duration(policy.reconnect_window)}: {detail}",
                    operation=getattr(exc, "operation", ""),
                ) from exc
            phase = Phase.RECONNECTING if connection else Phase.RETRYING
            verb = "reconnecting" if connection else "retrying"
        self.attempt += 1
        delay = min(policy.max_delay, policy.base_delay * 2 ** (self.attempt - 1))
        delay *= random.uniform(0.5, 1.0)
        if not stalled:  # never wait past the window's end just to fail then
            delay = max(0.0, min(delay, self._since + policy.reconnect_window - now + 0.01))  # type: ignore[operator]
        operation = getattr(exc, "operation", "")
        self._wait(phase, verb, delay, f" ({operation}: {detail})" if operation else f" ({detail})")

    def _wait(self, phase: Phase, verb: str, delay: float, why: str) -> None:
        """Wait in steps of at most a second, so the row counts down."""
        end = time.monotonic() + delay
        while True:
            left = end - time.monotonic()
            seconds = max(0, round(left))
            self.control.notify(phase, f"{verb}, try {self.attempt + 1}, next in {seconds} s{why}")
            if left <= 0:
                return
            self.control.wait(min(1.0, left))


class StallWatch:
    """Counts the bytes of one transfer attempt; raises Stalled when a whole `stall_seconds`
    window moved fewer than `stall_bytes` (a read blocked in the socket ends by its timeout,
    which is no longer than `stall_seconds`)."""

    def __init__(self, retrier: Retrier, what: str, resumable: bool = False) -> None:
        self._retrier = retrier
        self._policy = retrier.policy
        self._what = what
        self._start = time.monotonic()
        self._bytes = 0
        # a resumed download keeps what arrived: stall_bytes of it end a failure streak
        self._progress_left = self._policy.stall_bytes if resumable else None

    def observe(self, nbytes: int) -> None:
        self._bytes += nbytes
        if self._progress_left is not None:
            self._progress_left -= nbytes
            if self._progress_left <= 0:
                self._progress_left = None
                self._retrier.succeeded()
        now = time.monotonic()
        if now - self._start < self._policy.stall_seconds:
            return
        needed = self._policy.stall_bytes
        if limit := self._retrier.control.bandwidth_limit():  # slow by the user's choice
            needed = min(needed, int(limit * self._policy.stall_seconds / 2))
        if self._bytes < needed:
            raise Stalled(
                f"{self._what}: {self._bytes:,} bytes in {now - self._start:.0f} s",
                operation=self._what,
            )
        self._retrier.moved()
        self._retrier.succeeded()
        self._start, self._bytes = now, 0


def with_retries(control: JobControl, action: Callable[[], T]) -> T:
    """Run `action` (an API call), retrying connection and server errors within the job's
    reconnect window; state, auth and trust errors are raised at once."""
    retrier = Retrier(control)
    while True:
        control.check()
        try:
            result = action()
        except Exception as exc:
            retrier.failed(exc)
            continue
        retrier.succeeded()
        return result
