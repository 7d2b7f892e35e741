"""SIGINT and SIGTERM as one clean stop."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from .output import note


class Interrupts:
    """SIGINT and SIGTERM both raise KeyboardInterrupt in the main thread, once.

    A service manager, `timeout` or `kill` sends SIGTERM: it must end the server sessions and
    the login as Ctrl-C does, not leave them ACTIVE. Later signals are ignored, so that the
    (time-bounded) clean-up that follows the first one is not cut short.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._armed = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:
            self._armed = False
            raise KeyboardInterrupt
        note("stopping: ending the server sessions and the login first")

    def disarm(self) -> None:
        self._armed = False

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signal handlers can only be set from the main thread
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
