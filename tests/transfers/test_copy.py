"""Copying items between libraries: between two embedded services (the bytes stream from the
source's download session into the target's update session, verified end to end), and within
one service (the server's own item copy, or streaming when the server refuses it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.control import RetryPolicy
from cl_desktop.transfers.errors import NotConnected
from cl_desktop.transfers.jobs import (
    Direction,
    FailureKind,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
)
from cl_desktop.transfers.ownership import session_owners
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.api import active_sessions
from tests.support.files import make_file
from tests.support.jobs import started_queue, upload_spec
from tests.support.servers import SimulatorServer
from tests.support.servers.process import SimulatorProcess
from tests.support.templates import make_template, template_files
from tests.support.waiting import wait_until

MiB = 1 << 20


def copy_spec(
    source: ServerRef,
    library_id: str,
    item_id: str,
    target: ServerRef | None,
    target_library_id: str,
    **kw: Any,
) -> JobSpec:
    return JobSpec(
        Direction.COPY,
        source,
        library_id,
        item_id=item_id,
        target_server=target,
        target_library_id=target_library_id,
        **kw,
    )


def client(base: str) -> ContentLibraryClient:
    return ContentLibraryClient(base, SIM_USER, SIM_PASSWORD)


def sparse_file(path: Path, size: int) -> Path:
    """`size` bytes that take no disk but a few pattern blocks (start, middle, end)."""
    block = hashlib.sha256(path.name.encode()).digest() * 2048  # 64 KiB
    with path.open("wb") as out:
        out.truncate(size)
        for at in (0, size // 2, size - len(block)):
            out.seek(at)
            out.write(block)
    return path


def sha1_of(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha1").hexdigest()


def files_of(c: ContentLibraryClient, item_id: str) -> dict[str, tuple[int, str]]:
    return {
        f.name: (f.size or 0, (f.checksum_info.checksum or "").lower() if f.checksum_info else "")
        for f in c.item_files.list(item_id)
    }


def items_named(c: ContentLibraryClient, library_id: str) -> dict[str, str]:
    return {m.name or "": m.id or "" for m in c.items.list_models(library_id)}


def no_session_left(*bases: str) -> bool:
    for base in bases:
        with client(base) as c:
            if active_sessions(c):
                return False
    return True


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[TransferQueue]:
    q = started_queue(tmp_path / "q.sqlite")
    yield q
    q.shutdown()


def upload(queue: TransferQueue, base: str, library_id: str, *paths: Path, **kw: Any) -> str:
    job = queue.wait(
        queue.add(upload_spec(ServerRef(base, SIM_USER), library_id, *paths, **kw)), 300
    )
    assert job.state is JobState.DONE, job.error_message
    assert job.item_id
    return job.item_id


def test_a_512_mib_item_and_a_template_are_copied_between_two_servers(
    sim_service: Any, sim_service_b: Any, queue: TransferQueue, tmp_path: Path
) -> None:
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    big = sparse_file(tmp_path / "big.iso", 512 * MiB)
    big_id = upload(queue, a, lib_a, big)
    with client(a) as c:
        c.items.update(big_id, description="the big one")
    descriptor = make_template(tmp_path / "tpl")
    template_id = upload(queue, a, lib_a, descriptor)
    with client(b) as c:  # the name is taken in the target: the copy gets "big (2)"
        c.items.create(lib_b, "big", type="iso")

    ref_a, ref_b = ServerRef(a, SIM_USER), ServerRef(b, SIM_USER)
    big_job = queue.add(copy_spec(ref_a, lib_a, big_id, ref_b, lib_b, item_name="big"))
    template_job = queue.add(copy_spec(ref_a, lib_a, template_id, ref_b, lib_b))
    copied_big = queue.wait(big_job, 300)
    copied_template = queue.wait(template_job, 300)

    for job in (copied_big, copied_template):
        assert job.state is JobState.DONE, job.error_message
        assert job.verification is Verification.VERIFIED
        assert "streamed through this computer" in job.note
    assert copied_big.spec.target_item_name == "big (2)"
    with client(a) as ca, client(b) as cb:
        target = cb.items.get(copied_big.item_id or "")
        assert (target.name, target.type, target.description) == ("big (2)", "iso", "the big one")
        assert files_of(cb, target.id or "") == files_of(ca, big_id)
        assert files_of(cb, target.id or "") == {"big.iso": (512 * MiB, sha1_of(big))}
        copied = files_of(cb, copied_template.item_id or "")
        assert copied == files_of(ca, template_id)
        expected = template_files(descriptor)
        assert {n: s for n, (s, _) in copied.items()} == {n: len(b) for n, b in expected.items()}
        for name, data in expected.items():
            assert copied[name][1] == hashlib.sha1(data).hexdigest()
        assert cb.items.get(copied_template.item_id or "").type == "ovf"
    assert no_session_left(a, b)


def test_a_copy_resumes_when_its_target_server_comes_back(sim_service: Any, tmp_path: Path) -> None:
    """The target stops mid-copy and starts again on its data: the job waits, reconnecting,
    then sends the file again (a new GET from the source) into a new session of its item."""
    target = SimulatorProcess(tmp_path / "target-data", {SIM_USER: SIM_PASSWORD}).start()
    a, b = sim_service.base_url, target.base_url
    queue = started_queue(
        tmp_path / "q.sqlite", retry_policy=RetryPolicy(reconnect_window=60.0, max_delay=1.0)
    )
    try:
        lib_a = sim_service.default_library_id
        with client(b) as c:
            lib_b = c.libraries.list()[0]
        source = make_file(tmp_path / "r.bin", 6_000_000, seed=7)
        item_id = upload(queue, a, lib_a, source)
        queue.bandwidth_limit = 1_000_000  # a few seconds, to stop the target in the middle
        job_id = queue.add(
            copy_spec(ServerRef(a, SIM_USER), lib_a, item_id, ServerRef(b, SIM_USER), lib_b)
        )
        wait_until(lambda: queue.snapshot(job_id).bytes_done > 500_000, 60, "bytes moving")
        target.stop()
        wait_until(lambda: queue.snapshot(job_id).phase is Phase.RECONNECTING, 30, "reconnecting")
        target.start()
        queue.bandwidth_limit = None
        job = queue.wait(job_id, 120)
        assert job.state is JobState.DONE, job.error_message
        assert job.verification is Verification.VERIFIED
        assert job.attempts == 1
        with client(a) as ca, client(b) as cb:
            assert files_of(cb, job.item_id or "") == files_of(ca, item_id)
            assert list(items_named(cb, lib_b)) == ["r.bin"]  # no empty item left behind
        wait_until(lambda: no_session_left(a, b), 10, "both sessions ended")
        assert queue.pending_cleanups() == []
    finally:
        queue.shutdown()
        target.kill()


def test_a_copy_within_one_server_is_done_by_the_server(
    sim_service: Any, queue: TransferQueue, tmp_path: Path
) -> None:
    a = sim_service.base_url
    ref = ServerRef(a, SIM_USER)
    lib = sim_service.default_library_id
    with client(a) as c:
        other = c.libraries.create_local("other", c.datastores.list()[0].datastore)
    item_id = upload(queue, a, lib, make_file(tmp_path / "disk.iso", 3_000_000, seed=2))
    job = queue.wait(queue.add(copy_spec(ref, lib, item_id, None, other)), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert job.note.startswith("copied by the server itself")
    assert job.session_id is None and job.source_session_id is None  # no bytes through here
    with client(a) as c:
        assert files_of(c, job.item_id or "") == files_of(c, item_id)
        assert c.items.get(job.item_id or "").library_id == other
        # into the same library: the copy gets a free name
        again = queue.wait(queue.add(copy_spec(ref, lib, item_id, ref, lib)), 60)
        assert again.state is JobState.DONE, again.error_message
        assert sorted(items_named(c, lib)) == ["disk", "disk (2)"]
        assert active_sessions(c) == []


def test_a_refused_server_copy_falls_back_to_streaming(tmp_path: Path) -> None:
    with SimulatorServer(tmp_path / "sim", users={SIM_USER: SIM_PASSWORD}) as service:
        service.config.item_copy = False  # as a server without the operation answers
        a, lib = service.base_url, service.default_library_id
        queue = started_queue(tmp_path / "q.sqlite")
        try:
            item_id = upload(queue, a, lib, make_file(tmp_path / "f.bin", 2_500_000, seed=5))
            ref = ServerRef(a, SIM_USER)
            job = queue.wait(queue.add(copy_spec(ref, lib, item_id, None, lib)), 60)
        finally:
            queue.shutdown()
        assert job.state is JobState.DONE, job.error_message
        assert job.verification is Verification.VERIFIED
        assert "the server refused to copy the item itself (OPERATION_NOT_FOUND" in job.note
        with client(a) as c:
            assert files_of(c, job.item_id or "") == files_of(c, item_id)
            assert sorted(items_named(c, lib)) == ["f.bin", "f.bin (2)"]
            assert active_sessions(c) == []


def test_a_cancelled_copy_leaves_no_item_and_no_session(
    sim_service: Any, sim_service_b: Any, queue: TransferQueue, tmp_path: Path
) -> None:
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    item_id = upload(queue, a, lib_a, make_file(tmp_path / "c.bin", 5_000_000, seed=9))
    queue.bandwidth_limit = 500_000
    job_id = queue.add(
        copy_spec(ServerRef(a, SIM_USER), lib_a, item_id, ServerRef(b, SIM_USER), lib_b)
    )
    wait_until(lambda: queue.snapshot(job_id).bytes_done > 200_000, 60, "bytes moving")
    running = queue.snapshot(job_id)
    assert running.session_id and running.source_session_id  # one session on each server
    # the session monitor counts both as the job's, each under its own server
    assert session_owners([running], ServerRef(a, SIM_USER)) == {running.source_session_id: running}
    assert session_owners([running], ServerRef(b, SIM_USER)) == {running.session_id: running}
    queue.cancel(job_id)
    job = queue.wait(job_id, 30)
    assert job.state is JobState.CANCELED
    with client(b) as cb:
        assert items_named(cb, lib_b) == {}
    assert no_session_left(a, b)


def test_a_source_that_drops_its_connection_is_read_again_with_range(
    sim_service: Any, sim_service_b: Any, queue: TransferQueue, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """The source's GET breaks mid-file: it is opened again from where it stopped while the
    target's PUT goes on (one PUT, not a new one from the start)."""
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    item_id = upload(queue, a, lib_a, make_file(tmp_path / "d.bin", 4_000_000, seed=11))
    sim_service.faults.drop_after_bytes(1_500_000, "download")
    caplog.set_level("INFO", logger="cl_desktop.transfers.copy")
    job = queue.wait(
        queue.add(copy_spec(ServerRef(a, SIM_USER), lib_a, item_id, ServerRef(b, SIM_USER), lib_b)),
        60,
    )
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    again = [r.getMessage() for r in caplog.records if "again from" in r.getMessage()]
    assert len(again) == 1 and "again from 1500000" in again[0], again
    assert not [r for r in caplog.records if r.getMessage().startswith("PUT of")]
    with client(a) as ca, client(b) as cb:
        assert files_of(cb, job.item_id or "") == files_of(ca, item_id)
    assert no_session_left(a, b)


def test_a_byte_corrupted_on_the_way_fails_the_copy_and_leaves_nothing(
    sim_service: Any, sim_service_b: Any, queue: TransferQueue, tmp_path: Path
) -> None:
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    item_id = upload(queue, a, lib_a, make_file(tmp_path / "x.bin", 2_000_000, seed=12))
    sim_service.faults.corrupt_download(at_byte=1_234_567)
    job = queue.wait(
        queue.add(copy_spec(ServerRef(a, SIM_USER), lib_a, item_id, ServerRef(b, SIM_USER), lib_b)),
        60,
    )
    assert job.state is JobState.FAILED
    assert job.failure is FailureKind.INTEGRITY, job.error_message
    assert "x.bin" in job.error_message and "SHA1" in job.error_message
    with client(b) as cb:
        assert items_named(cb, lib_b) == {}  # the item it made is gone again
    wait_until(lambda: no_session_left(a, b), 10, "both sessions ended")


def test_a_paused_copy_keeps_its_target_session_and_resumes_into_it(
    sim_service: Any, sim_service_b: Any, queue: TransferQueue, tmp_path: Path
) -> None:
    """Paused mid-file: the target's update session (with the files it holds whole) is kept
    alive and the source's download session ended; resumed, the copy ends in that session."""
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    descriptor = make_template(
        tmp_path / "tpl", disks=(("d1.vmdk", 300_000), ("d2.vmdk", 3_000_000)), manifest=False
    )
    item_id = upload(queue, a, lib_a, descriptor)
    queue.bandwidth_limit = 1_000_000
    job_id = queue.add(
        copy_spec(ServerRef(a, SIM_USER), lib_a, item_id, ServerRef(b, SIM_USER), lib_b)
    )
    wait_until(
        lambda: (
            dict((f.name, f.done) for f in queue.snapshot(job_id).files).get("d2.vmdk", 0) > 200_000
        ),
        60,
        "the second disk moving",
    )
    queue.pause(job_id)
    wait_until(lambda: queue.snapshot(job_id).state is JobState.PAUSED, 30, "paused")
    paused = queue.snapshot(job_id)
    assert paused.session_id and paused.source_session_id is None
    with client(a) as ca, client(b) as cb:
        assert active_sessions(ca) == []  # the source's session ended at the pause
        assert active_sessions(cb) == [paused.session_id]  # the target's kept for the resume
    queue.bandwidth_limit = None
    queue.resume(job_id)
    job = queue.wait(job_id, 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    with client(a) as ca, client(b) as cb:
        assert files_of(cb, job.item_id or "") == files_of(ca, item_id)
    assert no_session_left(a, b)


def test_a_copy_waits_for_a_login_to_its_target(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    """The window's queue holds jobs of servers nobody logged in to: a copy whose target is
    not connected waits for that login (named in its row), then runs."""
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    ref_a, ref_b = ServerRef(a, SIM_USER), ServerRef(b, SIM_USER)
    connected = {a}

    def connect(ref: ServerRef) -> ContentLibraryClient:
        if ref.url not in connected:
            raise NotConnected(f"not connected to {ref.label}")
        return client(ref.url)

    queue = TransferQueue(JobStore(tmp_path / "q.sqlite"), connect, progress_interval=0.02)
    queue.start()
    try:
        item_id = upload(queue, a, lib_a, make_file(tmp_path / "w.bin", 500_000, seed=13))
        job_id = queue.add(copy_spec(ref_a, lib_a, item_id, ref_b, lib_b))
        wait_until(
            lambda: queue.snapshot(job_id).note == f"waiting for login to {ref_b.label}",
            30,
            "the copy waiting for its target's login",
        )
        assert queue.snapshot(job_id).phase is Phase.WAITING_FOR_LOGIN
        connected.add(b)
        queue.server_connected(ref_b)
        job = queue.wait(job_id, 60)
    finally:
        queue.shutdown()
    assert job.state is JobState.DONE, job.error_message
    assert job.attempts == 1  # waiting was no failed run
    assert no_session_left(a, b)


def test_disconnecting_a_copys_target_stops_it_until_that_login_is_back(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    ref_a, ref_b = ServerRef(a, SIM_USER), ServerRef(b, SIM_USER)
    queue = started_queue(tmp_path / "q.sqlite")
    try:
        item_id = upload(queue, a, lib_a, make_file(tmp_path / "s.bin", 4_000_000, seed=14))
        queue.bandwidth_limit = 500_000
        job_id = queue.add(copy_spec(ref_a, lib_a, item_id, ref_b, lib_b))
        wait_until(lambda: queue.snapshot(job_id).bytes_done > 200_000, 60, "bytes moving")
        queue.server_disconnected(ref_b)  # returns once the job stopped and ended its sessions
        stopped = queue.snapshot(job_id)
        assert stopped.state is JobState.QUEUED and stopped.phase is Phase.WAITING_FOR_LOGIN
        assert stopped.note == f"waiting for login to {ref_b.label}"
        assert no_session_left(a, b)
        queue.bandwidth_limit = None
        queue.server_connected(ref_b)
        job = queue.wait(job_id, 60)
    finally:
        queue.shutdown()
    assert job.state is JobState.DONE, job.error_message
    with client(b) as cb:
        assert list(items_named(cb, lib_b)) == ["s.bin"]  # into the item it had made
    assert no_session_left(a, b)


@pytest.mark.parametrize("dialect", ["api", "rest"])
def test_a_copy_into_an_existing_item_leaves_only_the_sources_files(
    sim_service: Any, sim_service_b: Any, tmp_path: Path, dialect: Any
) -> None:
    """The target item had a file the source has not: the copy removes it in the same update
    session, so the target holds exactly the source's files (a compare finds nothing)."""
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    queue = TransferQueue(
        JobStore(tmp_path / "q.sqlite"),
        lambda ref: ContentLibraryClient(ref.url, SIM_USER, SIM_PASSWORD, dialect=dialect),
        progress_interval=0.02,
    )
    queue.start()
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    try:
        item_id = upload(queue, a, lib_a, make_file(tmp_path / "a" / "web.bin", 300_000, seed=1))
        stale = upload(
            queue,
            b,
            lib_b,
            make_file(tmp_path / "b" / "web.bin", 200_000, seed=2),
            make_file(tmp_path / "b" / "small.iso", 100_000, seed=3),
        )
        ref_a, ref_b = ServerRef(a, SIM_USER), ServerRef(b, SIM_USER)
        spec = copy_spec(ref_a, lib_a, item_id, ref_b, lib_b, target_item_id=stale)
        job = queue.wait(queue.add(spec), 60)
    finally:
        queue.shutdown()
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert "removes small.iso from the target item" in job.note
    with client(a) as ca, client(b) as cb:
        assert files_of(cb, stale) == files_of(ca, item_id)
    assert no_session_left(a, b)


def test_a_copy_onto_an_item_of_another_type_is_refused(
    sim_service: Any, sim_service_b: Any, queue: TransferQueue, tmp_path: Path
) -> None:
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    iso = upload(queue, a, lib_a, make_file(tmp_path / "small.iso", 100_000, seed=4))
    template = upload(queue, b, lib_b, make_template(tmp_path / "tpl"))
    with client(b) as cb:
        before = files_of(cb, template)
    spec = copy_spec(
        ServerRef(a, SIM_USER), lib_a, iso, ServerRef(b, SIM_USER), lib_b, target_item_id=template
    )
    job = queue.wait(queue.add(spec), 60)
    assert job.state is JobState.FAILED
    assert job.error_title == "Cannot copy there"
    assert "of type iso" in job.error_message and "of type ovf" in job.error_message
    assert job.session_id is None and job.source_session_id is None
    with client(b) as cb:
        assert files_of(cb, template) == before  # untouched
    assert no_session_left(a, b)


def test_a_copy_onto_itself_is_refused(
    sim_service: Any, queue: TransferQueue, tmp_path: Path
) -> None:
    a, lib = sim_service.base_url, sim_service.default_library_id
    item_id = upload(queue, a, lib, make_file(tmp_path / "same.iso", 100_000, seed=5))
    with client(a) as c:
        before = c.items.get(item_id).content_version
    ref = ServerRef(a, SIM_USER)
    job = queue.wait(queue.add(copy_spec(ref, lib, item_id, None, lib, target_item_id=item_id)), 60)
    assert job.state is JobState.FAILED
    assert job.error_title == "Cannot copy there"
    assert "is the item being copied" in job.error_message
    with client(a) as c:
        assert c.items.get(item_id).content_version == before  # not streamed into itself
        assert active_sessions(c) == []


def test_a_paused_copy_into_an_existing_item_still_removes_its_extra_files(
    sim_service: Any, sim_service_b: Any, queue: TransferQueue, tmp_path: Path
) -> None:
    """Resumed into the update session of its first run (which removed the extra file
    already), the copy ends with the source's files only."""
    a, b = sim_service.base_url, sim_service_b.base_url
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    item_id = upload(queue, a, lib_a, make_file(tmp_path / "a" / "p.bin", 3_000_000, seed=6))
    stale = upload(
        queue,
        b,
        lib_b,
        make_file(tmp_path / "b" / "p.bin", 100_000, seed=7),
        make_file(tmp_path / "b" / "extra.iso", 100_000, seed=8),
    )
    queue.bandwidth_limit = 1_000_000
    spec = copy_spec(
        ServerRef(a, SIM_USER), lib_a, item_id, ServerRef(b, SIM_USER), lib_b, target_item_id=stale
    )
    job_id = queue.add(spec)
    wait_until(lambda: queue.snapshot(job_id).bytes_done > 200_000, 60, "bytes moving")
    queue.pause(job_id)
    wait_until(lambda: queue.snapshot(job_id).state is JobState.PAUSED, 30, "paused")
    assert queue.snapshot(job_id).session_id  # the session that removed extra.iso is kept
    queue.bandwidth_limit = None
    queue.resume(job_id)
    job = queue.wait(job_id, 60)
    assert job.state is JobState.DONE, job.error_message
    with client(a) as ca, client(b) as cb:
        assert files_of(cb, stale) == files_of(ca, item_id)
    assert no_session_left(a, b)
