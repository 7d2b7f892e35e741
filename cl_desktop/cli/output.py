"""What the commands print: results on stdout (text or --json), notes and progress on stderr."""

from __future__ import annotations

import dataclasses
import sys
import threading
from datetime import datetime
from enum import Enum
from typing import Any

from cl_desktop.transfers.jobs import JobSnapshot, JobState, Verification


def note(text: str) -> None:
    """What the command is doing, for the person watching (stderr: stdout stays the result)."""
    print(f"cl-transfer: {text}", file=sys.stderr)


class ProgressLine:
    """A one-line progress display on stderr for terminals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, job: JobSnapshot) -> None:
        with self._lock:
            if job.state is JobState.RUNNING and job.bytes_total:
                eta = f"{job.eta:.0f}s" if job.eta is not None else "?"
                width = 30
                filled = int(width * job.fraction)
                sys.stderr.write(
                    f"\r[{'#' * filled}{'.' * (width - filled)}] {job.fraction:6.1%} "
                    f"{job.speed / 1e6:7.1f} MB/s ETA {eta:>6} {job.phase.value:14}"
                )
            elif job.state.finished:
                sys.stderr.write("\r" + " " * 90 + "\r")
            sys.stderr.flush()


def job_summary(job: JobSnapshot) -> dict[str, Any]:
    from cl_desktop.transfers.download import local_paths  # the engine: not at every start

    copy = bool(job.spec.target_library_id)  # its ids are the source's; target_* where it went
    return {
        "job": job.id,
        "direction": job.spec.direction.value,
        "state": job.state.value,
        "item_id": job.spec.item_id if copy else job.item_id or job.spec.item_id,
        "item": job.spec.item_name,
        "bytes": job.bytes_done,
        "verification": job.verification.value if job.verification else None,
        "files": [dataclasses.asdict(f) for f in job.files],
        "error": job.error_message or None,
        "error_title": job.error_title or None,
        "failure": job.failure.value if job.failure else None,  # server/integrity/local/internal
        **({"source_url": job.spec.source_url} if job.spec.source_url else {}),
        "target": job.spec.target or None,  # a download's file, folder or .ova
        **(_copy_summary(job) if job.spec.target_library_id else {}),
        "paths": local_paths(job),  # the local files a download wrote
    }


def _copy_summary(job: JobSnapshot) -> dict[str, Any]:
    """A copy's target: server, library, item (id and name), and the path
    the bytes took (the server's own copy, or streamed through this computer, and why)."""
    target = job.spec.target_server or job.spec.server
    return {
        "source_item_id": job.spec.item_id,
        "target_server": target.url,
        "target_user": target.username,
        "target_library_id": job.spec.target_library_id,
        "target_item_id": job.item_id or job.spec.target_item_id,
        "target_item": job.spec.target_item_name or None,
        "note": job.note or None,
    }


def job_line(job: JobSnapshot) -> str:
    name = job.spec.item_name
    if job.spec.target_library_id:  # a copy: where it went
        name = job.spec.title
    base = f"job {job.id}: {job.spec.direction.value} {name}: {job.state.value}"
    if job.state is JobState.DONE and job.verification is Verification.SKIPPED:
        return f"{base}: skipped, {job.spec.target} exists"
    if job.state is JobState.DONE:
        where = f" -> {job.spec.target}" if job.spec.target else ""
        how = f"; {job.note}" if job.spec.target_library_id and job.note else ""
        return f"{base} ({job.bytes_done:,} bytes, {job.verification}{how}){where}"
    return f"{base}: {job.error_title}: {job.error_message}" if job.error_message else base


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value
