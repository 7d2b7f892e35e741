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
        **(_fanout_summary(job) if job.spec.fanout_targets else {}),
    }


def _fanout_targets(job: JobSnapshot) -> list[dict[str, Any]]:
    """Each fan-out target (a row of the job's `files`): where it is, its item and outcome
    (verified..., "skipped" when an earlier run verified it and it did not change, else the
    job's state)."""
    sent = {s.index: s for s in job.spec.fanout_sent}
    rows = []
    for index, (target, row) in enumerate(zip(job.spec.fanout_targets, job.files, strict=False)):
        record = sent.get(index)
        if record is not None and record.attempt < job.attempts:
            outcome = "skipped"
        elif row.verification is not None:
            outcome = row.verification.value
        else:
            outcome = "failed" if job.state is JobState.FAILED else job.state.value
        rows.append(
            {
                **dataclasses.asdict(row),
                "server": target.server.url,
                "user": target.server.username,
                "library_id": target.library_id or None,
                "library": target.library_name or None,
                "item_id": (record.item_id if record else None) or target.item_id,
                "item": target.item_name,
                "outcome": outcome,
            }
        )
    return rows


def _fanout_summary(job: JobSnapshot) -> dict[str, Any]:
    """A fan-out's files are its targets; its bytes the file's once (not once per target)."""
    return {"files": _fanout_targets(job), "bytes": max((f.done for f in job.files), default=0)}


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
    if job.spec.fanout_targets:
        return _fanout_line(job)
    if job.state is JobState.DONE and job.verification is Verification.SKIPPED:
        return f"{base}: skipped, {job.spec.target} exists"
    if job.state is JobState.DONE:
        where = f" -> {job.spec.target}" if job.spec.target else ""
        how = f"; {job.note}" if job.spec.target_library_id and job.note else ""
        return f"{base} ({job.bytes_done:,} bytes, {job.verification}{how}){where}"
    return f"{base}: {job.error_title}: {job.error_message}" if job.error_message else base


def _fanout_line(job: JobSnapshot) -> str:
    """The job's line, then one line per target: where, its outcome, the bytes it holds."""
    base = f"job {job.id}: {job.spec.direction.value} {job.spec.title}: {job.state.value}"
    size = job.files[0].size if job.files else 0
    targets = _fanout_targets(job)
    ok = [t for t in targets if t["outcome"] not in ("failed", job.state.value)]
    head = f"{base} ({size:,} bytes to {len(ok)} of {len(targets)} libraries)"
    if job.state is JobState.DONE:
        head = f"{base} ({size:,} bytes to {len(targets)} libraries, {job.verification})"
    elif job.error_message:
        head += f": {job.error_title}: {job.error_message}"
    lines = [head]
    for t in targets:
        item = f", item {t['item_id']}" if t["item_id"] else ""
        if t["outcome"] == "skipped":
            what = "skipped: verified by an earlier run, unchanged since"
        elif t["outcome"] in ("failed", job.state.value):
            what = t["outcome"]
        else:
            what = f"{t['outcome']}, {t['size']:,} bytes"
        lines.append(f"  {t['name']}: {what}{item}")
    return "\n".join(lines)


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
