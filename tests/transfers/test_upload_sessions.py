"""An upload's item and update session through pause, resume, app shutdown, a lost session and
an unreachable server: files already received are not sent again, the row shows what is really
kept, and an item the job created is deleted whenever the job ends without filling it."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import JobSnapshot, JobState, Verification
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.upload import choose_item_name
from tests.support.files import make_file
from tests.support.jobs import upload_spec
from tests.support.servers import SimulatorServer
from tests.support.uploads import PASSWORD, ServerLog, record_jobs, ref_for, sim_queue
from tests.support.waiting import wait_until

TIMEOUT = 3.0  # the service's session timeout: a pause must outlive it
SMALL, BIG = 300_000, 16_000_000  # BIG outgrows the socket buffers: a pause cuts it


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Any]:
    with SimulatorServer(tmp_path / "srv", users={"admin": PASSWORD},
                         session_timeout=TIMEOUT) as service:  # fmt: skip
        yield service


@pytest.fixture
def server(sim: Any, monkeypatch: pytest.MonkeyPatch) -> ServerLog:
    return ServerLog(sim.backend, monkeypatch)


@pytest.fixture
def queue(sim: Any, tmp_path: Path) -> Iterator[TransferQueue]:
    with sim_queue(tmp_path / "q.sqlite") as q:
        yield q


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return make_file(tmp_path / "a.bin", SMALL, seed=1), make_file(tmp_path / "b.bin", BIG, 2)


def start_pair(queue: TransferQueue, sim: Any, pair: tuple[Path, Path]) -> int:
    """An upload of a.bin and b.bin into a new item, throttled, running into b.bin."""
    sim.faults.throttle(1_000_000)
    job_id = queue.add(upload_spec(ref_for(sim.base_url), sim.default_library_id, *pair))
    wait_until(lambda: queue.snapshot(job_id).files[1:] and queue.snapshot(job_id).files[1].done,
               30, "b.bin on its way")  # fmt: skip
    return job_id


def pause(queue: TransferQueue, job_id: int) -> JobSnapshot:
    queue.pause(job_id)
    job = queue.wait(job_id, 30)
    assert job.state is JobState.PAUSED
    return job


def assert_kept(job: JobSnapshot, server: ServerLog) -> None:
    """A paused (or stopped) upload keeps item and session, shows only what the server has."""
    assert job.item_id and job.item_created and server.item_exists(job.item_id)
    assert job.session_id and server.active_sessions() == [job.session_id]
    assert [(f.name, f.done) for f in job.files] == [("a.bin", SMALL), ("b.bin", 0)]
    assert job.bytes_done == SMALL
    assert job.note == "b.bin will be sent again from its start (uploads cannot resume mid-file)"


def history_sessions(queue: TransferQueue) -> set[str]:
    return {r.session_id for r in queue.history() if r.outcome == "done"}


def test_pause_keeps_item_session_and_sent_files(
    sim: Any, server: ServerLog, queue: TransferQueue, pair: tuple[Path, Path]
) -> None:
    job_id = start_pair(queue, sim, pair)
    paused = pause(queue, job_id)
    assert_kept(paused, server)
    session = paused.session_id
    assert session is not None
    # the queue keeps the session alive well past the server's timeout
    watcher = ContentLibraryClient(sim.base_url, "admin", PASSWORD)
    until = datetime.now(UTC) + timedelta(seconds=3 * TIMEOUT)
    wait_until(lambda: (watcher.update_sessions.get(session).expiration_time or until) > until,
               60, "a session kept alive through the pause")  # fmt: skip
    assert len(server.of("keep_alive")) >= 2 and server.active_sessions() == [session]
    sim.faults.throttle(None)
    seen = record_jobs(queue)
    queue.resume(job_id)
    done = queue.wait(job_id, 60)
    assert done.state is JobState.DONE and done.verification is Verification.VERIFIED
    assert done.item_id == paused.item_id and history_sessions(queue) == {session}
    assert (server.puts("a.bin"), server.puts("b.bin")) == (1, 2)  # a.bin is not sent again
    first = next(s for s in seen if s.state is JobState.RUNNING)
    assert first.bytes_done == SMALL  # the row restarts from what is kept, not 0 or the old %
    assert all(s.bytes_done >= SMALL for s in seen if s.state is JobState.RUNNING)
    assert done.note == "" and server.active_sessions() == []
    watcher.close()


def test_app_shutdown_ends_the_session_and_keeps_the_item_for_the_next_start(
    sim: Any, server: ServerLog, tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    """Once the process ends nobody keeps the session alive: shutdown ends it (never an
    orphaned ACTIVE session, as after SIGTERM) but keeps the item; the next start sends the
    files again into that same item."""
    with sim_queue(tmp_path / "q.sqlite") as first:
        job_id = start_pair(first, sim, pair)
        old_session = first.snapshot(job_id).session_id
        first.shutdown()
        stopped = first.snapshot(job_id)
    assert stopped.state is JobState.QUEUED and old_session
    assert server.active_sessions() == [] and stopped.session_id is None
    assert stopped.item_id and stopped.item_created and server.item_exists(stopped.item_id)
    sim.faults.throttle(None)
    with sim_queue(tmp_path / "q.sqlite") as second:
        done = second.wait(job_id, 60)
        assert done.state is JobState.DONE, done.error_message
        assert history_sessions(second).isdisjoint({old_session})
    assert done.item_id == stopped.item_id
    assert (server.puts("a.bin"), server.puts("b.bin")) == (2, 2)
    assert server.empty_items(sim.default_library_id) == []


def test_closing_with_a_paused_upload_ends_its_session_and_keeps_the_item(
    sim: Any, server: ServerLog, tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    with sim_queue(tmp_path / "q.sqlite") as first:
        job_id = start_pair(first, sim, pair)
        paused = pause(first, job_id)
        assert server.active_sessions() == [paused.session_id]
        first.shutdown()
        closed = first.snapshot(job_id)
    assert server.active_sessions() == []  # no keeper after exit: never left ACTIVE
    assert closed.state is JobState.PAUSED and closed.session_id is None
    assert "sends the files again into the same item" in closed.note
    assert closed.item_id == paused.item_id and server.item_exists(paused.item_id or "")
    sim.faults.throttle(None)
    with sim_queue(tmp_path / "q.sqlite") as second:
        second.resume(job_id)
        done = second.wait(job_id, 60)
    assert done.state is JobState.DONE and done.verification is Verification.VERIFIED
    assert done.item_id == paused.item_id
    assert server.empty_items(sim.default_library_id) == []


def test_a_session_expired_during_the_pause_is_replaced_on_the_same_item(
    sim: Any, server: ServerLog, queue: TransferQueue, pair: tuple[Path, Path]
) -> None:
    queue.pause_keep_alive_limit = 0.0  # the keeper gives up at once: the session expires
    job_id = start_pair(queue, sim, pair)
    paused = pause(queue, job_id)
    wait_until(lambda: not server.session_exists(paused.session_id or ""), 60, "expiry")
    sim.faults.throttle(None)
    queue.resume(job_id)
    done = queue.wait(job_id, 60)
    assert done.state is JobState.DONE, done.error_message
    assert done.item_id == paused.item_id
    (new,) = history_sessions(queue)
    assert new != paused.session_id and done.session_id is None
    assert (server.puts("a.bin"), server.puts("b.bin")) == (2, 2)
    assert len(server.of("create")) == 2


def test_a_session_lost_mid_upload_is_replaced_on_the_same_item(
    sim: Any, server: ServerLog, queue: TransferQueue, pair: tuple[Path, Path]
) -> None:
    job_id = start_pair(queue, sim, pair)
    running = queue.snapshot(job_id)
    assert running.session_id and sim.faults.expire_session(running.session_id)
    sim.faults.throttle(None)
    done = queue.wait(job_id, 60)
    assert done.state is JobState.DONE, done.error_message
    assert done.verification is Verification.VERIFIED
    assert done.item_id == running.item_id and done.session_id is None
    (new,) = history_sessions(queue)
    assert new != running.session_id
    assert server.active_sessions() == [] and len(server.of("create")) == 2


@pytest.mark.parametrize("how", ["cancel", "remove"])
def test_cancel_or_remove_while_paused_deletes_the_item_on_a_worker(
    sim: Any, server: ServerLog, tmp_path: Path, pair: tuple[Path, Path], how: str
) -> None:
    callers: list[str] = []

    def connect(ref: Any) -> ContentLibraryClient:
        callers.append(threading.current_thread().name)
        return ContentLibraryClient(ref.url, "admin", PASSWORD)

    from cl_desktop.transfers.store import JobStore

    queue = TransferQueue(JobStore(tmp_path / "q.sqlite"), connect, progress_interval=0.02)
    queue.start()
    try:
        job_id = start_pair(queue, sim, pair)
        paused = pause(queue, job_id)
        assert paused.item_id and paused.session_id
        callers.clear()
        getattr(queue, how)(job_id)
        assert queue.wait_cleanups(30)
    finally:
        queue.shutdown()
    assert callers and threading.main_thread().name not in callers
    assert not server.item_exists(paused.item_id)
    assert ("cancel", paused.session_id) in server.calls
    assert not server.session_exists(paused.session_id)
    assert queue.pending_cleanups() == []


def test_resume_then_cancel_deletes_the_item_it_created(
    sim: Any, server: ServerLog, queue: TransferQueue, pair: tuple[Path, Path]
) -> None:
    """The job has stored its item id by then; the item is still its own to delete."""
    job_id = start_pair(queue, sim, pair)
    paused = pause(queue, job_id)
    queue.resume(job_id)
    wait_until(lambda: queue.snapshot(job_id).state is JobState.RUNNING, 30, "running again")
    queue.cancel(job_id)
    job = queue.wait(job_id, 30)
    assert job.state is JobState.CANCELED
    assert paused.item_id and not server.item_exists(paused.item_id)
    assert server.active_sessions() == [] and server.empty_items(sim.default_library_id) == []


def restart_on_same_port(sim: Any, port: int) -> None:
    sim.config = dataclasses.replace(sim.config, port=port)
    sim.start()


def test_an_unreachable_server_gets_its_cleanup_when_back(
    sim: Any, server: ServerLog, queue: TransferQueue, pair: tuple[Path, Path], tmp_path: Path
) -> None:
    job_id = start_pair(queue, sim, pair)
    paused = pause(queue, job_id)
    ref, port = ref_for(sim.base_url), sim.port
    sim.stop()
    queue.cancel(job_id)
    assert queue.wait_cleanups(60)
    assert queue.pending_cleanups(ref) == [
        ("update session", paused.session_id), ("item", paused.item_id)]  # fmt: skip
    assert server.item_exists(paused.item_id or "")  # nobody could delete it yet
    restart_on_same_port(sim, port)
    sim.faults.throttle(None)
    other = queue.wait(queue.add(upload_spec(ref_for(sim.base_url), sim.default_library_id,
                                             make_file(tmp_path / "c.bin", 1000))), 60)  # fmt: skip
    assert other.state is JobState.DONE, other.error_message
    assert queue.pending_cleanups() == []
    assert not server.item_exists(paused.item_id or "")
    assert not server.session_exists(paused.session_id or "")


def test_the_unique_name_used_is_recorded(sim: Any, queue: TransferQueue, tmp_path: Path) -> None:
    client = ContentLibraryClient(sim.base_url, "admin", PASSWORD)
    client.items.create(sim.default_library_id, "big-2g", type="iso")
    seen = record_jobs(queue)
    source = make_file(tmp_path / "big-2g.iso", 1000)
    spec = upload_spec(ref_for(sim.base_url), sim.default_library_id, source, unique_name=True)
    assert choose_item_name(spec, ["big-2g"]) == "big-2g (2)"  # what a confirmation shows
    job = queue.wait(queue.add(spec), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.item_id and client.items.get(job.item_id).name == "big-2g (2)"
    assert job.spec.item_name == "big-2g (2)" and job.spec.title.endswith("-> big-2g (2)")
    assert [r.item_name for r in queue.history()] == ["big-2g (2)"]
    # recorded the moment the item exists, before any byte moves
    first = next(s for s in seen if s.item_id)
    assert first.item_created and first.spec.item_name == "big-2g (2)" and first.bytes_done == 0
    client.close()


def test_a_killed_runs_live_session_is_reused(sim: Any, server: ServerLog, tmp_path: Path) -> None:
    """A process killed mid-upload leaves its job RUNNING with the session id: the next start
    goes on in that session (it is still ACTIVE) instead of cancelling it."""
    from cl_desktop.transfers.jobs import FileProgress
    from cl_desktop.transfers.store import JobStore

    client = ContentLibraryClient(sim.base_url, "admin", PASSWORD)
    item = client.items.create(sim.default_library_id, "crashed", type="file")
    session = client.update_sessions.create(item)
    source = make_file(tmp_path / "k.bin", 5000)
    spec = upload_spec(ref_for(sim.base_url), sim.default_library_id, source, item_id=item)
    store = JobStore(tmp_path / "q.sqlite")
    job_id = store.insert(spec, 1, 0.0)
    store.save(JobSnapshot(job_id, spec, JobState.RUNNING, position=1, item_id=item,
                           session_id=session, files=(FileProgress("k.bin", 5000),)))  # fmt: skip
    store.close()
    with sim_queue(tmp_path / "q.sqlite") as queue:
        done = queue.wait(job_id, 60)
        assert done.state is JobState.DONE, done.error_message
        assert history_sessions(queue) == {session}
    assert [c[1] for c in server.of("create")] == [session]  # no second session
    assert server.of("cancel") == [] and not server.session_exists(session)
    assert [f.name for f in client.item_files.list(item)] == ["k.bin"]
    client.close()
