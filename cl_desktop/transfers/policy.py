"""RetryPolicy, apart from control.py: cl-transfer's parser shows its defaults in --help, and
control.py brings the client's errors, which a command line that only prints help never needs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How long a job keeps trying (the settings behind "reconnecting" and "stalled").

    A streak of connection or 5xx failures is retried with capped exponential backoff until
    `reconnect_window` seconds have passed since its first failure (vCenter's services restart
    in tens of seconds). A transfer moving fewer than `stall_bytes` in `stall_seconds` is
    stalled (curl's --speed-limit/--speed-time); it fails once stalled for `stall_limit`.
    """

    reconnect_window: float = 120.0
    stall_bytes: int = 64 * 1024
    stall_seconds: float = 30.0
    stall_limit: float = 90.0
    base_delay: float = 0.5
    max_delay: float = 15.0
    # files of one update session PUT at once (a multi-disk OVF); the protocol allows it
    parallel_puts: int = 3
    # the longest gap between keep-alives of a session (a third of its time left if shorter)
    keep_alive_max: float = 60.0
