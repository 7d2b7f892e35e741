"""The fault matrix (docs/RELIABILITY.md): faults x operations x dialects, each cell with the
outcome it must have, and every cell checked by the same invariants (check_invariants):
nothing corrupt or partial under a final name, no .part without a job to continue it, no
ACTIVE session, no empty item the job created, and a failure message a person can act on.

Operations: `upload` (one file into a new item), `ovf` (.ovf + .vmdk + .mf into a new item),
`download` (an item's file into a folder). Dialects: `api` (the simulator serves /api and
/rest; the client detects /api) and `rest` (only /rest is served, as on vCenter before 7.0U2).
Files are small; faults that must strike mid-transfer throttle the server until the first
bytes have moved, strike, and lift the throttle.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.control import RetryPolicy
from cl_desktop.transfers.jobs import JobSnapshot, JobSpec, JobState, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from tests.support.fault_proxy import FaultProxy, ProxyRule
from tests.support.files import make_file
from tests.support.jobs import download_spec, upload_spec
from tests.support.matrix import Leftovers, check_invariants, check_message, tmpfs
from tests.support.servers import SimulatorServer
from tests.support.servers.process import SimulatorProcess
from tests.support.waiting import wait_until

USER, PASSWORD = "admin", "secret"
SIZE = 3 * 1024 * 1024  # the file every operation moves: 3 blocks of the engine's 1 MiB
SLOW = 1024 * 1024  # bytes/s while a mid-transfer fault waits for the first block
WAIT = 60.0  # the most any cell waits for its job (generous: the machine is shared)
BIG = {"upload": "disk.iso", "ovf": "tpl-disk1.vmdk", "download": "data.bin"}


# Short settings so the matrix stays fast: 10 s to reconnect, stalled after 0.5 s with under
# 64 KiB moved, failed after 2 s stalled, retries 0.1 s apart at first and at most 0.5 s.
POLICY = RetryPolicy(reconnect_window=10.0, stall_seconds=0.5, stall_limit=2.0, base_delay=0.1,
                     max_delay=0.5)  # fmt: skip
LOGIN_BACKOFF = 0.05  # the client's own quick tries of a login (0.5 s apart by default)


# --- the environment of one cell ------------------------------------------------------------------


@dataclass
class Env:
    """One cell's server (in-process or a process), optional fault proxy, queue and files."""

    tmp: Path
    dialect: str
    server: Any = None  # ContentLibraryService (in-process) or SimulatorProcess
    proxy: FaultProxy | None = None
    queue: TransferQueue | None = None
    admin: ContentLibraryClient | None = None
    library_id: str = ""
    url: str = ""  # what the client talks to (the proxy when there is one)
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    @property
    def faults(self) -> Any:
        return self.server.faults

    def client(self) -> ContentLibraryClient:
        return ContentLibraryClient(self.url, USER, PASSWORD, dialect=self.dialect,
                                    login_backoff=LOGIN_BACKOFF)  # fmt: skip

    def ref(self) -> ServerRef:
        return ServerRef(self.url, USER, self.dialect)

    def throttle(self, bps: int | None) -> None:
        if isinstance(self.server, SimulatorProcess):
            self.server.faults(throttle=bps)
        else:
            self.server.faults.throttle(bps)

    def start_queue(self) -> TransferQueue:
        clients: list[ContentLibraryClient] = []

        def connect(ref: ServerRef) -> ContentLibraryClient:
            c = self.client()
            clients.append(c)
            return c

        self.queue = TransferQueue(
            JobStore(self.tmp / "queue.sqlite"),
            connect,
            progress_interval=0.02,
            retry_policy=POLICY,
        )
        self.queue.start()
        self.cleanups.append(lambda: [c.close() for c in clients])
        self.cleanups.append(self.queue.shutdown)
        return self.queue


@pytest.fixture
def env_factory(tmp_path: Path) -> Iterator[Callable[..., Env]]:
    envs: list[Env] = []

    def make(dialect: str, *, process: bool = False, proxy: bool = False) -> Env:
        env = Env(tmp_path, dialect)
        envs.append(env)
        if process:
            served = "both" if dialect == "api" else "rest"
            sim = SimulatorProcess(tmp_path / "sim-data", {USER: PASSWORD}, dialect=served,
                                   control_api=True).start()  # fmt: skip
            env.server = sim
            env.cleanups.append(sim.kill)  # the cell is over: no need to wait for a clean exit
        else:
            dialects = ("api", "rest") if dialect == "api" else ("rest",)
            holder = SimulatorServer(tmp_path / "sim-data", dialects=dialects,
                                     users={USER: PASSWORD})  # fmt: skip
            env.server = holder.start()
            env.cleanups.append(holder.stop)
        env.url = env.server.base_url
        if proxy:
            env.proxy = FaultProxy(env.url).__enter__()
            env.cleanups.append(lambda: env.proxy.__exit__(None, None, None))  # type: ignore[union-attr]
            env.url = env.proxy.base_url
        env.admin = ContentLibraryClient(env.server.base_url, USER, PASSWORD, dialect=dialect)
        env.cleanups.append(env.admin.close)
        env.library_id = next(
            m.id for m in env.admin.libraries.list_models() if m.name == "Local library"
        )
        env.start_queue()
        if env.proxy is not None:  # first of all: free held connections so the queue can stop
            env.cleanups.append(env.proxy.release.set)
        return env

    yield make
    for env in reversed(envs):
        for cleanup in reversed(env.cleanups):
            cleanup()


# --- operations ---------------------------------------------------------------------------------


@dataclass
class Operation:
    spec: JobSpec
    left: Leftovers
    big: str  # the file a mid-transfer fault strikes


def prepare(env: Env, op: str, *, name: str | None = None) -> Operation:
    """The files and the job spec of `op`, plus what check_invariants needs to know."""
    assert env.admin is not None and env.queue is not None
    src = env.tmp / "src"
    src.mkdir(exist_ok=True)
    if op == "download":
        data = make_file(src / "data.bin", SIZE, seed=3)
        seeded = env.queue.wait(env.queue.add(upload_spec(ServerRef(env.server.base_url, USER,
                                env.dialect), env.library_id, data)), WAIT)  # fmt: skip
        assert seeded.state is JobState.DONE and seeded.item_id, seeded.error_message
        dest = env.tmp / "dest"
        left = Leftovers({"data.bin": data.read_bytes()}, env.library_id,
                         set(env.admin.items.list(env.library_id)), dest=dest)  # fmt: skip
        spec = download_spec(env.ref(), env.library_id, seeded.item_id, dest)
        return Operation(spec, left, BIG[op])
    before = set(env.admin.items.list(env.library_id))
    if op == "upload":
        path = make_file(src / (name or "disk.iso"), SIZE, seed=4)
        sources = {path.name: path.read_bytes()}
    else:
        disk = make_file(src / "tpl-disk1.vmdk", SIZE, seed=5)
        ovf = src / "tpl.ovf"
        ovf.write_text(
            '<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" '
            'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References>'
            f'<File ovf:href="{name or disk.name}" ovf:id="f1" ovf:size="{SIZE}"/>'
            "</References></Envelope>"
        )
        sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (ovf, disk)}
        (src / "tpl.mf").write_text("".join(f"SHA256({n})= {h}\n" for n, h in sums.items()))
        path = ovf
        sources = {p.name: p.read_bytes() for p in (ovf, disk)}
    spec = upload_spec(env.ref(), env.library_id, path)
    return Operation(spec, Leftovers(sources, env.library_id, before), BIG[op])


def bytes_moving(env: Env, job_id: int, operation: Operation) -> JobSnapshot | None:
    """The job runs and its big file has begun to arrive (seen by the server or on disk: the
    engine reports progress per 1 MiB block)."""
    assert env.queue is not None
    job = env.queue.snapshot(job_id)
    if job.state.finished:
        raise AssertionError(f"job ended before the fault: {job.error_message}")
    if job.state is JobState.RUNNING and receiving(env, operation):
        return env.queue.snapshot(job_id)
    return None


def run_mid_transfer(env: Env, operation: Operation, strike: Callable[[JobSnapshot], None]
                     ) -> JobSnapshot:  # fmt: skip
    """Start the job slowly, strike once its big file moves, then let it run at full speed."""
    assert env.queue is not None
    env.throttle(SLOW)
    job_id = env.queue.add(operation.spec)
    running = wait_until(lambda: bytes_moving(env, job_id, operation), WAIT, "the first bytes")
    strike(running)
    env.throttle(None)
    return env.queue.wait(job_id, WAIT)


def run_plain(env: Env, operation: Operation) -> JobSnapshot:
    assert env.queue is not None
    return env.queue.wait(env.queue.add(operation.spec), WAIT)


# --- outcomes -----------------------------------------------------------------------------------


def assert_done(env: Env, job: JobSnapshot, operation: Operation) -> None:
    """Completed and verified: the other side holds exactly the source bytes."""
    assert job.state is JobState.DONE, f"{job.state.value}: {job.error_title}: {job.error_message}"
    assert job.verification is Verification.VERIFIED
    left = operation.left
    if left.dest is not None:
        assert sorted(os.listdir(left.dest)) == sorted(left.sources)
        for name, data in left.sources.items():
            assert (left.dest / name).read_bytes() == data
    else:
        assert env.admin is not None and job.item_id is not None
        stored = {f.name for f in env.admin.item_files.list(job.item_id)}
        assert stored == set(left.sources), stored


def assert_failed(job: JobSnapshot, reason: str) -> None:
    assert job.state is JobState.FAILED, f"{job.state.value}, expected a failure /{reason}/"
    check_message(job, reason)


def finish(env: Env, job: JobSnapshot, operation: Operation, reason: str | None) -> None:
    """The cell's outcome (None: completed and verified), then the shared invariants."""
    if reason is None:
        assert_done(env, job, operation)
    else:
        assert_failed(job, reason)
    assert env.admin is not None
    check_invariants(env.admin, job, operation.left)


# --- the cells ----------------------------------------------------------------------------------

OPS = ("upload", "ovf", "download")
DIALECTS = ("api", "rest")


def cells(fault: str, ops: tuple[str, ...] = OPS) -> list[Any]:
    """pytest params `op-dialect` of one fault."""
    return [pytest.param(op, d, id=f"{fault}-{op}-{d}") for op in ops for d in DIALECTS]


def direction(op: str) -> str:
    return "download" if op == "download" else "upload"


def through_proxy(env_factory: Any, op: str, dialect: str, rule: ProxyRule,
                  reason: str | None = None) -> None:  # fmt: skip
    """A cell whose fault is one proxy rule, armed before the job starts; it must strike."""
    env = env_factory(dialect, proxy=True)
    operation = prepare(env, op)
    env.proxy.arm(rule)
    job = run_plain(env, operation)
    assert env.proxy.applied[:1] == [f"{rule.kind}:{rule.which}"], "the fault never struck"
    finish(env, job, operation, reason)


@pytest.mark.parametrize(("op", "dialect"), cells("reset"))
def test_connection_reset_at_an_offset(env_factory: Any, op: str, dialect: str) -> None:
    """RST after 200 KB of the data transfer: sent again (upload) or resumed with Range."""
    through_proxy(env_factory, op, dialect, ProxyRule("reset", direction(op), after_bytes=200_000))


@pytest.mark.parametrize(("op", "dialect"), cells("burst-503"))
def test_503_burst(env_factory: Any, op: str, dialect: str) -> None:
    env = env_factory(dialect)
    operation = prepare(env, op)
    env.faults.fail_next(2)
    finish(env, run_plain(env, operation), operation, None)


@pytest.mark.parametrize(("op", "dialect"), cells("burst-500"))
def test_500_burst(env_factory: Any, op: str, dialect: str) -> None:
    through_proxy(env_factory, op, dialect, ProxyRule("status", "api", status=500, count=2))


@pytest.mark.parametrize(("op", "dialect"), cells("401-data"))
def test_401_on_the_data_url(env_factory: Any, op: str, dialect: str) -> None:
    """The data PUT/GET answered 401 (the login expired under it): log in again, go on."""
    through_proxy(env_factory, op, dialect, ProxyRule("status", direction(op), status=401))


@pytest.mark.parametrize(("op", "dialect"), cells("login-expiry"))
def test_logins_expire_mid_transfer(env_factory: Any, op: str, dialect: str) -> None:
    env = env_factory(dialect)
    operation = prepare(env, op)
    job = run_mid_transfer(env, operation, lambda _: env.faults.expire_logins())
    finish(env, job, operation, None)


@pytest.mark.parametrize(("op", "dialect"), cells("session-expiry"))
def test_session_expires_mid_transfer(env_factory: Any, op: str, dialect: str) -> None:
    env = env_factory(dialect)
    operation = prepare(env, op)
    job = run_mid_transfer(
        env, operation, lambda running: env.faults.expire_session(running.session_id)
    )
    finish(env, job, operation, None)


@pytest.mark.parametrize(("op", "dialect"), cells("server-restart"))
def test_server_killed_and_restarted(env_factory: Any, op: str, dialect: str) -> None:
    """kill -9 mid-transfer, down 1 s plus the start (a restart within a second used to fail
    the job), started again on the same port and data dir."""
    env = env_factory(dialect, process=True)
    operation = prepare(env, op)

    def strike(_: JobSnapshot) -> None:
        env.server.kill()
        threading.Event().wait(1.0)  # the outage is the fault (vCenter's take longer)
        env.server.start()

    job = run_mid_transfer(env, operation, strike)
    env.admin.login()
    finish(env, job, operation, None)


@pytest.mark.parametrize(("op", "dialect"), cells("server-frozen"))
def test_server_frozen_then_thawed(env_factory: Any, op: str, dialect: str) -> None:
    """SIGSTOP mid-transfer for 1 s (twice the stall setting, half the stall limit), then
    SIGCONT: the stall is noticed, retried, and the job completes."""
    env = env_factory(dialect, process=True)
    operation = prepare(env, op)

    def strike(_: JobSnapshot) -> None:
        env.server.freeze()
        threading.Event().wait(1.0)  # the freeze is the fault
        env.server.thaw()

    finish(env, run_mid_transfer(env, operation, strike), operation, None)


def cli_args(env: Env, *args: str) -> list[str]:
    db = str(env.tmp / "cli.sqlite")
    return [sys.executable, "-m", "cl_desktop.cli", "--server", env.url, "--user",
            USER, "--dialect", env.dialect, "--queue-db", db, *args]  # fmt: skip


@pytest.mark.parametrize(("op", "dialect"), cells("client-killed"))
def test_client_killed_then_resumed(env_factory: Any, op: str, dialect: str) -> None:
    """`cl-transfer` killed with SIGKILL mid-transfer; `cl-transfer resume` finishes the job."""
    env = env_factory(dialect)
    operation = prepare(env, op)
    spec = operation.spec
    if op == "download":
        args = cli_args(env, "download", spec.item_id or "", spec.dest_dir)
    else:
        args = cli_args(env, "upload", f"Local library/{'tpl' if op == 'ovf' else 'disk'}",
                        spec.paths[0], "--create")  # fmt: skip
    environ = {**os.environ, "CL_PASSWORD": PASSWORD}
    env.throttle(SLOW)
    proc = subprocess.Popen(args, env=environ, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        wait_until(lambda: proc.poll() is not None or receiving(env, operation), WAIT,
                   "the first bytes")  # fmt: skip
    finally:
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"cl-transfer ended by itself: {stderr}"
    env.throttle(None)
    resumed = subprocess.run(cli_args(env, "resume"), env=environ, capture_output=True,
                             text=True, timeout=WAIT, stdin=subprocess.DEVNULL)  # fmt: skip
    assert "Traceback" not in resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    (job,) = JobStore(env.tmp / "cli.sqlite").load()
    finish(env, job, operation, None)


def retry_from_the_part(env: Env, job: JobSnapshot, operation: Operation) -> None:
    """A failed download kept its .part for Retry: Retry continues from it and completes."""
    assert env.queue is not None
    part = Path(operation.spec.dest_dir) / "data.bin.part"
    assert part.stat().st_size > 0, "no bytes kept to resume from"
    env.queue.retry(job.id)
    wait_until(lambda: env.queue.snapshot(job.id).state.finished, WAIT, "the retry")
    operation.left.resumable = False
    finish(env, env.queue.snapshot(job.id), operation, None)


def receiving(env: Env, operation: Operation) -> bool:
    """The transfer of the big file has begun (seen from the server or the disk)."""
    if operation.left.dest is not None:
        part = Path(operation.spec.dest_dir) / "data.bin.part"
        return part.exists() and part.stat().st_size > 0
    assert env.admin is not None
    for sid in env.admin.update_sessions.list():
        for f in env.admin.update_session_files.list(sid):
            if f.name == operation.big and (f.bytes_transferred or 0) > 0:
                return True
    return False


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: f"disk-full-download-{d}")
def test_disk_full_mid_download(env_factory: Any, dialect: str, tmp_path: Path) -> None:
    """The destination fills up mid-download: failed with the reason, the .part kept for the
    retry, which completes once there is room."""
    env = env_factory(dialect)
    with tmpfs(tmp_path / "small", 4 * 1024 * 1024) as mount:
        if mount is None:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        operation = prepare(env, "download")
        operation.spec = download_spec(env.ref(), env.library_id, operation.spec.item_id or "",
                                       mount)  # fmt: skip
        operation.left.dest = mount
        filler = mount / "filler"

        def fill(_: JobSnapshot) -> None:
            with filler.open("wb") as out:
                try:
                    while True:
                        out.write(b"\0" * 65536)
                        out.flush()
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC

        operation.left.extra_ok = {"filler"}
        operation.left.resumable = True
        job = run_mid_transfer(env, operation, fill)
        finish(env, job, operation, r"disk .*full")
        filler.unlink()
        retry_from_the_part(env, job, operation)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: f"dest-not-writable-download-{d}")
def test_destination_not_writable(env_factory: Any, dialect: str, tmp_path: Path) -> None:
    env = env_factory(dialect)
    with tmpfs(tmp_path / "ro", 1024 * 1024, read_only=True) as mount:
        if mount is None:
            pytest.skip("cannot mount a read-only tmpfs here (needs root)")
        operation = prepare(env, "download")
        operation.spec = download_spec(env.ref(), env.library_id, operation.spec.item_id or "",
                                       mount)  # fmt: skip
        operation.left.dest = mount
        finish(env, run_plain(env, operation), operation, r"not writable|read-only")


@pytest.mark.parametrize(("op", "dialect"), cells("source-changed", ("upload", "ovf")))
def test_source_changed_while_uploading(env_factory: Any, op: str, dialect: str) -> None:
    env = env_factory(dialect)
    operation = prepare(env, op)
    big = env.tmp / "src" / operation.big

    def grow(_: JobSnapshot) -> None:
        with big.open("ab") as out:
            out.write(b"appended while uploading")

    job = run_mid_transfer(env, operation, grow)
    finish(env, job, operation, r"changed while uploading")


@pytest.mark.parametrize(("op", "dialect"), cells("checksum-mismatch"))
def test_checksum_mismatch(env_factory: Any, op: str, dialect: str) -> None:
    """One byte flipped in transit (the server's copy for downloads, the PUT body for uploads)."""
    env = env_factory(dialect, proxy=op != "download")
    operation = prepare(env, op)
    if op == "download":
        env.faults.corrupt_download(100_000)
    else:
        env.proxy.arm(ProxyRule("flip", "upload", after_bytes=100_000))
    job = run_plain(env, operation)
    finish(env, job, operation, r"checksum")
    if operation.left.dest is not None:  # neither a final name nor a .part to resume from
        assert os.listdir(operation.left.dest) == []


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: f"truncated-download-{d}")
def test_truncated_body(env_factory: Any, dialect: str) -> None:
    """The body ends cleanly (FIN) before its Content-Length: resumed with Range."""
    through_proxy(env_factory, "download", dialect,
                  ProxyRule("truncate", "download", after_bytes=200_000))  # fmt: skip


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: f"over-long-download-{d}")
def test_over_long_body(env_factory: Any, dialect: str) -> None:
    """The server sends (and announces) 1000 bytes more than the file has: refused, and the
    wrong bytes are not kept to resume from."""
    through_proxy(env_factory, "download", dialect, ProxyRule("lengthen", "download", extra=1000),
                  r"bytes")  # fmt: skip


@pytest.mark.parametrize(("op", "dialect"), [
    *cells("unusable-name", ("upload", "ovf")),
    *cells("unusable-name", ("download",)),
])  # fmt: skip
def test_unusable_names(env_factory: Any, op: str, dialect: str) -> None:
    """A name the other side cannot take: refused with the reason, nothing created.

    upload: a local name with a backslash (the server refuses it); ovf: a reference that
    climbs out of the descriptor's folder; download: the server lists a file named '.'."""
    env = env_factory(dialect, proxy=op == "download")
    if op == "download":
        operation = prepare(env, op)
        env.proxy.arm(ProxyRule("rename", "api", count=-1, old='"data.bin"', new='"."'))
        reason = r"unusable|not valid|name"
    elif op == "upload":
        operation = prepare(env, op, name="back\\slash.iso")
        reason = r"not valid|name"
    else:
        operation = prepare(env, op, name="../outside.vmdk")
        reason = r"outside|folder|refer"
    finish(env, run_plain(env, operation), operation, reason)


@pytest.mark.parametrize(("op", "dialect"), [
    *cells("hostile-name", ("ovf",)),
    *cells("hostile-name", ("download",)),
])  # fmt: skip
def test_hostile_names(env_factory: Any, op: str, dialect: str) -> None:
    """ovf: the disk is a symlink to a file outside the folder; download: the server lists a
    name with a NUL byte."""
    env = env_factory(dialect, proxy=op == "download")
    operation = prepare(env, op)
    if op == "download":
        env.proxy.arm(ProxyRule("rename", "api", count=-1, old='"data.bin"',
                                new='"data\\u0000.bin"'))  # fmt: skip
        reason = r"NUL|unusable|name"
    else:
        disk = env.tmp / "src" / "tpl-disk1.vmdk"
        secret = env.tmp / "elsewhere.vmdk"  # same bytes: only where it lives is wrong
        disk.rename(secret)
        disk.symlink_to(secret)
        reason = r"outside|folder|link"
    finish(env, run_plain(env, operation), operation, reason)


@pytest.mark.parametrize(("op", "dialect"), cells("stalled"))
def test_stalled_body(env_factory: Any, op: str, dialect: str) -> None:
    """Every data transfer stops after 16 KB (under the stall setting's 64 KiB) and the
    connection stays open: retried, then failed with the reason once stalled for the stall
    limit. A download keeps its .part: Retry, once the server sends again, continues it."""
    env = env_factory(dialect, proxy=True)
    operation = prepare(env, op)
    env.proxy.arm(ProxyRule("stall", direction(op), after_bytes=16_000, count=-1))
    operation.left.resumable = op == "download"
    job = run_plain(env, operation)
    finish(env, job, operation, r"stopped (sending|receiving)")
    if op == "download":
        env.proxy.disarm()
        retry_from_the_part(env, job, operation)


@pytest.mark.parametrize(("op", "dialect"), cells("stalled-once"))
def test_stalled_once_then_flowing(env_factory: Any, op: str, dialect: str) -> None:
    """One data transfer stops after 100 KB with the connection open; the next one flows: the
    stall is noticed within the stall setting, retried, and the job completes."""
    env = env_factory(dialect, proxy=True)
    operation = prepare(env, op)
    env.proxy.arm(ProxyRule("stall", direction(op), after_bytes=100_000))
    finish(env, run_plain(env, operation), operation, None)


def test_the_invariants_catch_what_they_promise(env_factory: Any) -> None:
    """check_invariants and check_message are the matrix's judges: each breach is caught."""
    env = env_factory("api")
    operation = prepare(env, "download")
    admin, queue = env.admin, env.queue
    assert admin is not None and queue is not None
    job = queue.wait(queue.add(operation.spec), WAIT)
    check_invariants(admin, job, operation.left)  # a clean run passes
    final = Path(operation.spec.dest_dir) / "data.bin"

    def breach(what: str, undo: Callable[[], None]) -> None:
        with pytest.raises(AssertionError, match=what):
            check_invariants(admin, job, operation.left)
        undo()

    good = final.read_bytes()
    final.write_bytes(good[:-1])
    breach("corrupt or partial", lambda: final.write_bytes(good))
    part = final.with_name("data.bin.part")
    part.write_bytes(b"x")
    breach("nothing resumes it", part.unlink)
    empty = admin.items.create(env.library_id, "left-empty", type="file")
    breach("empty item", lambda: admin.items.delete(empty))
    session = admin.update_sessions.create(operation.spec.item_id or "")
    breach("ACTIVE sessions", lambda: admin.update_sessions.cancel(session))
    check_invariants(admin, job, operation.left)
    for message in ("", "Traceback (most recent call last): ...", "UnsafeNameError: '.'",
                    "cl_desktop.transfers.naming.UnsafeNameError"):  # fmt: skip
        failed = dataclasses.replace(job, state=JobState.FAILED, error_title="Transfer failed",
                                     error_message=message)  # fmt: skip
        with pytest.raises(AssertionError):
            check_message(failed, r".")
    fine = dataclasses.replace(job, error_title="Disk full", error_message="the disk is full")
    check_message(fine, r"disk .*full")
    with pytest.raises(AssertionError, match="does not say"):
        check_message(fine, r"checksum")
