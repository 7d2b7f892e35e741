"""A server that stops receiving an upload: the PUT is stalled (no send blocks longer than
stall_seconds), sent again, and the job fails with "the server stopped receiving" once it has
stayed stalled for stall_limit, leaving no ACTIVE session and no item it created. (The
download side is in test_download_failures.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.control import RetryPolicy
from cl_desktop.transfers.jobs import JobState, ServerRef
from tests.support.api import active_sessions
from tests.support.fault_proxy import FaultProxy
from tests.support.files import make_file
from tests.support.jobs import download_spec, started_queue, upload_spec


def test_a_stalled_upload_fails_as_stopped_receiving(sim_service: Any, tmp_path: Path) -> None:
    library = sim_service.default_library_id
    with ContentLibraryClient(sim_service.base_url, "admin", "secret") as client:
        before = set(client.items.list(library))
        with FaultProxy(sim_service.base_url) as proxy:
            proxy.stall_upload_after = 100_000
            policy = RetryPolicy(stall_seconds=1.0, stall_limit=3.0, max_delay=0.5)
            queue = started_queue(tmp_path / "q.sqlite", retry_policy=policy)
            phases: list[str] = []
            queue.add_listener(lambda job: phases.append(f"{job.phase.value}: {job.note}"))
            source = make_file(tmp_path / "s.iso", 12_000_000)  # more than the socket buffers
            try:
                job = queue.wait(queue.add(upload_spec(ServerRef(proxy.base_url, "admin"),
                                                       library, source)), 60)  # fmt: skip
            finally:
                queue.shutdown()
            puts = [c for c in proxy.calls if c[0] == "POST" and c[1].endswith("/file")]
        assert job.state is JobState.FAILED
        assert job.error_title == "Transfer stalled"
        assert "the server stopped receiving s.iso" in job.error_message
        assert any(p.startswith("stalled: stalled, try 2, next in") for p in phases), phases
        assert len(puts) >= 2  # the stalled PUT was sent again before giving up
        assert active_sessions(client) == []
        assert set(client.items.list(library)) == before  # the empty item it made is gone


def test_a_bandwidth_limit_below_the_stall_rate_is_not_a_stall(
    sim_service: Any, tmp_path: Path
) -> None:
    """500 kB/s by the user's choice is under stall_bytes a second, yet the bytes move as
    asked: the download is not stalled."""
    policy = RetryPolicy(stall_bytes=4_000_000, stall_seconds=1.0, stall_limit=2.0)
    library = sim_service.default_library_id
    with FaultProxy(sim_service.base_url) as proxy:
        queue = started_queue(tmp_path / "q.sqlite", retry_policy=policy)
        ref = ServerRef(proxy.base_url, "admin")
        phases: list[str] = []
        queue.add_listener(lambda job: phases.append(job.phase.value))
        source = make_file(tmp_path / "l.iso", 2_500_000)
        try:
            up = queue.wait(queue.add(upload_spec(ref, library, source)), 60)
            assert up.item_id is not None
            queue.bandwidth_limit = 500_000
            spec = download_spec(ref, library, up.item_id, tmp_path / "dl")
            job = queue.wait(queue.add(spec), 60)
        finally:
            queue.shutdown()
    assert job.state is JobState.DONE, job.error_message
    assert "stalled" not in phases
    assert (tmp_path / "dl" / "l.iso").read_bytes() == source.read_bytes()
