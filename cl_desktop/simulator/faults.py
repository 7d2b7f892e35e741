"""Fault injection for tests: dropped connections, 503s, expiry, throttling, slow prepare,
corrupted downloads and uploads, stalled transfers.

All faults are off by default.  The same object is reachable over HTTP through
``POST /_sim/faults`` (see ``apply_json``) when the control API is enabled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DIRECTIONS = ("upload", "download", "pull", "any")  # pull: a PULL's fetch from its source


@dataclass
class _Drop:
    after_bytes: int
    which: str


@dataclass(frozen=True)
class Stall:
    """An armed stall: move ``after_bytes`` body bytes, then nothing for ``seconds``."""

    after_bytes: int
    which: str
    seconds: float


@dataclass
class _FailNext:
    remaining: int
    path: str | None


class Faults:
    """Thread-safe switchboard of injected faults.

    ``expire_session`` and ``expire_logins`` act on the service state at once;
    the others arm behaviour that the HTTP layer consults per request.
    """

    def __init__(
        self,
        expire_session: Callable[[str], bool],
        expire_logins: Callable[[], int],
        default_prepare_delay: float,
    ) -> None:
        self._lock = threading.Lock()
        self._expire_session = expire_session
        self._expire_logins = expire_logins
        self._default_prepare_delay = default_prepare_delay
        self._drop: _Drop | None = None
        self._fail: _FailNext | None = None
        self._throttle: int | None = None
        self._prepare_delay: float | None = None
        self._corrupt_at: int | None = None
        self._corrupt_upload_at: int | None = None
        self._stall: Stall | None = None

    # -- arming -------------------------------------------------------------------

    def drop_after_bytes(self, n: int, which: str = "any") -> None:
        """Drop the connection of the next data PUT/GET (``which``) after ``n`` body bytes."""
        if n < 0:
            raise ValueError("n must be >= 0")
        if which not in DIRECTIONS:
            raise ValueError(f"which must be one of {', '.join(DIRECTIONS)}")
        with self._lock:
            self._drop = _Drop(int(n), which)

    def fail_next(self, count: int = 1, path: str | None = None) -> None:
        """Answer the next ``count`` API calls (whose path contains ``path``) with 503."""
        if count < 0:
            raise ValueError("count must be >= 0")
        with self._lock:
            self._fail = _FailNext(int(count), path) if count else None

    def expire_session(self, session_id: str) -> bool:
        """Expire an update or download session now; False if there is no such session."""
        return self._expire_session(session_id)

    def expire_logins(self) -> int:
        """Invalidate every API login token now; returns how many there were."""
        return self._expire_logins()

    def throttle(self, bytes_per_second: int | None) -> None:
        """Limit each data transfer to ``bytes_per_second`` (None: unlimited)."""
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be positive or None")
        with self._lock:
            self._throttle = None if bytes_per_second is None else int(bytes_per_second)

    def prepare_delay(self, seconds: float | None) -> None:
        """Seconds per download prepare stage (None: back to the configured default)."""
        if seconds is not None and seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._lock:
            self._prepare_delay = None if seconds is None else float(seconds)

    def corrupt_download(self, at_byte: int = 0) -> None:
        """Flip the bits of byte ``at_byte`` (of the file) in the next data GET: a bad proxy
        or disk, which only a checksum catches."""
        if at_byte < 0:
            raise ValueError("at_byte must be >= 0")
        with self._lock:
            self._corrupt_at = int(at_byte)

    def corrupt_upload(self, at_byte: int = 0) -> None:
        """Flip the bits of byte ``at_byte`` of the next data PUT's body on receipt, before
        it is hashed and stored: the stored content no longer matches what the client
        hashed (a bad proxy or NIC), which only a checksum catches."""
        if at_byte < 0:
            raise ValueError("at_byte must be >= 0")
        with self._lock:
            self._corrupt_upload_at = int(at_byte)

    def stall(self, after_bytes: int, which: str = "any", seconds: float = 60.0) -> None:
        """The next data PUT/GET (``which``) moves ``after_bytes`` body bytes, then nothing
        for ``seconds`` (or until the client closes or the service stops), then its
        connection is closed."""
        if after_bytes < 0:
            raise ValueError("after_bytes must be >= 0")
        if which not in DIRECTIONS:
            raise ValueError(f"which must be one of {', '.join(DIRECTIONS)}")
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._lock:
            self._stall = Stall(int(after_bytes), which, float(seconds))

    def reset(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._corrupt_at = None
            self._corrupt_upload_at = None
            self._stall = None
            self._drop = None
            self._fail = None
            self._throttle = None
            self._prepare_delay = None

    # -- consulted by the service ----------------------------------------------------

    def take_drop(self, direction: str) -> int | None:
        """Consume an armed drop matching ``direction``; the byte count or None."""
        with self._lock:
            drop = self._drop
            if drop is None or drop.which not in (direction, "any"):
                return None
            self._drop = None
            return drop.after_bytes

    def take_corruption(self) -> int | None:
        """Consume an armed download corruption; the file offset to damage or None."""
        with self._lock:
            at, self._corrupt_at = self._corrupt_at, None
            return at

    def take_upload_corruption(self) -> int | None:
        """Consume an armed upload corruption; the body offset to damage or None."""
        with self._lock:
            at, self._corrupt_upload_at = self._corrupt_upload_at, None
            return at

    def take_stall(self, direction: str) -> Stall | None:
        """Consume an armed stall matching ``direction``."""
        with self._lock:
            stall = self._stall
            if stall is None or stall.which not in (direction, "any"):
                return None
            self._stall = None
            return stall

    def take_failure(self, path: str) -> bool:
        """True if this API call must be answered with 503 (consumes one)."""
        with self._lock:
            fail = self._fail
            if fail is None or (fail.path is not None and fail.path not in path):
                return False
            fail.remaining -= 1
            if fail.remaining <= 0:
                self._fail = None
            return True

    @property
    def throttle_bps(self) -> int | None:
        return self._throttle

    @property
    def prepare_stage_delay(self) -> float:
        delay = self._prepare_delay
        return self._default_prepare_delay if delay is None else delay

    def snapshot(self) -> dict[str, Any]:
        """The armed faults, JSON-ready."""
        with self._lock:
            return {
                "drop_after_bytes": None
                if self._drop is None
                else {"bytes": self._drop.after_bytes, "which": self._drop.which},
                "fail_next": None
                if self._fail is None
                else {"count": self._fail.remaining, "path": self._fail.path},
                "throttle": self._throttle,
                "prepare_delay": self.prepare_stage_delay,
                "corrupt_download": self._corrupt_at,
                "corrupt_upload": self._corrupt_upload_at,
                "stall": None
                if self._stall is None
                else {
                    "after_bytes": self._stall.after_bytes,
                    "which": self._stall.which,
                    "seconds": self._stall.seconds,
                },
            }

    # -- JSON control (POST /_sim/faults) --------------------------------------------

    def apply_json(self, body: Any) -> dict[str, Any]:
        """Apply a ``/_sim/faults`` request body; returns extra results.

        The body is an object; each member arms one fault (``reset`` runs first)::

            {"reset": true,
             "drop_after_bytes": 1000 | {"bytes": 1000, "which": "upload"},
             "fail_next": 2 | {"count": 2, "path": "update-session"},
             "expire_session": "SESSION-ID" | ["ID", ...],
             "expire_logins": true,
             "throttle": 10000000 | null,
             "prepare_delay": 1.0 | null,
             "corrupt_download": 0,
             "corrupt_upload": 0,
             "stall": {"after_bytes": 1000, "which": "download", "seconds": 60}}

        Raises ValueError for a malformed body and KeyError for an unknown session.
        """
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        known = {
            "reset",
            "drop_after_bytes",
            "fail_next",
            "expire_session",
            "expire_logins",
            "throttle",
            "prepare_delay",
            "corrupt_download",
            "corrupt_upload",
            "stall",
        }
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        result: dict[str, Any] = {}
        if body.get("reset"):
            self.reset()
        if "drop_after_bytes" in body:
            arg = body["drop_after_bytes"]
            if isinstance(arg, dict):
                self.drop_after_bytes(_int(arg.get("bytes")), str(arg.get("which", "any")))
            else:
                self.drop_after_bytes(_int(arg))
        if "fail_next" in body:
            arg = body["fail_next"]
            if isinstance(arg, dict):
                path = arg.get("path")
                self.fail_next(_int(arg.get("count", 1)), None if path is None else str(path))
            else:
                self.fail_next(_int(arg))
        if "expire_session" in body:
            arg = body["expire_session"]
            ids = arg if isinstance(arg, list) else [arg]
            for sid in ids:
                if not self.expire_session(str(sid)):
                    raise KeyError(str(sid))
            result["expired_sessions"] = [str(s) for s in ids]
        if body.get("expire_logins"):
            result["expired_logins"] = self.expire_logins()
        if "throttle" in body:
            arg = body["throttle"]
            self.throttle(None if arg is None else _int(arg))
        if "prepare_delay" in body:
            arg = body["prepare_delay"]
            self.prepare_delay(None if arg is None else _float(arg))
        if "corrupt_download" in body:
            self.corrupt_download(_int(body["corrupt_download"]))
        if "corrupt_upload" in body:
            self.corrupt_upload(_int(body["corrupt_upload"]))
        if "stall" in body:
            arg = body["stall"]
            if not isinstance(arg, dict):
                raise ValueError("'stall' must be an object with 'after_bytes'")
            self.stall(
                _int(arg.get("after_bytes")),
                str(arg.get("which", "any")),
                _float(arg.get("seconds", 60.0)),
            )
        return result


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)
