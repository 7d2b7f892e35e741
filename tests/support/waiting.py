"""Bounded waits: poll a condition from a plain thread, or spin the Qt event loop until it holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds.

    The pause between polls grows from 10 ms to 200 ms, or is `interval` when given (for tests
    that must act soon after the condition holds). It waits on an Event, so a test can never
    stall longer than its deadline.
    """
    deadline = time.monotonic() + timeout
    pause = interval if interval is not None else 0.01
    idle = threading.Event()
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what} (last: {value!r})"
            )
        idle.wait(pause)
        if interval is None:
            pause = min(pause * 2, 0.2)


def poll_until(probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.01) -> T:
    """`wait_until` at a steady 10 ms: the simulator tests race the server on purpose."""
    return wait_until(probe, timeout, interval=interval)


def spin_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Run the Qt event loop (blocking in it, as app.exec() does) until `condition()`."""
    from PySide6.QtCore import QEventLoop, QTimer  # here, so the Qt-free tests never load Qt

    if condition():
        return
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(
        lambda: loop.quit() if condition() or time.monotonic() > deadline else None
    )
    poll.start()
    loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError(f"timed out waiting for {what}")
