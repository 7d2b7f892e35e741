"""Fan-out: one file into several libraries on two embedded services, read and hashed once; a
target that answers 503 for a while, or is slow, does not hold up the others."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers import fanout
from cl_desktop.transfers.context import CleanupKind, WorkflowContext
from cl_desktop.transfers.control import JobControl
from cl_desktop.transfers.errors import IntegrityError, TransferError
from cl_desktop.transfers.jobs import (
    Direction,
    FanoutSent,
    FanoutTarget,
    FileProgress,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
)
from cl_desktop.transfers.policy import RetryPolicy
from cl_desktop.transfers.store import JobStore
from tests.support.accounts import SIM_PASSWORD, SIM_READONLY_USER
from tests.support.api import active_sessions
from tests.support.cli import cl_transfer, cli
from tests.support.fault_proxy import DATA_PREFIX, FaultProxy
from tests.support.files import make_file
from tests.support.items import put_item, stored_checksum
from tests.support.ova import template_members, write_ova
from tests.support.servers import SimulatorServer
from tests.support.uploads import sim_queue, total_received
from tests.support.waiting import wait_until

MiB = 1 << 20
FAST_RETRIES = RetryPolicy(base_delay=0.05, max_delay=0.2)


class Recorder:
    """The job's Reporter as a list of what each target reported."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: list[tuple[str, Verification, str | None]] = []
        self.rows: list[str] = []
        self.cleanups: list[tuple[CleanupKind, str, ServerRef | None]] = []

    def phase(self, phase: Phase, note: str = "") -> None: ...
    def files(self, files: list[FileProgress]) -> None:
        self.rows = [f.name for f in files]

    def progress(self, name: str, done: int) -> None: ...
    def file_sent(self, name: str) -> None: ...
    def file_done(self, name: str, verification: Verification, checksum: str | None,
                  session_id: str) -> None:  # fmt: skip
        with self.lock:
            self.done.append((name, verification, checksum))

    def session(self, session_id: str | None) -> None: ...
    def item(self, item_id: str, item_name: str, created: bool = False) -> None: ...
    def note(self, text: str) -> None: ...
    def cleanup_later(self, kind: CleanupKind, target: str, server: ServerRef | None = None
                      ) -> None:  # fmt: skip
        self.cleanups.append((kind, target, server))

    def destination(self, path: str) -> None: ...


def connector(ref: ServerRef) -> ContentLibraryClient:
    return ContentLibraryClient(ref.url, ref.username, SIM_PASSWORD)  # every account's


def fanout_context(source: Path, targets: list[FanoutTarget], report: Recorder,
                   policy: RetryPolicy = FAST_RETRIES) -> WorkflowContext:  # fmt: skip
    first = targets[0]
    spec = JobSpec(Direction.UPLOAD, first.server, first.library_id, item_name=first.item_name,
                   paths=(str(source),), fanout_targets=tuple(targets))  # fmt: skip
    return WorkflowContext(connector(first.server), spec, JobControl(policy=policy), report,
                           "token")  # fmt: skip


def second_library(client: ContentLibraryClient, name: str = "Second") -> str:
    return client.libraries.create_local(name, client.datastores.list()[0].datastore)


def test_a_target_answering_503_for_a_while_lets_the_other_two_finish(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "tools.iso", 24 * MiB)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    a = connector(ServerRef(sim_service.base_url, "admin"))
    other = second_library(a)
    report = Recorder()
    with FaultProxy(sim_service_b.base_url) as proxy:
        # server B's items, sessions and data answer 503 until the two others are verified
        def unavailable(_method: str, path: str, _query: Any) -> int | None:
            item_call = "content/library/item" in path or path.startswith(DATA_PREFIX)
            with report.lock:
                return 503 if item_call and len(report.done) < 2 else None

        proxy.fail = unavailable
        targets = [
            FanoutTarget(ServerRef(sim_service.base_url, "admin"), sim_service.default_library_id,
                         None, "tools", "Local library"),
            FanoutTarget(ServerRef(sim_service.base_url, "admin"), other, None, "tools", "Second"),
            FanoutTarget(ServerRef(proxy.base_url, "admin"), sim_service_b.default_library_id,
                         None, "tools", "Local library"),
        ]  # fmt: skip
        ctx = fanout_context(source, targets, report)
        # a window wider than the file: the two healthy targets are never let go (on a busy
        # machine one PUT may run far ahead of the other), B only by its 503s
        result = fanout.run_fanout(ctx, connector, window=32, start_wait=0.5)
        refused = [c for c in proxy.calls if "content/library/item" in c[1]]

    labels = [t.label for t in targets]
    assert [name for name, *_ in report.done][-1] == labels[2]  # B finished last, after the 503s
    assert {name for name, *_ in report.done} == set(labels)
    assert all(v is Verification.VERIFIED for _, v, _ in report.done)
    assert all(checksum == f"SHA1:{sha1}" for *_, checksum in report.done)
    # the file was read once by the reader for the two that kept up; B, refused at first,
    # read it itself once the server took it again
    assert result.bytes_read == source.stat().st_size
    assert [o.own_bytes for o in result.outcomes] == [0, 0, source.stat().st_size]
    assert refused  # B's calls did reach the proxy (and were refused while the others ran)
    b = connector(ServerRef(sim_service_b.base_url, "admin"))
    assert stored_checksum(a, sim_service.default_library_id, "tools") == sha1
    assert stored_checksum(a, other, "tools") == sha1
    assert stored_checksum(b, sim_service_b.default_library_id, "tools") == sha1
    assert active_sessions(a) == [] and active_sessions(b) == []


def test_a_slow_target_falls_behind_and_goes_on_from_its_own_read(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "big.img", 64 * MiB, seed=3)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    # B takes 20 MB/s, A several times that. (Socket buffers on loopback let one PUT take
    # some 20 MiB at once, at its start, whatever its server's pace: hence the window of 24.)
    sim_service_b.faults.throttle(20_000_000)
    report = Recorder()
    targets = [
        FanoutTarget(ServerRef(sim_service.base_url, "admin"), sim_service.default_library_id,
                     None, "big"),
        FanoutTarget(ServerRef(sim_service_b.base_url, "admin"),
                     sim_service_b.default_library_id, None, "big"),
    ]  # fmt: skip
    result = fanout.run_fanout(fanout_context(source, targets, report), connector, window=24,
                               start_wait=30)  # fmt: skip
    fast, slow = result.outcomes
    assert result.bytes_read == source.stat().st_size
    assert (fast.own_bytes, fast.fell_behind) == (0, False)
    # let go once a window behind A: it read only the rest itself, from where it stood
    assert slow.fell_behind and 0 < slow.own_bytes < source.stat().st_size
    assert [v for _, v, _ in report.done] == [Verification.VERIFIED] * 2
    b = connector(ServerRef(sim_service_b.base_url, "admin"))
    assert stored_checksum(b, sim_service_b.default_library_id, "big") == sha1


def test_a_target_that_fails_fails_alone_and_leaves_nothing(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "x.bin", 3 * MiB)
    report = Recorder()
    a = connector(ServerRef(sim_service.base_url, "admin"))
    b = connector(ServerRef(sim_service_b.base_url, "admin"))
    targets = [
        FanoutTarget(ServerRef(sim_service.base_url, "admin"), sim_service.default_library_id,
                     None, "x"),
        # a read-only user may not create items: refused at once (not retried)
        FanoutTarget(ServerRef(sim_service_b.base_url, SIM_READONLY_USER),
                     sim_service_b.default_library_id, None, "x"),
    ]  # fmt: skip
    ctx = fanout_context(source, targets, report)
    try:
        fanout.run_fanout(ctx, connector, start_wait=5)
    except Exception as exc:
        error = exc
    else:
        raise AssertionError("the fan-out did not fail")
    assert "1 of 2 targets failed" in str(error) and targets[1].label in str(error)
    assert [name for name, *_ in report.done] == [targets[0].label]  # the other one finished
    assert a.items.find(name="x", library_id=sim_service.default_library_id)
    assert not b.items.find(name="x", library_id=sim_service_b.default_library_id)
    assert active_sessions(a) == [] and active_sessions(b) == []


@pytest.mark.parametrize("existing", [False, True], ids=["new item", "existing item"])
def test_bytes_damaged_on_the_way_to_one_target_never_become_its_items(
    sim_service: Any, sim_service_b: Any, tmp_path: Path, existing: bool
) -> None:
    source = make_file(tmp_path / "x.bin", 3 * MiB)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    a = connector(ServerRef(sim_service.base_url, "admin"))
    b = connector(ServerRef(sim_service_b.base_url, "admin"))
    lib_b = sim_service_b.default_library_id
    if existing:
        put_item(b, lib_b, "x", {"x.bin": b"the old content"})
    sim_service_b.faults.corrupt_upload(at_byte=MiB + 5)  # B receives one flipped byte
    report = Recorder()
    targets = [
        FanoutTarget(ServerRef(sim_service.base_url, "admin"), sim_service.default_library_id,
                     None, "x"),
        FanoutTarget(ServerRef(sim_service_b.base_url, "admin"), lib_b, None, "x"),
    ]  # fmt: skip
    with pytest.raises(IntegrityError) as failed:
        fanout.run_fanout(fanout_context(source, targets, report), connector, start_wait=5)
    assert "1 of 2 targets failed" in str(failed.value) and targets[1].label in str(failed.value)
    assert stored_checksum(a, sim_service.default_library_id, "x") == sha1  # A is fine
    # B's session was failed before complete: no damaged content, no empty item, no session
    if existing:
        old = hashlib.sha1(b"the old content").hexdigest()
        assert stored_checksum(b, lib_b, "x") == old
    else:
        assert not b.items.find(name="x", library_id=lib_b)
    assert active_sessions(b) == []


def test_an_ova_goes_to_two_servers_its_members_read_once(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    disks = [make_file(tmp_path / f"app-disk{n}.vmdk", (2 + n) * MiB, seed=n) for n in (1, 2)]
    ova = write_ova(tmp_path / "app.ova", template_members("app", disks))  # SHA-256 manifest
    report = Recorder()
    targets = [
        FanoutTarget(ServerRef(sim_service.base_url, "admin"), sim_service.default_library_id,
                     None, "app"),
        FanoutTarget(ServerRef(sim_service_b.base_url, "admin"),
                     sim_service_b.default_library_id, None, "app"),
    ]  # fmt: skip
    result = fanout.run_fanout(fanout_context(ova, targets, report), connector, start_wait=5)
    members = sum(d.stat().st_size for d in disks)
    assert members < result.bytes_read < ova.stat().st_size  # each member once, no headers
    assert [o.own_bytes for o in result.outcomes] == [0, 0]
    assert [v for _, v, _ in report.done] == [Verification.VERIFIED] * 2
    for url, library in ((sim_service.base_url, sim_service.default_library_id),
                         (sim_service_b.base_url, sim_service_b.default_library_id)):  # fmt: skip
        client = connector(ServerRef(url, "admin"))
        (item_id,) = client.items.find(name="app", library_id=library)
        assert client.items.get(item_id).type == "ovf"
        stored = {f.name: f for f in client.item_files.list(item_id)}
        assert {"app.ovf", "app-disk1.vmdk", "app-disk2.vmdk"} <= stored.keys()
        for disk in disks:
            checksum = stored[disk.name].checksum_info
            assert checksum is not None
            assert checksum.checksum.lower() == hashlib.sha1(disk.read_bytes()).hexdigest()
        assert active_sessions(client) == []


def test_a_cancelled_fanout_job_ends_every_session_and_drops_its_new_items(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "slow.img", 8 * MiB)
    for sim in (sim_service, sim_service_b):
        sim.faults.throttle(1_000_000)  # 8 s each: time to cancel mid-PUT
    targets = (
        FanoutTarget(ServerRef(sim_service.base_url, "admin"), sim_service.default_library_id,
                     None, "slow"),
        FanoutTarget(ServerRef(sim_service_b.base_url, "admin"),
                     sim_service_b.default_library_id, None, "slow"),
    )  # fmt: skip
    spec = JobSpec(Direction.UPLOAD, targets[0].server, targets[0].library_id,
                   item_name="slow", paths=(str(source),), fanout_targets=targets)  # fmt: skip
    with sim_queue(tmp_path / "q.sqlite") as queue:
        job_id = queue.add(spec)
        wait_until(lambda: total_received(sim_service) > 0 and total_received(sim_service_b) > 0,
                   30, "both PUTs moving bytes")  # fmt: skip
        queue.cancel(job_id)
        job = queue.wait(job_id, 30)
    assert job.state is JobState.CANCELED
    for sim in (sim_service, sim_service_b):
        client = connector(ServerRef(sim.base_url, "admin"))
        assert active_sessions(client) == []
        assert not client.items.find(name="slow", library_id=sim.default_library_id)


def test_the_spec_of_a_fanout_survives_the_store() -> None:
    target = FanoutTarget(ServerRef("https://b", "v"), "lib", None, "n", "L")
    spec = JobSpec(Direction.UPLOAD, ServerRef("https://a", "u"), "lib-a", paths=("/f",),
                   fanout_targets=(target, target))  # fmt: skip
    assert JobSpec.from_json(spec.to_json()) == spec
    old = json.loads(spec.to_json())
    del old["fanout_targets"]  # a job stored before fan-out existed
    assert JobSpec.from_json(json.dumps(old)).fanout_targets == ()
    assert spec.title == "f -> 2 libraries"


def test_cli_fanout_to_two_servers(sim_service: Any, sim_service_b: Any, tmp_path: Path) -> None:
    source = make_file(tmp_path / "agent.msi", 2 * MiB, seed=5)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    a = connector(ServerRef(sim_service.base_url, "admin"))
    second_library(a)
    done = cli(sim_service.base_url, "--queue-db", str(tmp_path / "q.sqlite"), "--json",
               "fanout", str(source), "Local library/agent", "Second/",
               "--to-server", sim_service_b.base_url, "Local library/agent",
               extra_env={"CL_TO_PASSWORD": "secret"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    (job,) = json.loads(done.stdout)
    assert job["state"] == "done" and job["verification"] == "verified"
    b = connector(ServerRef(sim_service_b.base_url, "admin"))
    (second,) = [lib.id for lib in a.libraries.list_models() if lib.name == "Second"]
    assert stored_checksum(a, sim_service.default_library_id, "agent") == sha1
    assert stored_checksum(a, second or "", "agent.msi") == sha1  # LIBRARY/: named for the file
    assert stored_checksum(b, sim_service_b.default_library_id, "agent") == sha1
    missing = cli(sim_service.base_url, "fanout", str(source), "No such library/x")
    assert missing.returncode == 4, missing.stderr
    usage = cli(sim_service.base_url, "fanout", str(source))
    assert usage.returncode == 2 and "at least one" in usage.stderr


def test_a_targets_cleanup_is_recorded_for_the_targets_own_server() -> None:
    """What a target on another server could not end or delete is remembered for that server
    (the queue cleans it up when that server is reachable), not dropped."""
    report = Recorder()
    other = ServerRef("https://b.example", "v")
    target = fanout._TargetReporter(report, "v@b.example Library/x", other)
    target.cleanup_later(CleanupKind.UPDATE_SESSION, "session-1")
    target.cleanup_later(CleanupKind.ITEM, "item-1")
    assert report.cleanups == [
        (CleanupKind.UPDATE_SESSION, "session-1", other),
        (CleanupKind.ITEM, "item-1", other),
    ]


def test_resume_logs_in_to_a_fanout_targets_other_account_with_cl_to_password(
    sim_service: Any, tmp_path: Path
) -> None:
    """A fan-out left in the store (its process ended) is resumed by `cl-transfer resume`:
    its own server with CL_PASSWORD, a target's other account with CL_TO_PASSWORD."""
    source = make_file(tmp_path / "agent.msi", MiB, seed=8)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    db = str(tmp_path / "q.sqlite")
    with (
        SimulatorServer(tmp_path / "b", users={"other": "other-secret"}) as service_b,
        ContentLibraryClient(service_b.base_url, "other", "other-secret") as b,
    ):
        library_b = b.libraries.list()[0]
        own = ServerRef(sim_service.base_url, "admin")
        targets = (
            FanoutTarget(own, sim_service.default_library_id, None, "agent"),
            FanoutTarget(ServerRef(service_b.base_url, "other"), library_b, None, "agent"),
        )
        spec = JobSpec(Direction.UPLOAD, own, sim_service.default_library_id,
                           item_name="agent", paths=(str(source),),
                           fanout_targets=targets)  # fmt: skip
        store = JobStore(db)
        store.insert(spec, 10, time.time())
        store.close()
        resumed = cl_transfer("--queue-db", db, "--json", "resume",
                                  extra_env={"CL_TO_PASSWORD": "other-secret"})  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        (job,) = json.loads(resumed.stdout)
        assert job["state"] == "done" and job["verification"] == "verified"
        assert stored_checksum(b, library_b, "agent") == sha1
    a = connector(own)
    assert stored_checksum(a, sim_service.default_library_id, "agent") == sha1


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed): its connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_a_target_server_not_reached_fails_alone_and_the_result_lists_each_target(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    """A --to-server that refuses connections does not stop the command before the job: its
    target fails alone, with its reason; the others are verified; exit 1. The result lists
    each target with its server, library, item and outcome, and the file's bytes once."""
    source = make_file(tmp_path / "small.iso", 300_000, seed=6)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    down = f"http://127.0.0.1:{closed_port()}"
    db = str(tmp_path / "q.sqlite")
    done = cli(sim_service.base_url, "--queue-db", db, "--json", "fanout", str(source),
               "Local library/f2", "--to-server", sim_service_b.base_url, "Local library/f2",
               "--to-server", down, "DR/f2", extra_env={"CL_TO_PASSWORD": "secret"})  # fmt: skip
    assert done.returncode == 1, done.stderr
    (job,) = json.loads(done.stdout)
    assert job["state"] == "failed" and "1 of 3 targets failed" in job["error"]
    assert down.removeprefix("http://") in job["error"] and "refused" in job["error"].lower()
    assert job["bytes"] == 300_000  # the file's, once
    a = connector(ServerRef(sim_service.base_url, "admin"))
    b = connector(ServerRef(sim_service_b.base_url, "admin"))
    assert stored_checksum(a, sim_service.default_library_id, "f2") == sha1
    assert stored_checksum(b, sim_service_b.default_library_id, "f2") == sha1
    rows = job["files"]
    assert [r["outcome"] for r in rows] == ["verified", "verified", "failed"]
    assert [r["server"] for r in rows] == [sim_service.base_url, sim_service_b.base_url, down]
    assert [r["library"] for r in rows] == ["Local library", "Local library", "DR"]
    (item_a,) = a.items.find(name="f2", library_id=sim_service.default_library_id)
    (item_b,) = b.items.find(name="f2", library_id=sim_service_b.default_library_id)
    assert [r["item_id"] for r in rows] == [item_a, item_b, None]
    assert rows[1]["library_id"] == sim_service_b.default_library_id

    # the same as text: one line per target, the file's bytes to each
    text = cli(sim_service.base_url, "--queue-db", db, "fanout", str(source),
               "Local library/f3", "--to-server", sim_service_b.base_url, "Local library/f3",
               extra_env={"CL_TO_PASSWORD": "secret"})  # fmt: skip
    assert text.returncode == 0, text.stderr
    head, *lines = text.stdout.strip().splitlines()
    assert "300,000 bytes to 2 libraries, verified" in head and "600,000" not in head
    assert len(lines) == 2 and all("verified, 300,000 bytes, item " in line for line in lines)
    assert "Local library/f3" in lines[0] and sim_service_b.base_url.split("//")[1] in lines[1]


def test_cli_a_target_whose_login_is_refused_fails_alone(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "agent.msi", MiB, seed=9)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    done = cli(sim_service.base_url, "--queue-db", str(tmp_path / "q.sqlite"), "--json",
               "fanout", str(source), "Local library/agent",
               "--to-server", sim_service_b.base_url, "Local library/agent",
               extra_env={"CL_TO_PASSWORD": "not the password"})  # fmt: skip
    assert done.returncode == 1, done.stderr
    (job,) = json.loads(done.stdout)
    assert "1 of 2 targets failed" in job["error"]
    assert sim_service_b.base_url.split("//")[1] in job["error"]
    assert "password" in job["error"].lower()
    assert [r["outcome"] for r in job["files"]] == ["verified", "failed"]
    a = connector(ServerRef(sim_service.base_url, "admin"))
    assert stored_checksum(a, sim_service.default_library_id, "agent") == sha1
    b = connector(ServerRef(sim_service_b.base_url, "admin"))
    assert not b.items.find(name="agent", library_id=sim_service_b.default_library_id)

    # retried with the right password: B is sent, A (verified, unchanged) is not
    (item_a,) = a.items.find(name="agent", library_id=sim_service.default_library_id)
    version = a.items.get(item_a).content_version
    again = cl_transfer("--queue-db", str(tmp_path / "q.sqlite"), "retry", str(job["job"]),
                        extra_env={"CL_TO_PASSWORD": "secret"})  # fmt: skip
    assert again.returncode == 0, again.stderr
    head, line_a, line_b = again.stdout.strip().splitlines()
    assert "done" in head and "skipped: verified by an earlier run" in line_a
    assert f"item {item_a}" in line_a and "verified, 1,048,576 bytes" in line_b
    assert a.items.get(item_a).content_version == version
    assert stored_checksum(b, sim_service_b.default_library_id, "agent") == sha1


@pytest.mark.parametrize("changed", [False, True], ids=["unchanged", "changed since"])
def test_a_retry_does_not_send_again_to_targets_verified_before(
    sim_service: Any, sim_service_b: Any, tmp_path: Path, changed: bool
) -> None:
    """A fails, B fails on a damaged byte: the retry sends to B only, A's item (its content
    version) untouched; unless A's item changed since, then A is sent again too."""
    source = make_file(tmp_path / "x.bin", 2 * MiB, seed=4)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    a = connector(ServerRef(sim_service.base_url, "admin"))
    lib_a = sim_service.default_library_id
    targets = (
        FanoutTarget(ServerRef(sim_service.base_url, "admin"), lib_a, None, "x"),
        FanoutTarget(ServerRef(sim_service_b.base_url, "admin"),
                     sim_service_b.default_library_id, None, "x"),
    )  # fmt: skip
    spec = JobSpec(Direction.UPLOAD, targets[0].server, lib_a, item_name="x",
                   paths=(str(source),), fanout_targets=targets)  # fmt: skip
    sim_service_b.faults.corrupt_upload(at_byte=MiB + 5)  # B's first PUT: one flipped byte
    with sim_queue(tmp_path / "q.sqlite") as queue:
        job_id = queue.add(spec)
        first = queue.wait(job_id, 60)
        assert first.state is JobState.FAILED and targets[1].label in first.error_message
        (item_a,) = a.items.find(name="x", library_id=lib_a)
        if changed:  # someone put other content into A's item since
            put_item(a, lib_a, "x", {"x.bin": b"other content"})
        version = a.items.get(item_a).content_version
        queue.retry(job_id)
        again = queue.wait(job_id, 60)
        history = [r for r in queue.history() if r.job_id == job_id and r.outcome == "done"]
    assert again.state is JobState.DONE and again.verification is Verification.VERIFIED
    assert stored_checksum(a, lib_a, "x") == sha1
    b = connector(ServerRef(sim_service_b.base_url, "admin"))
    assert stored_checksum(b, sim_service_b.default_library_id, "x") == sha1
    sent_again = a.items.get(item_a).content_version != version
    assert sent_again is changed
    # the stored job knows both targets' items; the retry's history says A was skipped
    stored = {s.index: s for s in JobStore(tmp_path / "q.sqlite").load()[0].spec.fanout_sent}
    assert stored[0].item_id == item_a and set(stored) == {0, 1}
    retry_a = [r for r in history if r.file == targets[0].label][-1]
    assert ("skipped" in retry_a.extra) is not changed
    assert (targets[0].label in again.note) is not changed  # the row says it was not sent
    assert retry_a.extra["target_item_id"] == item_a
    assert active_sessions(a) == [] and active_sessions(b) == []


def test_a_fanout_job_stored_before_its_targets_were_recorded_loads() -> None:
    target = FanoutTarget(ServerRef("https://b", "v"), "lib", None, "n", "L")
    spec = JobSpec(Direction.UPLOAD, ServerRef("https://a", "u"), "lib-a", paths=("/f",),
                   fanout_targets=(target,),
                   fanout_sent=(FanoutSent(0, "item", "3", "1:2", "verified", 1),))  # fmt: skip
    assert JobSpec.from_json(spec.to_json()) == spec
    old = json.loads(spec.to_json())
    del old["fanout_sent"]
    assert JobSpec.from_json(json.dumps(old)).fanout_sent == ()


def test_a_target_known_by_its_library_name_only_finds_it_when_it_runs(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    """A target the CLI made while its server was down has its library's name, no id: a
    retry once the server is back finds the library by name; an unknown name fails alone."""
    source = make_file(tmp_path / "x.bin", MiB)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    report = Recorder()
    b_ref = ServerRef(sim_service_b.base_url, "admin")
    targets = [
        FanoutTarget(ServerRef(sim_service.base_url, "admin"), sim_service.default_library_id,
                     None, "x"),
        FanoutTarget(b_ref, "", None, "x", "local LIBRARY"),  # (names match case-insensitively)
        FanoutTarget(b_ref, "", None, "y", "No such library"),
    ]  # fmt: skip
    with pytest.raises(TransferError) as failed:
        fanout.run_fanout(fanout_context(source, targets, report), connector, start_wait=5)
    assert "1 of 3 targets failed" in str(failed.value)
    assert "No such library" in str(failed.value) and targets[2].label in str(failed.value)
    b = connector(b_ref)
    assert stored_checksum(b, sim_service_b.default_library_id, "x") == sha1
