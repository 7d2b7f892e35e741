"""Faults the embedded service injects; each transfer ends DONE and verified, or FAILED with a
clear message, with no corrupt file and no ACTIVE session left."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import JobSnapshot, JobState, Phase, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from tests.support.api import active_sessions
from tests.support.cli import cli
from tests.support.files import make_file
from tests.support.jobs import download_spec, upload_spec, uploaded_item
from tests.support.waiting import wait_until

USER = "admin"  # the simulator user of tests/support/accounts.py
BLOCK = 1 << 20  # the largest block the client reads and sends at once (api.client)


def test_dropped_upload_connection_is_resent(
    sim: Any,
    queue: TransferQueue,
    ref: ServerRef,
    sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:
    source = make_file(tmp_path / "big.iso", 4 * 1024 * 1024)
    sim.faults.drop_after_bytes(1_000_000, which="upload")
    job = queue.wait(queue.add(upload_spec(ref, sim.default_library_id, source)), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert active_sessions(sim_api_client) == []


def test_dropped_download_resumes_with_range(
    sim: Any, queue: TransferQueue, ref: ServerRef, sim_api_client: ContentLibraryClient,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="cl_desktop.simulator.handler")
    source = make_file(tmp_path / "big.bin", 6 * 1024 * 1024, seed=9)
    item = uploaded_item(queue, ref, sim.default_library_id, source)
    sim.faults.drop_after_bytes(2_500_000, which="download")
    dest = tmp_path / "dl"
    seen: list[JobSnapshot] = []
    queue.add_listener(seen.append)
    job = queue.wait(queue.add(download_spec(ref, sim.default_library_id, item, dest)), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert any(s.phase is Phase.RECONNECTING for s in seen if s.id == job.id)  # it did drop
    # The server's own request log: the retry asked for the rest (206), not the whole file.
    gets = [m.rsplit(" ", 2)[1] for m in caplog.messages if '"GET /cls/data/' in m]
    assert gets == ["200", "206"], gets
    assert (dest / "big.bin").read_bytes() == source.read_bytes()
    assert os.listdir(dest) == ["big.bin"]
    assert active_sessions(sim_api_client) == []


def test_service_unavailable_is_retried(
    sim: Any, queue: TransferQueue, ref: ServerRef, tmp_path: Path
) -> None:
    phases: list[str] = []
    queue.add_listener(lambda job: phases.append(f"{job.phase.value}: {job.note}"))
    sim.faults.fail_next(3, path="/content/")  # content calls: login absorbs 503s itself
    job = queue.wait(
        queue.add(upload_spec(ref, sim.default_library_id, make_file(tmp_path / "a.bin", 1000))),
        60,
    )
    assert job.state is JobState.DONE, job.error_message
    retries = [p for p in phases if p.startswith("retrying")]
    assert retries, phases
    assert re.fullmatch(r"retrying: retrying, try 2, next in \d+ s \(.*unavailable.*\)", retries[0])
    assert any(p.startswith("retrying: retrying, try 4,") for p in retries), retries
    assert job.note == ""


def test_expired_login_logs_in_again(
    sim: Any, queue: TransferQueue, ref: ServerRef, tmp_path: Path
) -> None:
    first = uploaded_item(queue, ref, sim.default_library_id, make_file(tmp_path / "a.bin", 10))
    assert sim.faults.expire_logins() == 1  # the queue's one login for this server
    job = queue.wait(
        queue.add(upload_spec(ref, sim.default_library_id, make_file(tmp_path / "b.bin", 10))), 60
    )
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert job.item_id is not None and job.item_id != first
    with ContentLibraryClient(sim.base_url, USER, "secret") as client:
        assert [f.name for f in client.item_files.list(first)] == ["a.bin"]
        assert [f.name for f in client.item_files.list(job.item_id)] == ["b.bin"]
        assert active_sessions(client) == []


def running_with_bytes(queue: TransferQueue, job_id: int) -> JobSnapshot | None:
    job = queue.snapshot(job_id)
    return job if job.state is JobState.RUNNING and job.bytes_done > 0 else None


def test_cancel_takes_effect_within_a_block_and_cleans_up(
    sim: Any,
    queue: TransferQueue,
    ref: ServerRef,
    sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:
    sim.faults.throttle(500_000)
    size = 20_000_000
    job_id = queue.add(
        upload_spec(ref, sim.default_library_id, make_file(tmp_path / "slow.iso", size))
    )
    reported: list[int] = []
    queue.add_listener(lambda job: reported.append(job.bytes_done) if job.id == job_id else None)
    before = wait_until(lambda: running_with_bytes(queue, job_id), 20, "bytes moving").bytes_done
    queue.cancel(job_id)
    job = queue.wait(job_id, 60)
    assert job.state is JobState.CANCELED
    # Counted in bytes, not seconds: the client checks the cancel before every block (at most
    # 1 MiB), so at most the block racing the request is read after it.
    assert max(reported) - before <= 2 * BLOCK, (before, max(reported))
    assert max(reported) < size
    sim.faults.throttle(None)
    assert active_sessions(sim_api_client) == []
    assert (
        sim_api_client.items.find(name="slow", library_id=sim.default_library_id) == ()
    )  # no empty item
    assert [r.outcome for r in queue.history()] == ["canceled"]


def test_pause_and_resume_a_download_keeps_the_partial_file(
    sim: Any,
    queue: TransferQueue,
    ref: ServerRef,
    sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:
    source = make_file(tmp_path / "p.bin", 8_000_000, seed=5)
    item = uploaded_item(queue, ref, sim.default_library_id, source)
    sim.faults.throttle(300_000)
    dest = tmp_path / "dl"
    job_id = queue.add(download_spec(ref, sim.default_library_id, item, dest))
    wait_until(lambda: running_with_bytes(queue, job_id), 20, "bytes moving")
    queue.pause(job_id)
    paused = queue.wait(job_id, 60)
    assert paused.state is JobState.PAUSED
    part = dest / "p.bin.part"
    kept = part.stat().st_size
    assert 0 < kept < source.stat().st_size
    assert part.read_bytes() == source.read_bytes()[:kept]  # the prefix, intact
    assert os.listdir(dest) == ["p.bin.part"]
    assert active_sessions(sim_api_client) == []
    resumed: list[JobSnapshot] = []
    queue.add_listener(lambda job: resumed.append(job) if job.id == job_id else None)
    sim.faults.throttle(None)
    queue.resume(job_id)
    done = queue.wait(job_id, 60)
    assert done.state is JobState.DONE and done.verification is Verification.VERIFIED
    assert (dest / "p.bin").read_bytes() == source.read_bytes()
    assert os.listdir(dest) == ["p.bin"]
    # Resumed with Range from the kept prefix: the progress never went back below it.
    moving = [j.bytes_done for j in resumed if j.state is JobState.RUNNING and j.bytes_done]
    assert moving and min(moving) >= kept, (kept, moving[:5])


def test_uploads_into_one_item_run_one_at_a_time(
    sim: Any,
    queue: TransferQueue,
    ref: ServerRef,
    sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:
    item = sim_api_client.items.create(sim.default_library_id, "serial", type="file")
    seen: list[int] = []
    lock = threading.Lock()
    running: set[int] = set()

    def watch(job: JobSnapshot) -> None:
        with lock:
            if job.state is JobState.RUNNING:
                running.add(job.id)
            else:
                running.discard(job.id)
            seen.append(len(running))

    queue.add_listener(watch)
    ids = [
        queue.add(upload_spec(ref, sim.default_library_id,
                              make_file(tmp_path / f"f{i}.bin", 2_000_000), item_id=item))
        for i in range(3)
    ]  # fmt: skip
    for job_id in ids:
        assert queue.wait(job_id, 60).state is JobState.DONE
    assert max(seen) == 1
    assert {f.name for f in sim_api_client.item_files.list(item)} == {"f0.bin", "f1.bin", "f2.bin"}


def test_history_exports_csv_and_json(
    sim: Any, queue: TransferQueue, ref: ServerRef, tmp_path: Path
) -> None:
    uploaded_item(queue, ref, sim.default_library_id, make_file(tmp_path / "h.iso", 1234))
    queue.export_history(tmp_path / "h.csv", "csv")
    queue.export_history(tmp_path / "h.json", "json")
    (row,) = list(csv.DictReader((tmp_path / "h.csv").open()))
    assert row["file"] == "h.iso" and row["bytes"] == "1234" and row["outcome"] == "done"
    assert row["checksum"].startswith("SHA1:") and row["session_id"] and row["user"] == USER
    (record,) = json.loads((tmp_path / "h.json").read_text())
    assert record["verification"] == "verified" and record["server"] == sim.base_url


def test_keep_alive_reports_growing_progress_well_inside_the_expiry(tmp_path: Path) -> None:
    """With a 6 s idle timeout the client must keep the session alive (every third of it) while
    a 6 s upload and a 6 s download run, with progress that only grows (the server refuses
    anything else): a proxy records every keep-alive's progress value. The expiry leaves 4 s of
    slack for a loaded machine."""
    from cl_desktop.transfers.control import RetryPolicy
    from tests.support.fault_proxy import FaultProxy
    from tests.support.jobs import started_queue
    from tests.support.servers import SimulatorServer

    with (
        SimulatorServer(tmp_path / "srv", users={USER: "secret"}, session_timeout=6.0) as service,
        FaultProxy(service.base_url) as proxy,
    ):
        queue = started_queue(tmp_path / "q.sqlite", retry_policy=RetryPolicy())
        queue.bandwidth_limit = 2_000_000
        ref = ServerRef(proxy.base_url, USER)
        try:
            source = make_file(tmp_path / "slow.iso", 12_000_000)
            up = queue.wait(queue.add(upload_spec(ref, service.default_library_id, source)), 60)
            sent = proxy.keep_alives()
            proxy.calls.clear()
            assert up.item_id is not None
            spec = download_spec(ref, service.default_library_id, up.item_id, tmp_path / "dl")
            down = queue.wait(queue.add(spec), 60)
            received = proxy.keep_alives()
        finally:
            queue.shutdown()
    for job in (up, down):
        assert job.state is JobState.DONE, job.error_message
        assert job.verification is Verification.VERIFIED
    for progress in (sent, received):
        assert len(progress) >= 2, progress
        assert progress == sorted(progress) and progress[0] > 0 and progress[-1] < 100, progress


def test_keep_alive_progress_never_goes_back_when_a_file_is_sent_again(tmp_path: Path) -> None:
    """A PUT dropped at 3/4 of the file is sent again from its start, so the progress it
    reaches is below what the keep-alives already reported; the server refuses a keep-alive
    whose progress does not grow, so those go without it. With 1 MiB blocks at 1 MB/s and a
    keep-alive every 2 s (a 6 s expiry), one went out at 2/3 or more before the drop and the
    resend reaches at most 1/2 at its first one, however slow the machine."""
    from cl_desktop.transfers.control import RetryPolicy
    from tests.support.fault_proxy import FaultProxy
    from tests.support.jobs import started_queue
    from tests.support.servers import SimulatorServer

    with (
        SimulatorServer(tmp_path / "srv", users={USER: "secret"}, session_timeout=6.0) as service,
        FaultProxy(service.base_url) as proxy,
    ):
        queue = started_queue(tmp_path / "q.sqlite", retry_policy=RetryPolicy(max_delay=0.5))
        queue.bandwidth_limit = 1_000_000
        service.faults.drop_after_bytes(9 * BLOCK // 2, which="upload")
        source = make_file(tmp_path / "again.iso", 6 * BLOCK)
        try:
            ref = ServerRef(proxy.base_url, USER)
            job = queue.wait(queue.add(upload_spec(ref, service.default_library_id, source)), 60)
        finally:
            queue.shutdown()
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    adds = [c for c in proxy.calls if c[0] == "POST" and c[1].endswith("/file") and not c[2]]
    assert len(adds) == 2, adds  # the file was added and sent again after the drop
    progress = proxy.keep_alives()
    assert len(progress) >= 2 and progress == sorted(set(progress)), progress
    assert progress[-1] < 100, progress


def test_a_corrupted_download_fails_loudly_and_leaves_no_file(
    sim: Any,
    queue: TransferQueue,
    ref: ServerRef,
    sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:
    source = make_file(tmp_path / "c.iso", 3_000_000, seed=11)
    item = uploaded_item(queue, ref, sim.default_library_id, source)
    sim.faults.corrupt_download(1_234_567)
    dest = tmp_path / "dl"
    job = queue.wait(queue.add(download_spec(ref, sim.default_library_id, item, dest)), 60)
    assert job.state is JobState.FAILED
    assert job.error_title == "Checksum mismatch"
    assert "SHA1 of the download is" in job.error_message
    assert os.listdir(dest) == []  # neither the final name nor a .part to resume from
    assert active_sessions(sim_api_client) == []
    again = queue.wait(queue.add(download_spec(ref, sim.default_library_id, item, dest)), 60)
    assert again.state is JobState.DONE and again.verification is Verification.VERIFIED
    assert (dest / "c.iso").read_bytes() == source.read_bytes()


def test_cl_transfer_exits_6_on_a_checksum_mismatch(sim: Any, tmp_path: Path) -> None:
    source = make_file(tmp_path / "d.iso", 500_000, seed=12)
    db = str(tmp_path / "q.sqlite")
    up = cli(sim.base_url, "--queue-db", db, "upload", "Local library/d", str(source), "--create")
    assert up.returncode == 0, up.stderr
    sim.faults.corrupt_download(7)
    down = cli(sim.base_url, "--queue-db", db, "download", "Local library/d",
               str(tmp_path / "out"))  # fmt: skip
    assert down.returncode == 6, down.stdout + down.stderr
    assert "Checksum mismatch" in down.stdout
    assert not (tmp_path / "out" / "d.iso").exists()
