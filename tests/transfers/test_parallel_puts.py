"""The files of one update session go up in parallel: a 4-disk template is PUT with at most
`parallel_puts` requests at once (counted by the server), into one session, every file
verified; a disk that fails ends the whole job, its session and the item it created."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.transfers.control import RetryPolicy
from cl_desktop.transfers.jobs import JobState, Verification
from tests.support.jobs import upload_spec
from tests.support.templates import make_template
from tests.support.uploads import ServerLog, ref_for, sim_queue

DISKS = tuple((f"disk{n}.vmdk", 1_000_000 + n) for n in range(1, 5))


class PutCounter:
    """How many PUTs the server had open at once (begin_upload to finish_upload)."""

    def __init__(self, backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = self.most = 0
        self._lock = threading.Lock()
        begin, finish = backend.begin_upload, backend.finish_upload

        def counted_begin(*args: Any) -> Any:
            ticket = begin(*args)
            with self._lock:
                self.open += 1
                self.most = max(self.most, self.open)
            return ticket

        def counted_finish(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.open -= 1
            return finish(*args, **kwargs)

        monkeypatch.setattr(backend, "begin_upload", counted_begin)
        monkeypatch.setattr(backend, "finish_upload", counted_finish)


@pytest.mark.parametrize("parallel", [1, 2, 3])
def test_a_four_disk_template_is_put_n_files_at_once(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel: int
) -> None:
    server = ServerLog(sim.backend, monkeypatch)
    counter = PutCounter(sim.backend, monkeypatch)
    sim.faults.throttle(2_000_000)  # each disk takes ~0.5 s: the PUTs overlap when allowed
    descriptor = make_template(tmp_path / "t", "four", DISKS, manifest=False)
    policy = RetryPolicy(parallel_puts=parallel)
    with sim_queue(tmp_path / "q.sqlite", retry_policy=policy) as queue:
        job = queue.wait(queue.add(upload_spec(ref_for(sim.base_url), sim.default_library_id,
                                               descriptor)), 60)  # fmt: skip
    assert job.state is JobState.DONE, job.error_message
    assert counter.most == parallel  # as many as allowed, never more
    assert len(server.of("create")) == 1  # one session for all the files
    assert sorted(f.name for f in job.files) == sorted(["four.ovf", *(d for d, _ in DISKS)])
    assert all(f.verification is Verification.VERIFIED for f in job.files), job.files


def test_a_template_sends_its_manifest_before_the_parallel_puts(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service (as vCenter) refuses a manifest added after its descriptor: with three PUTs
    at once, the .mf must still be added, alone, before the .ovf and the disks."""
    counter = PutCounter(sim.backend, monkeypatch)
    sim.faults.throttle(2_000_000)
    descriptor = make_template(tmp_path / "t", "four", DISKS, manifest=True)
    with sim_queue(tmp_path / "q.sqlite", retry_policy=RetryPolicy(parallel_puts=3)) as queue:
        job = queue.wait(queue.add(upload_spec(ref_for(sim.base_url), sim.default_library_id,
                                               descriptor)), 60)  # fmt: skip
    assert job.state is JobState.DONE, job.error_message
    assert counter.most == 3
    assert job.files[0].name == "four.mf"
    assert job.files[0].verification is Verification.CONSUMED


def test_a_failing_disk_ends_the_session_and_the_item(
    sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ServerLog(sim.backend, monkeypatch)
    finish = sim.backend.finish_upload

    def damaged(ticket: Any, received: int, complete: bool, digests: dict[str, str],
                failure: str | None = None) -> bool:  # fmt: skip
        if ticket.file.name == "disk2.vmdk":  # the server "received" other bytes than were sent
            digests = {k: format(int(v, 16) ^ 1, f"0{len(v)}x") for k, v in digests.items()}
        return finish(ticket, received, complete, digests, failure)

    monkeypatch.setattr(sim.backend, "finish_upload", damaged)
    counter = PutCounter(sim.backend, monkeypatch)
    sim.faults.throttle(2_000_000)
    descriptor = make_template(tmp_path / "t", "four", DISKS, manifest=False)
    with sim_queue(tmp_path / "q.sqlite", retry_policy=RetryPolicy(parallel_puts=3)) as queue:
        job = queue.wait(queue.add(upload_spec(ref_for(sim.base_url), sim.default_library_id,
                                               descriptor)), 60)  # fmt: skip
    assert job.state is JobState.FAILED
    assert job.error_title == "Checksum mismatch", job.error_message
    assert job.error_message.startswith("disk2.vmdk: the server received bytes"), job.error_message
    assert counter.most >= 2  # the failure happened among parallel PUTs
    (created,) = server.of("create")
    assert server.of("fail") and ("delete", created[1]) in server.calls
    assert server.active_sessions() == []
    assert server.empty_items(sim.default_library_id) == []
    assert all(f.verification is None for f in job.files)
