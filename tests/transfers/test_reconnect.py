"""A server that goes away and comes back: jobs wait within the reconnect window (the row says
"reconnecting, try n, next in s"), continue where they were, and fail with the reason once the
window has passed. The server is the embedded service as a subprocess, killed (SIGKILL) and
started again on the same port and data dir."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.control import RetryPolicy
from cl_desktop.transfers.jobs import JobSnapshot, JobState, Phase, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from tests.support.api import active_sessions
from tests.support.fault_proxy import FaultProxy
from tests.support.files import make_file
from tests.support.jobs import download_spec, started_queue, upload_spec, uploaded_item
from tests.support.servers.process import SimulatorProcess
from tests.support.waiting import wait_until

USER, PASSWORD = "admin", "secret"
NOTE = re.compile(r"reconnecting, try \d+, next in \d+ s \(.+\)")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SimulatorProcess]:
    sim = SimulatorProcess(tmp_path / "sim-data", {USER: PASSWORD}).start()
    yield sim
    sim.kill()


def library_of(base: str) -> str:
    with ContentLibraryClient(base, USER, PASSWORD) as c:
        return c.libraries.list()[0]


def kill_mid_transfer(queue: TransferQueue, server: SimulatorProcess, job_id: int) -> list[str]:
    """Kill the server once some bytes moved; the notes the job shows from then on."""
    notes: list[str] = []
    queue.add_listener(lambda job: notes.append(job.note) if job.id == job_id else None)
    wait_until(lambda: queue.snapshot(job_id).bytes_done > 300_000, 60, "bytes moving")
    server.kill()
    return notes


def reconnecting(queue: TransferQueue, job_id: int) -> JobSnapshot | None:
    job = queue.snapshot(job_id)
    return job if job.phase is Phase.RECONNECTING and NOTE.fullmatch(job.note) else None


def test_a_download_waits_for_a_restarted_server_and_resumes(
    server: SimulatorProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    ref = ServerRef(base, USER)
    queue = started_queue(
        tmp_path / "q.sqlite", retry_policy=RetryPolicy(reconnect_window=60.0, max_delay=1.0)
    )
    try:
        source = make_file(tmp_path / "r.bin", 4_000_000, seed=3)
        item = uploaded_item(queue, ref, library_of(base), source)
        queue.bandwidth_limit = 1_000_000  # a few seconds, to kill the server in the middle
        dest = tmp_path / "dl"
        job_id = queue.add(download_spec(ref, library_of(base), item, dest))
        kill_mid_transfer(queue, server, job_id)
        wait_until(lambda: reconnecting(queue, job_id), 30, "the row to say reconnecting")
        server.start()
        job = queue.wait(job_id, 90)
    finally:
        queue.shutdown()
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert job.note == "" and job.attempts == 1  # one run of the job, not a retry by hand
    assert (dest / "r.bin").read_bytes() == source.read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == ["r.bin"]
    with ContentLibraryClient(base, USER, PASSWORD) as c:
        assert active_sessions(c) == []


def test_an_upload_and_its_keep_alives_wait_for_the_server_to_come_back(
    sim_service: Any, tmp_path: Path
) -> None:
    """Connections refused for a while (the proxy stops listening, the service keeps its
    sessions): the PUT is sent again and the keep-alive sent after the retry wait, refused
    too, is retried like every call instead of failing the job."""
    with FaultProxy(sim_service.base_url) as proxy:
        policy = RetryPolicy(reconnect_window=60.0, max_delay=1.0)
        queue = started_queue(tmp_path / "q.sqlite", retry_policy=policy)
        queue.bandwidth_limit = 1_000_000
        try:
            source = make_file(tmp_path / "u.iso", 4_000_000, seed=4)
            ref = ServerRef(proxy.base_url, USER)
            job_id = queue.add(upload_spec(ref, sim_service.default_library_id, source))
            notes: list[str] = []
            queue.add_listener(lambda job: notes.append(job.note) if job.id == job_id else None)
            wait_until(lambda: queue.snapshot(job_id).bytes_done > 300_000, 60, "bytes moving")
            proxy.go_down()
            # the PUT's wait ran out ("next in 0 s") and a later call (the keep-alive) failed too
            wait_until(lambda: _retried_after_the_wait(notes), 30, "a refused keep-alive")
            proxy.come_back()
            job = queue.wait(job_id, 90)
        finally:
            queue.shutdown()
        progress = proxy.keep_alives()
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert job.note == ""
    assert progress == sorted(progress), progress  # keep-alive progress only grows
    with ContentLibraryClient(sim_service.base_url, USER, PASSWORD) as c:
        assert active_sessions(c) == []
        assert [f.name for f in c.item_files.list(job.item_id or "")] == ["u.iso"]


def _retried_after_the_wait(notes: list[str]) -> bool:
    ends = [
        i for i, n in enumerate(notes) if n.startswith("reconnecting") and ", next in 0 s (" in n
    ]
    return bool(ends) and any(NOTE.fullmatch(n) for n in notes[ends[0] + 1 :])


def test_a_server_gone_for_longer_than_the_window_fails_the_job_with_the_reason(
    server: SimulatorProcess, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    ref = ServerRef(base, USER)
    queue = started_queue(
        tmp_path / "q.sqlite", retry_policy=RetryPolicy(reconnect_window=3.0, max_delay=1.0)
    )
    try:
        source = make_file(tmp_path / "g.bin", 4_000_000, seed=6)
        item = uploaded_item(queue, ref, library_of(base), source)
        queue.bandwidth_limit = 1_000_000
        dest = tmp_path / "dl"
        job_id = queue.add(download_spec(ref, library_of(base), item, dest))
        notes = kill_mid_transfer(queue, server, job_id)
        job = queue.wait(job_id, 60)
    finally:
        queue.shutdown()
    assert job.state is JobState.FAILED
    assert job.error_title == "Server unreachable"
    assert "the server has not answered for 3 s: connection refused" in job.error_message
    assert any(NOTE.fullmatch(n) for n in notes), notes
    assert not (dest / "g.bin").exists()
    # the session could not be ended: it is remembered, to be ended once the server is back
    assert job.session_id is None
    assert [kind for kind, _ in queue.pending_cleanups(ref)] == ["download session"]
