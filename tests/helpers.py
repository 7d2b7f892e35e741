"""Small shared test helpers (no fixtures here; see conftest.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds.

    The pause between polls grows from 10 ms; it waits on an Event, so a test can never
    stall longer than its deadline.
    """
    deadline = time.monotonic() + timeout
    pause = 0.01
    idle = threading.Event()
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        idle.wait(pause)
        pause = min(pause * 2, 0.2)
