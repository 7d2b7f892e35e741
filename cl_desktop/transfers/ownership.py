"""Which server sessions a local job owns: one definition for the engine's recovery and the
session monitor's orphans.

A job owns the session it has recorded (`session_id`) while it is not finished: a running job
transfers through it, a paused or queued one (closed or killed mid-upload) resumes into it. A
session is looked for under the account that made it, since a server shows sessions only to
their creator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from cl_desktop.api import normalize_server

from .jobs import Direction, JobSnapshot, JobSpec, ServerRef


class Account(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def username(self) -> str: ...


def account_key(server: Account) -> tuple[str, str]:
    """Which login a job needs: the server and user (anything with `url` and `username`)."""
    return normalize_server(server.url), server.username


def copy_job(
    source: ServerRef,
    library_id: str,
    item_id: str | None,
    item_name: str,
    target: ServerRef,
    target_library_id: str,
    target_item_id: str | None = None,
    target_item_name: str = "",
) -> JobSpec:
    """A copy job: `target_server` only when the target is another account, so that a copy
    within one account tries the server's own copy first (one rule for window and CLI)."""
    same = account_key(source) == account_key(target)
    return JobSpec(
        Direction.COPY,
        source,
        library_id,
        item_id=item_id,
        item_name=item_name,
        target_server=None if same else target,
        target_library_id=target_library_id,
        target_item_id=target_item_id,
        target_item_name=target_item_name,
    )


def owned_session(job: JobSnapshot) -> str | None:
    """The server session `job` owns, or None (none recorded, or the job has finished)."""
    if job.state.finished or not job.session_id:
        return None
    return job.session_id


def session_owners(jobs: Iterable[JobSnapshot], server: Account) -> dict[str, JobSnapshot]:
    """Session id -> the job that owns it, among the jobs of `server`'s account. A copy owns
    its download session on its source and its update session on its target."""
    account = account_key(server)
    owners: dict[str, JobSnapshot] = {}
    for job in jobs:
        session_id = owned_session(job)
        if job.spec.direction is Direction.COPY:
            if account_key(job.spec.copy_target) == account and session_id:
                owners[session_id] = job
            source = None if job.state.finished else job.source_session_id
            if account_key(job.spec.server) == account and source:
                owners[source] = job
            continue
        if session_id and account_key(job.spec.server) == account:
            owners[session_id] = job
    return owners
