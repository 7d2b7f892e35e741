"""SpeedMeter: a job's transfer speed and time left, from (time, bytes done) samples. No Qt.

Fed by the queue's progress reports; the clock is injectable so that tests need no sleeps.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


def eta_seconds(remaining: int, speed: float) -> float | None:
    """Seconds to move `remaining` bytes at `speed` bytes/s, or None when unknown."""
    if speed <= 0 or remaining < 0:
        return None
    return remaining / speed


class SpeedMeter:
    """The average speed over the last `window` seconds of samples.

    A sliding window rather than the speed since the start: a transfer that slowed down (or
    resumed after a retry) shows what it does now. At least two samples are kept, so a slow
    trickle of reports still yields a speed.
    """

    def __init__(self, window: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, done: int) -> float:
        """Record that `done` bytes are done by now; returns the speed then."""
        now = self._clock()
        samples = self._samples
        samples.append((now, done))
        while len(samples) > 2 and now - samples[0][0] > self.window:
            samples.popleft()
        return self.speed

    @property
    def speed(self) -> float:
        """Bytes per second over the window; 0.0 until two samples lie apart in time."""
        if len(self._samples) < 2:
            return 0.0
        (first_t, first_done), (last_t, last_done) = self._samples[0], self._samples[-1]
        return (last_done - first_done) / (last_t - first_t) if last_t > first_t else 0.0

    def eta(self, total: int) -> float | None:
        """Seconds left until `total` bytes are done, or None while the speed is unknown."""
        if not self._samples or total <= 0:
            return None
        return eta_seconds(max(0, total - self._samples[-1][1]), self.speed)
