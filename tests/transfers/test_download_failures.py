"""Downloads that go wrong on the server's side: the final name never holds unverified bytes,
whatever fails, and a resumed download asks only for the bytes it lacks (Range).

The server is the embedded service behind a small misbehaving proxy
(tests/support/fault_proxy.py), which counts what it serves and spoils answers on demand.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.control import RetryPolicy
from cl_desktop.transfers.jobs import JobSnapshot, JobState, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from tests.support.api import active_sessions
from tests.support.fault_proxy import FaultProxy
from tests.support.files import make_file
from tests.support.jobs import download_spec, started_queue, uploaded_item

SIZE = 3 * 1024 * 1024 + 12_345
CLIENT_BLOCK = 1 << 20  # the largest block the client reads at once
# short figures so that giving up takes seconds, not minutes
POLICY = RetryPolicy(reconnect_window=2.0, stall_seconds=1.0, stall_limit=3.0, max_delay=0.5)


@pytest.fixture
def proxy(sim_service: Any) -> Iterator[FaultProxy]:
    with FaultProxy(sim_service.base_url) as p:
        yield p


@pytest.fixture
def queue(proxy: FaultProxy, tmp_path: Path) -> Iterator[TransferQueue]:
    q = started_queue(tmp_path / "q.sqlite", retry_policy=POLICY)
    yield q
    q.shutdown()


@pytest.fixture
def item(sim_service: Any, queue: TransferQueue, proxy: FaultProxy, tmp_path: Path) -> str:
    source = make_file(tmp_path / "x.bin", SIZE, seed=5)
    ref = ServerRef(proxy.base_url, "admin")
    return uploaded_item(queue, ref, sim_service.default_library_id, source)


def download(queue: TransferQueue, proxy: FaultProxy, sim: Any, item: str, dest: Path
             ) -> JobSnapshot:  # fmt: skip
    ref = ServerRef(proxy.base_url, "admin")
    return queue.wait(queue.add(download_spec(ref, sim.default_library_id, item, dest)), 60)


def assert_failed_cleanly(
    job: JobSnapshot, dest: Path, sim_api_client: ContentLibraryClient
) -> None:
    assert job.state is JobState.FAILED
    assert job.verification is not Verification.VERIFIED
    assert job.note == ""  # no countdown left on a failed row
    assert not (dest / "x.bin").exists(), "unverified bytes under the final name"
    assert [n for n in os.listdir(dest) if not n.endswith(".part")] == []
    assert active_sessions(sim_api_client) == []


def test_a_resumed_download_asks_only_for_the_missing_bytes(
    sim_service: Any, queue: TransferQueue, proxy: FaultProxy, item: str, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    proxy.drop_after = 1_300_000
    dest = tmp_path / "dl"
    job = download(queue, proxy, sim_service, item, dest)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert (dest / "x.bin").read_bytes() == (tmp_path / "x.bin").read_bytes()
    assert proxy.ranges[0] is None and len(proxy.ranges) == 2, proxy.ranges
    offset = int((proxy.ranges[1] or "bytes=0-").removeprefix("bytes=").rstrip("-"))
    assert 0 < offset <= 1_300_000
    assert proxy.data_bytes < SIZE + CLIENT_BLOCK, proxy.data_bytes  # no second full copy
    assert active_sessions(sim_api_client) == []


def test_a_body_shorter_than_the_file_never_gets_the_final_name(
    sim_service: Any, queue: TransferQueue, proxy: FaultProxy, item: str, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    proxy.body = lambda whole: whole[:-1000]  # a consistent Content-Length, a short file
    dest = tmp_path / "dl"
    job = download(queue, proxy, sim_service, item, dest)
    assert_failed_cleanly(job, dest, sim_api_client)
    assert job.error_title == "Checksum mismatch"
    assert f"got {SIZE - 1000} bytes, the server has {SIZE}" in job.error_message
    assert os.listdir(dest) == []  # those bytes must not be resumed either


def test_a_body_longer_than_the_file_never_gets_the_final_name(
    sim_service: Any, queue: TransferQueue, proxy: FaultProxy, item: str, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    proxy.body = lambda whole: whole + b"extra" * 200
    dest = tmp_path / "dl"
    job = download(queue, proxy, sim_service, item, dest)
    assert_failed_cleanly(job, dest, sim_api_client)
    assert job.error_title == "Checksum mismatch"
    assert "sent more than" in job.error_message
    assert os.listdir(dest) == []


def test_a_changed_byte_never_gets_the_final_name(
    sim_service: Any, queue: TransferQueue, proxy: FaultProxy, item: str, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    proxy.body = lambda whole: whole[:1000] + bytes([whole[1000] ^ 0xFF]) + whole[1001:]
    dest = tmp_path / "dl"
    job = download(queue, proxy, sim_service, item, dest)
    assert_failed_cleanly(job, dest, sim_api_client)
    assert job.error_title == "Checksum mismatch"
    assert "of the download is" in job.error_message
    assert os.listdir(dest) == []


def test_a_failing_verification_call_never_gives_the_final_name(
    sim_service: Any, queue: TransferQueue, proxy: FaultProxy, item: str, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    # once every byte is here, asking the server for the file's checksum answers 503
    proxy.fail = lambda method, path, query: (
        503 if method == "GET" and "download-session" in path and proxy.data_bytes >= SIZE
        else None
    )  # fmt: skip
    dest = tmp_path / "dl"
    job = download(queue, proxy, sim_service, item, dest)
    assert_failed_cleanly(job, dest, sim_api_client)
    assert job.error_title == "Server unreachable"
    assert "kept answering with errors for 2 s" in job.error_message


def test_exhausted_retries_never_give_the_final_name(
    sim_service: Any, queue: TransferQueue, proxy: FaultProxy, item: str, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    proxy.fail = lambda method, path, query: 503 if path.startswith("/cls/data/") else None
    notes: list[str] = []
    queue.add_listener(lambda job: notes.append(job.note))
    dest = tmp_path / "dl"
    job = download(queue, proxy, sim_service, item, dest)
    assert_failed_cleanly(job, dest, sim_api_client)
    assert "kept answering with errors for 2 s" in job.error_message
    assert any(n.startswith("retrying, try 2, next in") for n in notes), notes
    assert proxy.data_bytes == 0


def test_a_stalled_download_fails_as_stopped_sending(
    sim_service: Any, queue: TransferQueue, proxy: FaultProxy, item: str, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    proxy.stall_after = 20_000  # a little (under stall_bytes), then nothing, on every GET
    phases: list[str] = []
    queue.add_listener(lambda job: phases.append(f"{job.phase.value}: {job.note}"))
    dest = tmp_path / "dl"
    job = download(queue, proxy, sim_service, item, dest)
    assert_failed_cleanly(job, dest, sim_api_client)
    assert job.error_title == "Transfer stalled"
    assert "the server stopped sending x.bin" in job.error_message
    assert any(p.startswith("stalled: stalled, try 2, next in") for p in phases), phases
    assert len(proxy.ranges) >= 2  # retried, each time from what had arrived
    assert all(r == f"bytes={20_000 * i}-" for i, r in enumerate(proxy.ranges[1:], 1)), proxy.ranges
    # the job can be retried, so what arrived stays to be resumed
    assert (dest / "x.bin.part").stat().st_size == 20_000 * len(proxy.ranges)


def test_a_server_that_drops_every_body_fails_within_the_window(
    sim_service: Any, queue: TransferQueue, proxy: FaultProxy, item: str, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    """It answers every GET and cuts the body at once: answering is not progress, so the
    failure streak goes on and ends with the window."""
    proxy.drop_every = 1000  # below stall_bytes: no real progress
    dest = tmp_path / "dl"
    job = download(queue, proxy, sim_service, item, dest)
    assert_failed_cleanly(job, dest, sim_api_client)
    assert job.error_title == "Server unreachable"
    assert "the server has not answered for 2 s: the connection broke" in job.error_message
    assert len(proxy.ranges) >= 2
