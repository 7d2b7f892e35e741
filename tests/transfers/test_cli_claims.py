"""Claims on jobs: one owner at a time, lost when the owner goes, shared by every queue (the
command line's and the window's) that opens the same database."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import Direction, JobSpec, JobState, ServerRef
from cl_desktop.transfers.queue import JobClaimed, TransferQueue
from cl_desktop.transfers.store import JobStore

SPEC = JobSpec(Direction.UPLOAD, ServerRef("https://vc.test", "admin"), "lib-1", paths=("/x",))


def never_connect(ref: ServerRef) -> ContentLibraryClient:
    raise AssertionError("no job may run in these tests")


def test_a_claim_excludes_other_stores_until_released(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    first, second = JobStore(path), JobStore(path)
    job_id = first.insert(SPEC, 1, 0.0)  # inserted already claimed
    assert not second.claim(job_id)
    assert second.claimed_elsewhere(job_id) and not first.claimed_elsewhere(job_id)
    first.release(job_id)
    assert not second.claimed_elsewhere(job_id)
    assert second.claim(job_id) and not first.claim(job_id)
    second.delete(job_id)  # a deleted job's lock file goes with it
    assert list((tmp_path / "q.sqlite.claims").iterdir()) == []


def test_a_dead_process_loses_its_claims(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    adder = JobStore(path)
    job_id = adder.insert(SPEC, 1, 0.0)
    adder.close()  # gives the claim up, for the child to take
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\n"
         "from cl_desktop.transfers.store import JobStore\n"
         f"s = JobStore({str(path)!r}); assert s.claim({job_id})\n"
         "print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    store = JobStore(path)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert store.claimed_elsewhere(job_id) and not store.claim(job_id)
    finally:
        holder.kill()
        holder.wait()
    assert store.claim(job_id)


def test_a_queue_loads_only_the_jobs_it_can_claim(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite"
    owner = JobStore(path)
    held = owner.insert(SPEC, 1, 0.0)
    free = owner.insert(SPEC, 2, 0.0)
    owner.release(free)
    for job_id, state in ((held, JobState.RUNNING), (free, JobState.PAUSED)):
        (job,) = [j for j in owner.load() if j.id == job_id]
        owner.save(dataclasses.replace(job, state=state))

    queue = TransferQueue(JobStore(path), never_connect)
    queue.start()
    assert [j.id for j in queue.jobs()] == [free]
    with pytest.raises(JobClaimed):
        queue.adopt(held)
    (still,) = [j for j in owner.load() if j.id == held]
    assert still.state is JobState.RUNNING  # not reset, not cancelled, not run
    queue.shutdown()  # gives `free` up again
    assert owner.claim(free)
