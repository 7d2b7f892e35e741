"""One definition of which server sessions local jobs own."""

from __future__ import annotations

import dataclasses

from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobSpec, JobState, ServerRef
from cl_desktop.transfers.ownership import owned_session, session_owners

SERVER = ServerRef("https://127.0.0.1:8443/", "admin")


def job(job_id: int, state: JobState, session_id: str | None, server: ServerRef = SERVER):
    spec = JobSpec(Direction.UPLOAD, server, "lib", paths=("a.iso",), item_name="a")
    snap = JobSnapshot(id=job_id, spec=spec, state=state)
    return dataclasses.replace(snap, session_id=session_id)


def test_an_unfinished_job_owns_its_recorded_session() -> None:
    for state in (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED):
        assert owned_session(job(1, state, "s1")) == "s1"
    for state in (JobState.DONE, JobState.FAILED, JobState.CANCELED):
        assert owned_session(job(1, state, "s1")) is None
    assert owned_session(job(1, JobState.RUNNING, None)) is None


def test_owners_are_looked_for_under_the_same_account() -> None:
    other_user = ServerRef(SERVER.url, "reader")
    other_server = ServerRef("https://127.0.0.1:9443", "admin")
    jobs = [
        job(1, JobState.RUNNING, "mine"),
        job(2, JobState.DONE, "finished"),
        job(3, JobState.PAUSED, "theirs", other_user),
        job(4, JobState.PAUSED, "elsewhere", other_server),
    ]
    owners = session_owners(jobs, ServerRef("127.0.0.1:8443", "admin"))
    assert {sid: j.id for sid, j in owners.items()} == {"mine": 1}
