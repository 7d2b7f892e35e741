"""Every way an upload fails after its update session exists ends that session on the server
(fail with our message, then delete) and leaves no empty item the job created; a source that
changes while it is sent fails at once with "changed while uploading"; a read-only user's
upload fails once, clearly, without retrying."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.simulator.errors import ApiError
from cl_desktop.transfers.control import RetryPolicy
from cl_desktop.transfers.jobs import JobSnapshot, JobState, Phase
from cl_desktop.transfers.queue import TransferQueue
from tests.support.files import make_file
from tests.support.jobs import upload_spec
from tests.support.uploads import ServerLog, phases, record_jobs, ref_for, sim_queue
from tests.support.waiting import wait_until

NOT_RETRIED = {Phase.RETRYING, Phase.RECONNECTING, Phase.STALLED}


@pytest.fixture
def server(sim: Any, monkeypatch: pytest.MonkeyPatch) -> ServerLog:
    return ServerLog(sim.backend, monkeypatch)


@pytest.fixture
def queue(sim: Any, server: ServerLog, tmp_path: Path) -> Any:
    with sim_queue(tmp_path / "q.sqlite") as q:
        server.watch(q)
        yield q


def run(queue: TransferQueue, sim: Any, *paths: Path, timeout: float = 60) -> JobSnapshot:
    return queue.wait(queue.add(upload_spec(ref_for(sim.base_url), sim.default_library_id,
                                            *paths)), timeout)  # fmt: skip


def assert_session_failed_and_deleted(job: JobSnapshot, server: ServerLog, sim: Any) -> None:
    """The one session of the job was failed with our message, then deleted, and the item the
    job created was deleted, all before the row said failed (by the workflow itself, not by the
    queue's later cleanup); nothing is left."""
    assert job.state is JobState.FAILED, job
    (created,) = server.of("create")
    session = created[1]
    fails = server.of("fail")
    assert fails == [("fail", session, f"cl_desktop: {job.error_message}"[:1000])], server.calls
    assert ("delete", session) in server.calls
    assert server.calls.index(fails[0]) < server.calls.index(("delete", session))
    assert not server.session_exists(session)
    assert server.active_sessions() == []
    assert server.empty_items(sim.default_library_id) == []
    (deleted,) = server.of("delete_item")
    ended = server.calls.index(("job", str(job.id), JobState.FAILED.value))
    assert server.calls.index(("delete", session)) < ended, server.calls
    assert server.calls.index(deleted) < ended, server.calls
    assert job.session_id is None and job.item_id is None and job.verification is None


def test_a_put_that_fails_until_retries_run_out(
    sim: Any, server: ServerLog, tmp_path: Path
) -> None:
    server.before_put = lambda name: sim.faults.drop_after_bytes(1000, which="upload")
    policy = RetryPolicy(reconnect_window=2.0, max_delay=0.5)  # the window ends it soon
    with sim_queue(tmp_path / "q.sqlite", retry_policy=policy) as queue:
        server.watch(queue)
        job = run(queue, sim, make_file(tmp_path / "drop.iso", 300_000))
    assert job.error_title == "Server unreachable", job.error_message
    assert job.error_message.startswith(
        "upload drop.iso: the server has not answered for 2 s: the server closed the connection"
    ), job.error_message
    assert server.puts("drop.iso") > 1  # it was retried before giving up
    assert_session_failed_and_deleted(job, server, sim)


def test_a_file_the_server_refuses_on_validate(sim: Any, server: ServerLog, tmp_path: Path) -> None:
    """The disk is rewritten (same size, same mtime) after pre-flight checked it against the
    manifest: the server's check against the AddSpec checksum refuses it, validate says so.
    One PUT at a time, so that the disk is read after the descriptor's PUT arrived."""
    folder = tmp_path / "tpl"
    folder.mkdir()
    disk = make_file(folder / "d.vmdk", 50_000, seed=3)
    (folder / "t.ovf").write_text(
        '<Envelope xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References>'
        '<File ovf:href="d.vmdk" ovf:size="50000"/></References></Envelope>'
    )
    import hashlib

    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (folder / "t.ovf", disk)}
    (folder / "t.mf").write_text("".join(f"SHA256({n})= {h}\n" for n, h in sums.items()))
    before = disk.stat()

    def rewrite(name: str) -> None:
        if name == "t.ovf":  # the disk is read only after this PUT has been answered
            make_file(disk, 50_000, seed=4)
            os.utime(disk, ns=(before.st_atime_ns, before.st_mtime_ns))

    server.before_put = rewrite
    with sim_queue(tmp_path / "q.sqlite", retry_policy=RetryPolicy(parallel_puts=1)) as queue:
        server.watch(queue)
        job = run(queue, sim, folder / "t.ovf")
    assert job.error_message.startswith("the server did not accept the files: d.vmdk:")
    assert "Checksum mismatch for d.vmdk" in job.error_message
    assert_session_failed_and_deleted(job, server, sim)


def test_complete_refused(
    sim: Any, server: ServerLog, queue: TransferQueue, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def refuse(who: Any, session_id: str) -> None:
        raise ApiError("INVALID_ARGUMENT", "The item content could not be committed.")

    monkeypatch.setattr(sim.backend, "complete_update_session", refuse)
    job = run(queue, sim, make_file(tmp_path / "c.iso", 20_000))
    assert "The item content could not be committed." in job.error_message
    assert_session_failed_and_deleted(job, server, sim)


def test_bytes_damaged_on_the_way_are_a_checksum_mismatch(
    sim: Any, server: ServerLog, queue: TransferQueue, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    finish = sim.backend.finish_upload

    def damaged(ticket: Any, received: int, complete: bool, digests: dict[str, str],
                failure: str | None = None) -> bool:  # fmt: skip
        flipped = {k: format(int(v, 16) ^ 1, f"0{len(v)}x") for k, v in digests.items()}
        return finish(ticket, received, complete, flipped, failure)

    monkeypatch.setattr(sim.backend, "finish_upload", damaged)
    seen = record_jobs(queue)
    job = run(queue, sim, make_file(tmp_path / "x.iso", 30_000))
    assert job.error_title == "Checksum mismatch", job.error_message
    assert job.error_message.startswith("x.iso: the server received bytes whose SHA1 is")
    assert all(f.verification is None for s in seen for f in s.files)  # never "verified"
    assert_session_failed_and_deleted(job, server, sim)


def bytes_moving(queue: TransferQueue, job_id: int) -> bool:
    job = queue.snapshot(job_id)
    return job.state is JobState.RUNNING and job.bytes_done > 0


def test_a_source_truncated_while_uploading_fails_at_once(
    sim: Any, server: ServerLog, queue: TransferQueue, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "t.iso", 4_000_000)
    sim.faults.throttle(1_000_000)
    seen = record_jobs(queue)
    job_id = queue.add(upload_spec(ref_for(sim.base_url), sim.default_library_id, source))
    wait_until(lambda: bytes_moving(queue, job_id), 30, "bytes moving")
    os.truncate(source, 100_000)
    # before: the server waited for the missing bytes, a read timeout (60 s) and retries
    job = queue.wait(job_id, 45)
    assert job.error_title == "Local file changed"
    assert job.error_message.startswith("t.iso changed while uploading")
    assert job.attempts == 1 and not (phases(seen) & NOT_RETRIED)
    assert server.puts("t.iso") == 1
    assert_session_failed_and_deleted(job, server, sim)


def test_a_source_appended_to_while_uploading_is_not_verified(
    sim: Any, server: ServerLog, queue: TransferQueue, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "g.iso", 3_000_000)
    sim.faults.throttle(1_000_000)
    seen = record_jobs(queue)
    job_id = queue.add(upload_spec(ref_for(sim.base_url), sim.default_library_id, source))
    wait_until(lambda: bytes_moving(queue, job_id), 30, "bytes moving")
    with source.open("ab") as out:
        out.write(b"more")
    job = queue.wait(job_id, 45)
    assert job.error_message.startswith("g.iso changed while uploading")
    assert all(f.verification is None for s in seen for f in s.files)
    assert_session_failed_and_deleted(job, server, sim)


def test_a_source_changed_between_preflight_and_its_put(
    sim: Any, server: ServerLog, tmp_path: Path
) -> None:
    first = make_file(tmp_path / "a.bin", 20_000, seed=1)
    second = make_file(tmp_path / "b.bin", 20_000, seed=2)
    server.before_put = lambda name: name == "a.bin" and second.write_bytes(b"shorter") and None
    # one PUT at a time: b.bin is checked after a.bin's PUT arrived (and changed it)
    with sim_queue(tmp_path / "q.sqlite", retry_policy=RetryPolicy(parallel_puts=1)) as queue:
        server.watch(queue)
        job = run(queue, sim, first, second)
    assert job.error_message.startswith("b.bin changed while uploading")
    assert server.puts("b.bin") == 0
    assert_session_failed_and_deleted(job, server, sim)


def test_a_read_only_users_upload_fails_once_clearly(
    sim: Any, server: ServerLog, tmp_path: Path
) -> None:
    with sim_queue(tmp_path / "r.sqlite", user="reader") as queue:
        seen = record_jobs(queue)
        spec = upload_spec(ref_for(sim.base_url, "reader"), sim.default_library_id,
                           make_file(tmp_path / "r.iso", 1000))  # fmt: skip
        job = queue.wait(queue.add(spec), 60)
    assert job.state is JobState.FAILED
    assert job.error_title == "Permission denied", job.error_message
    assert "reader" in job.error_message and "ContentLibrary" in job.error_message, job
    assert job.attempts == 1 and not (phases(seen) & NOT_RETRIED)
    assert server.of("create") == []
    assert server.empty_items(sim.default_library_id) == []
    assert [r.outcome for r in queue.history()] == ["failed"]
