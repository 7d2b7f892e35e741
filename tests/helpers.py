"""Small shared test helpers (no fixtures here; see conftest.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cl_desktop.api import ContentLibraryClient, TlsSettings, UpdateSessionState
from cl_desktop.transfers.jobs import Direction, JobSpec, ServerRef

if TYPE_CHECKING:
    from servers import ServerTarget

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "condition") -> T:
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


def client_for(target: ServerTarget) -> ContentLibraryClient:
    return ContentLibraryClient(
        target.base_url, target.username, target.password, tls=TlsSettings(ca_file=target.ca_file)
    )


def upload_spec(ref: ServerRef, library_id: str, *paths: Path, item_id: str | None = None,
                **kw: object) -> JobSpec:  # fmt: skip
    return JobSpec(
        Direction.UPLOAD, ref, library_id, item_id=item_id, paths=tuple(str(p) for p in paths), **kw
    )  # type: ignore[arg-type]


def active_sessions(client: ContentLibraryClient) -> list[str]:
    """Update or download sessions of this user still ACTIVE on the server."""
    active = []
    for sid in client.update_sessions.list():
        if client.update_sessions.get(sid).state is UpdateSessionState.ACTIVE:
            active.append(sid)
    for sid in client.download_sessions.list():
        state = client.download_sessions.get(sid).state
        if state is not None and state.value == "ACTIVE":
            active.append(sid)
    return active
