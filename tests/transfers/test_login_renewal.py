"""Logins that end while transfers run: an expired one is renewed without failing the job or
restarting its file; a refused one (the password changed on the server) makes the account's jobs
wait for a new login, keeping their session and item; disconnecting pauses an account's jobs and
connecting again resumes them; a password in the keyring logs queued jobs in, and a refused one
is tried once, not in a loop (vCenter locks accounts after failed logins)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from cl_desktop.api import ContentLibraryClient
from cl_desktop.cli.errors import EXIT_FAILED
from cl_desktop.credentials.passwords import Passwords
from cl_desktop.services.connection import Connector
from cl_desktop.transfers.errors import NotConnected
from cl_desktop.transfers.jobs import JobState, Phase, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.cli import start_cli
from tests.support.files import make_file
from tests.support.jobs import download_spec, upload_spec, uploaded_item
from tests.support.servers import SimulatorServer
from tests.support.uploads import ServerLog, bytes_received, sessions_of
from tests.support.waiting import wait_until

SIZE = 5_000_000
RATE = 1_000_000  # bytes/s: a transfer of SIZE takes 5 s, in blocks of up to 1 MiB
# Uploads are slowed down on the client (the queue's or the CLI's bandwidth limit): a server
# that reads slowly would leave the whole file in the socket buffers at once, and the upload
# would send its keep-alives only after the PUT.
KEEP_ALIVE_TIMEOUT = 3.0  # the session timeout of `short_sim`: keep-alives every second


@pytest.fixture
def short_sim(tmp_path: Path) -> Iterator[Any]:
    """A service whose sessions expire after 3 idle seconds, so that a running transfer sends
    a keep-alive (an API call, which needs the login) every second while its bytes move."""
    with SimulatorServer(tmp_path / "short-sim", users={SIM_USER: SIM_PASSWORD},
                         session_timeout=KEEP_ALIVE_TIMEOUT) as service:  # fmt: skip
        yield service


@pytest.fixture
def server_log(short_sim: Any, monkeypatch: pytest.MonkeyPatch) -> ServerLog:
    return ServerLog(short_sim.backend, monkeypatch)


def connected(sim: Any, passwords: Passwords | None = None, password: str | None = SIM_PASSWORD
              ) -> tuple[Connector, ServerRef]:  # fmt: skip
    connector = Connector(passwords=passwords)
    ref = ServerRef(sim.base_url, SIM_USER)
    if password is not None:
        connector.set_password(ref, password)
    return connector, ref


@pytest.fixture
def queues(tmp_path: Path) -> Iterator[list[TransferQueue]]:
    """Queues the test makes with `new_queue`; shut down (and logged out) afterwards."""
    made: list[TransferQueue] = []
    yield made
    for queue in made:
        queue.shutdown()


def new_queue(made: list[TransferQueue], db: Path, connector: Connector,
              limit: int | None = None) -> TransferQueue:  # fmt: skip
    queue = TransferQueue(JobStore(db), connector, progress_interval=0.05, bandwidth_limit=limit)
    made.append(queue)
    queue.start()
    return queue


def logins(sim: Any, outcome: str = "accepted") -> int:
    return int(sim.login_counts(SIM_USER)[outcome])


def moving_session(sim: Any, more_than: int = 1_100_000) -> str:
    return wait_until(
        lambda: next((s for s in sessions_of(sim) if bytes_received(sim, s) > more_than), None),
        30, "the upload moving bytes",
    )  # fmt: skip


def expire_logins_mid_transfer(sim: Any, still_moving: Any) -> None:
    """Drop every login token, then wait for the transfer to log in again while its bytes are
    still on their way (a keep-alive renews it, not the next file)."""
    before = logins(sim)
    assert sim.faults.expire_logins() >= 1
    wait_until(lambda: logins(sim) > before, 30, "a renewed login")
    assert still_moving(), "the login was renewed only after the transfer"


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_an_expired_login_is_renewed_during_a_long_upload(
    short_sim: Any, server_log: ServerLog, tmp_path: Path, queues: list[TransferQueue]
) -> None:
    connector, ref = connected(short_sim)
    queue = new_queue(queues, tmp_path / "q.sqlite", connector, limit=RATE)
    source = make_file(tmp_path / "long.iso", SIZE, seed=3)
    job_id = queue.add(upload_spec(ref, short_sim.default_library_id, source))
    session_id = moving_session(short_sim)
    expire_logins_mid_transfer(short_sim, lambda: bytes_received(short_sim, session_id) < SIZE)

    job = queue.wait(job_id, 60)
    assert job.state is JobState.DONE, job.error_message
    assert [f.verification for f in job.files] == [Verification.VERIFIED]
    assert server_log.puts("long.iso") == 1  # the file was not sent again from its start
    assert logins(short_sim) >= 2 and logins(short_sim, "refused") == 0
    assert short_sim.backend.update_sessions == {}


@dataclass
class Download:
    """A download of image.iso (throttled by the service) under way into `dest`; `gets` and
    `served` record the data GETs and the byte counts the service sent."""

    connector: Connector
    ref: ServerRef
    queue: TransferQueue
    job_id: int
    source: Path
    dest: Path
    gets: list[str]
    served: list[int]


@pytest.fixture
def download(short_sim: Any, tmp_path: Path, queues: list[TransferQueue],
             monkeypatch: pytest.MonkeyPatch) -> Download:  # fmt: skip
    connector, ref = connected(short_sim)
    queue = new_queue(queues, tmp_path / "q.sqlite", connector)
    library = short_sim.default_library_id
    source = make_file(tmp_path / "image.iso", SIZE, seed=4)
    item_id = uploaded_item(queue, ref, library, source)
    gets: list[str] = []
    served: list[int] = []
    backend = short_sim.backend
    begin, note = backend.begin_download, backend.note_download
    monkeypatch.setattr(backend, "begin_download",
                        lambda token, name: gets.append(name) or begin(token, name))  # fmt: skip
    monkeypatch.setattr(backend, "note_download",
                        lambda ticket, n: served.append(n) or note(ticket, n))  # fmt: skip
    short_sim.faults.throttle(RATE)
    dest = tmp_path / "out"
    dest.mkdir()
    job_id = queue.add(download_spec(ref, library, item_id, dest))
    wait_until(lambda: queue.snapshot(job_id).bytes_done > 1_100_000, 30, "the download moving")
    return Download(connector, ref, queue, job_id, source, dest, gets, served)


def test_an_expired_login_is_renewed_during_a_long_download(
    short_sim: Any, download: Download
) -> None:
    queue, job_id, source, dest = download.queue, download.job_id, download.source, download.dest
    gets = download.gets
    expire_logins_mid_transfer(short_sim, lambda: queue.snapshot(job_id).bytes_done < SIZE)

    job = queue.wait(job_id, 60)
    assert job.state is JobState.DONE, job.error_message
    assert sha1(dest / "image.iso") == sha1(source)
    assert gets == ["image.iso"]  # one GET: not restarted
    assert logins(short_sim) >= 2  # the one the upload and download share, the renewal


@dataclass
class Running:
    """An upload of big.iso (throttled by the service) under way on `sim_service`."""

    server_log: ServerLog
    connector: Connector
    ref: ServerRef
    queue: TransferQueue
    job_id: int
    session_id: str


@pytest.fixture
def running(sim_service: Any, tmp_path: Path, queues: list[TransferQueue],
            monkeypatch: pytest.MonkeyPatch) -> Running:  # fmt: skip
    server_log = ServerLog(sim_service.backend, monkeypatch)
    connector, ref = connected(sim_service)
    queue = new_queue(queues, tmp_path / "q.sqlite", connector)
    source = make_file(tmp_path / "big.iso", SIZE, seed=5)
    sim_service.faults.throttle(RATE)
    job_id = queue.add(upload_spec(ref, sim_service.default_library_id, source))
    return Running(server_log, connector, ref, queue, job_id, moving_session(sim_service))


def test_a_password_changed_on_the_server_makes_the_job_wait_for_a_new_login(
    sim_service: Any, running: Running
) -> None:
    server_log, connector, ref, queue = (running.server_log, running.connector, running.ref,
                                         running.queue)  # fmt: skip
    job_id, session_id = running.job_id, running.session_id
    sim_service.set_password(SIM_USER, "changed")
    sim_service.faults.expire_logins()

    note = f"log in again to {ref.label}: the password was refused"
    waiting = wait_until(
        lambda: (job := queue.snapshot(job_id)).phase is Phase.WAITING_FOR_LOGIN and job,
        30, "the job waiting for a login",
    )  # fmt: skip
    assert (waiting.state, waiting.note, waiting.failure) == (JobState.QUEUED, note, None)
    assert waiting.session_id == session_id and session_id in sessions_of(sim_service)
    assert waiting.item_id and server_log.item_exists(waiting.item_id)
    assert logins(sim_service, "refused") == 1  # tried once, not again by every later call
    assert not connector.connected(ref)
    with pytest.raises(NotConnected):
        connector(ref)

    queue.server_connected(ref)  # a login event without a new password: still waits
    wait_until(lambda: (job := queue.snapshot(job_id)).phase is Phase.WAITING_FOR_LOGIN
               and job.state is JobState.QUEUED, 30, "waiting again")  # fmt: skip
    assert logins(sim_service, "refused") == 1

    sim_service.faults.throttle(None)
    connector.set_password(ref, "changed")
    queue.server_connected(ref)
    job = queue.wait(job_id, 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.item_id == waiting.item_id
    assert server_log.puts("big.iso") == 1  # received whole before: the session was reused
    assert [c[1] for c in server_log.of("create")] == [session_id]  # no second session
    assert sim_service.backend.update_sessions == {} and queue.pending_cleanups(ref) == []
    assert logins(sim_service, "refused") == 1


def test_disconnecting_pauses_the_accounts_jobs_and_connecting_resumes_them(
    sim_service: Any, running: Running, tmp_path: Path
) -> None:
    server_log, connector, ref, queue = (running.server_log, running.connector, running.ref,
                                         running.queue)  # fmt: skip
    library = sim_service.default_library_id
    queue.server_disconnected(ref)
    connector.disconnect(ref)
    later = queue.add(upload_spec(ref, library, make_file(tmp_path / "small.bin", 10_000)))
    for job_id in (running.job_id, later):
        job = wait_until(lambda j=job_id: (s := queue.snapshot(j)).phase
                         is Phase.WAITING_FOR_LOGIN and s, 30, "waiting for a login")  # fmt: skip
        assert job.state is JobState.QUEUED
    paused = queue.snapshot(running.job_id)
    assert paused.item_id and server_log.item_exists(paused.item_id)  # kept for the resume
    assert sim_service.backend.update_sessions == {}  # ended while still logged in
    assert sim_service.backend.logins == {}  # and then logged out
    assert not connector.connected(ref)
    with pytest.raises(NotConnected):
        connector(ref)

    sim_service.faults.throttle(None)
    connector.set_password(ref, SIM_PASSWORD)
    queue.server_connected(ref)
    for job_id in (running.job_id, later):
        job = queue.wait(job_id, 60)
        assert job.state is JobState.DONE, job.error_message
    assert queue.snapshot(running.job_id).item_id == paused.item_id
    assert sim_service.backend.update_sessions == {} and queue.pending_cleanups(ref) == []


def test_a_password_in_the_keyring_logs_a_queued_job_in(
    sim_service: Any, tmp_path: Path, queues: list[TransferQueue]
) -> None:
    passwords = Passwords()
    assert passwords.persistent  # the tests' in-memory keyring
    passwords.remember(sim_service.base_url, SIM_USER, SIM_PASSWORD)
    connector, ref = connected(sim_service, passwords, password=None)
    queue = new_queue(queues, tmp_path / "q.sqlite", connector)
    source = make_file(tmp_path / "a.bin", 10_000)
    job = queue.wait(queue.add(upload_spec(ref, sim_service.default_library_id, source)), 60)
    assert job.state is JobState.DONE, job.error_message
    assert connector.connected(ref) and logins(sim_service) == 1

    connector.disconnect(ref)  # the user's choice: the stored password waits for a login too
    assert not connector.connected(ref) and sim_service.backend.logins == {}
    with pytest.raises(NotConnected):
        connector(ref)
    connector.set_password(ref, SIM_PASSWORD)
    assert connector(ref).libraries.list() and connector.connected(ref)


def test_a_refused_keyring_password_is_not_tried_again(
    sim_service: Any, tmp_path: Path, queues: list[TransferQueue]
) -> None:
    passwords = Passwords()
    passwords.remember(sim_service.base_url, SIM_USER, "outdated")
    connector, ref = connected(sim_service, passwords, password=None)
    queue = new_queue(queues, tmp_path / "q.sqlite", connector)
    library = sim_service.default_library_id
    ids = [queue.add(upload_spec(ref, library, make_file(tmp_path / f"{n}.bin", 10_000, n)))
           for n in range(4)]  # fmt: skip

    def all_waiting() -> bool:
        return all(queue.snapshot(i).phase is Phase.WAITING_FOR_LOGIN for i in ids)

    wait_until(all_waiting, 30, "every job waiting for a login")
    assert "the password was refused" in queue.snapshot(ids[0]).note
    for _ in range(3):  # more login events (another account's, say) and cleanups
        queue.server_connected(ref)
        queue.perform_cleanups(ref)
        assert queue.wait_cleanups(30)
        wait_until(all_waiting, 30, "every job waiting again")
    assert logins(sim_service, "refused") == 1 and logins(sim_service) == 0
    assert all(queue.snapshot(i).state is JobState.QUEUED for i in ids)

    connector.set_password(ref, SIM_PASSWORD)  # the user logs in: the jobs run
    queue.server_connected(ref)
    assert all(queue.wait(i, 60).state is JobState.DONE for i in ids)


def test_several_workers_renew_an_expired_login_once(short_sim: Any) -> None:
    with ContentLibraryClient(short_sim.base_url, SIM_USER, SIM_PASSWORD) as client:
        short_sim.faults.expire_logins()
        before = logins(short_sim)
        start = threading.Barrier(6)
        failures: list[BaseException] = []

        def list_libraries() -> None:
            start.wait(10)
            try:
                client.libraries.list()
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=list_libraries) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert failures == [] and logins(short_sim) == before + 1


def test_cl_transfer_renews_an_expired_login_during_a_long_upload(
    short_sim: Any, server_log: ServerLog, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "cli.iso", SIZE, seed=7)
    proc = start_cli(short_sim.base_url, str(tmp_path / "q.sqlite"), "--limit", str(RATE / 1e6),
                     "upload", "Local library/cli", str(source), "--create")  # fmt: skip
    try:
        session_id = moving_session(short_sim)
        expire_logins_mid_transfer(short_sim, lambda: bytes_received(short_sim, session_id) < SIZE)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "done" in out
    assert server_log.puts("cli.iso") == 1
    assert logins(short_sim) >= 2 and short_sim.backend.update_sessions == {}


def test_a_password_changed_on_the_server_is_renewed_from_the_keyring(
    sim_service: Any, tmp_path: Path, queues: list[TransferQueue]
) -> None:
    passwords = Passwords()
    passwords.remember(sim_service.base_url, SIM_USER, "changed")  # saved by another login
    connector, ref = connected(sim_service, passwords)  # the window's login, in memory
    queue = new_queue(queues, tmp_path / "q.sqlite", connector)
    source = make_file(tmp_path / "big.iso", SIZE, seed=8)
    sim_service.faults.throttle(RATE)
    job_id = queue.add(upload_spec(ref, sim_service.default_library_id, source))
    moving_session(sim_service)
    sim_service.set_password(SIM_USER, "changed")
    sim_service.faults.expire_logins()
    sim_service.faults.throttle(None)
    job = queue.wait(job_id, 60)
    assert job.state is JobState.DONE, job.error_message
    assert logins(sim_service, "refused") == 1 and logins(sim_service) == 2


def test_cl_transfer_fails_once_when_its_password_is_refused_mid_upload(
    sim_service: Any, tmp_path: Path
) -> None:
    """The command line has only the password it started with: it fails, and does not hang
    waiting for a login that cannot come."""
    source = make_file(tmp_path / "cli.iso", SIZE, seed=9)
    sim_service.faults.throttle(RATE)
    proc = start_cli(sim_service.base_url, str(tmp_path / "q.sqlite"), "upload",
                     "Local library/cli", str(source), "--create")  # fmt: skip
    try:
        moving_session(sim_service)
        sim_service.set_password(SIM_USER, "changed")
        sim_service.faults.expire_logins()
        sim_service.faults.throttle(None)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == EXIT_FAILED, out + err
    assert "refused the password" in out + err and "Traceback" not in err
    assert logins(sim_service, "refused") == 1


def test_a_download_whose_password_is_refused_waits_and_resumes_its_part_file(
    short_sim: Any, download: Download
) -> None:
    connector, ref, queue, job_id = (
        download.connector,
        download.ref,
        download.queue,
        download.job_id,
    )
    source, dest, served = download.source, download.dest, download.served
    short_sim.set_password(SIM_USER, "changed")
    short_sim.faults.expire_logins()

    waiting = wait_until(
        lambda: (job := queue.snapshot(job_id)).phase is Phase.WAITING_FOR_LOGIN and job,
        30, "the download waiting for a login",
    )  # fmt: skip
    assert waiting.state is JobState.QUEUED and "the password was refused" in waiting.note
    part = dest / "image.iso.part"
    kept = part.stat().st_size
    assert 0 < kept < SIZE
    assert logins(short_sim, "refused") == 1

    short_sim.faults.throttle(None)
    connector.set_password(ref, "changed")
    queue.server_connected(ref)
    job = queue.wait(job_id, 60)
    assert job.state is JobState.DONE, job.error_message
    assert sha1(dest / "image.iso") == sha1(source) and not part.exists()
    assert sum(served) < SIZE + kept // 2  # resumed from the part file, not from byte 0
    assert short_sim.backend.download_sessions == {} and queue.pending_cleanups(ref) == []


def test_disconnecting_ends_a_paused_uploads_session_and_keeps_its_item(
    sim_service: Any, running: Running
) -> None:
    connector, ref, queue, job_id = running.connector, running.ref, running.queue, running.job_id
    queue.pause(job_id)
    paused = queue.wait(job_id, 30)
    assert paused.state is JobState.PAUSED and paused.session_id == running.session_id
    queue.server_disconnected(ref)
    connector.disconnect(ref)
    job = queue.snapshot(job_id)
    assert job.state is JobState.PAUSED and job.session_id is None
    assert "session ended" in job.note
    assert sim_service.backend.update_sessions == {} and sim_service.backend.logins == {}
    assert job.item_id and running.server_log.item_exists(job.item_id)

    sim_service.faults.throttle(None)
    connector.set_password(ref, SIM_PASSWORD)
    queue.server_connected(ref)
    queue.resume(job_id)
    done = queue.wait(job_id, 60)
    assert done.state is JobState.DONE and done.item_id == job.item_id, done.error_message


def test_the_control_api_changes_a_password(tmp_path: Path) -> None:
    """POST /_sim/password, for a simulator in another process (off unless asked for)."""
    with SimulatorServer(tmp_path / "ctl", users={SIM_USER: SIM_PASSWORD},
                         control_api=True) as service:  # fmt: skip
        url = service.base_url
        with _direct_http() as http:
            login = http.post(url + "/api/session", auth=(SIM_USER, SIM_PASSWORD), timeout=10)
            http.headers["vmware-api-session-id"] = login.json()
            change = {"user": SIM_USER, "password": "changed"}
            unknown = {"user": "nobody", "password": "x"}
            assert http.post(url + "/_sim/password", json=unknown, timeout=10).status_code == 404
            assert http.post(url + "/_sim/password", json={}, timeout=10).status_code == 400
            assert http.post(url + "/_sim/password", json=change, timeout=10).status_code == 204
            assert http.get(url + "/api/session", timeout=10).ok  # this login stays valid
        with _direct_http() as http:
            for password, status in ((SIM_PASSWORD, 401), ("changed", 201)):
                again = http.post(url + "/api/session", auth=(SIM_USER, password), timeout=10)
                assert again.status_code == status
        assert service.login_counts(SIM_USER) == {"accepted": 2, "refused": 1}


def _direct_http() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # no proxy between the test and 127.0.0.1
    return http
