""".ova uploads: the members stream in place from the archive into an OVF template item, and a
hostile or broken archive is refused, naming the member, before it can leave anything behind."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.errors import PreflightError
from cl_desktop.transfers.jobs import JobSnapshot, JobState, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.upload import collect_upload_files
from tests.support.api import active_sessions
from tests.support.files import make_file
from tests.support.jobs import download_spec, upload_spec
from tests.support.ova import add_link, template_members, write_ova
from tests.support.servers import ServerTarget
from tests.support.uploads import ServerLog, record_jobs, ref_for, sim_queue
from tests.support.waiting import wait_until


def members_of(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


@pytest.fixture
def disks(tmp_path: Path) -> list[Path]:
    return [make_file(tmp_path / "t-disk1.vmdk", 300_000, 1),
            make_file(tmp_path / "t-disk2.vmdk", 200_017, 2)]  # fmt: skip


def test_an_ova_streams_in_and_downloads_back_as_loose_files_and_as_an_ova(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, server_target: ServerTarget, tmp_path: Path, disks: list[Path],
) -> None:  # fmt: skip
    archive = write_ova(tmp_path / "appliance.ova", template_members("t", disks))
    members = members_of(archive)
    job = queue.wait(queue.add(upload_spec(server_ref, library_id, archive)), 60)
    assert job.state is JobState.DONE, job.error_message
    assert [f.name for f in job.files] == ["t.mf", "t.ovf", "t-disk1.vmdk", "t-disk2.vmdk"]
    assert job.item_id is not None
    item = api_client.items.get(job.item_id)
    assert (item.name, item.type) == ("appliance", "ovf")
    stored = {f.name: f for f in api_client.item_files.list(job.item_id)}
    # vCenter (and the embedded service) consume the manifest; vcsim stores it like any file
    vcsim = server_target.kind == "vcsim"
    assert set(stored) == {"t.ovf", "t-disk1.vmdk", "t-disk2.vmdk"} | ({"t.mf"} if vcsim else set())
    for name, info in stored.items():
        assert info.size == len(members[name])
        if not vcsim:  # vcsim keeps no checksums
            assert info.checksum_info is not None
            assert info.checksum_info.checksum == hashlib.sha1(members[name]).hexdigest()
    assert job.verification is (Verification.SIZE_ONLY if vcsim else Verification.VERIFIED)
    assert active_sessions(api_client) == []

    dest = tmp_path / "out"
    down = queue.wait(queue.add(download_spec(server_ref, library_id, job.item_id, dest)), 60)
    assert down.state is JobState.DONE, down.error_message
    dest = Path(down.spec.target)  # a template's files go into their own folder
    assert dest.parent == tmp_path / "out"
    assert sorted(os.listdir(dest)) == sorted(stored)
    for name in stored:
        assert (dest / name).read_bytes() == members[name], name

    # and back as one .ova: descriptor first, every stored member byte-identical
    spec = dataclasses.replace(
        download_spec(server_ref, library_id, job.item_id, tmp_path / "ova-out"), as_ova=True
    )
    back = queue.wait(queue.add(spec), 60)
    assert back.state is JobState.DONE, back.error_message
    assert back.spec.target == str(tmp_path / "ova-out" / "appliance.ova")
    again = members_of(Path(back.spec.target))
    assert next(iter(again)) == "t.ovf"
    for name in stored:
        assert again[name] == members[name], name


# --- hostile and broken archives ----------------------------------------------------------


@pytest.fixture
def server(sim: Any, monkeypatch: pytest.MonkeyPatch) -> ServerLog:
    return ServerLog(sim.backend, monkeypatch)


@pytest.fixture
def sim_q(sim: Any, server: ServerLog, tmp_path: Path) -> Iterator[TransferQueue]:
    with sim_queue(tmp_path / "q.sqlite") as q:
        server.watch(q)
        yield q


def upload(queue: TransferQueue, sim: Any, archive: Path) -> JobSnapshot:
    spec = upload_spec(ref_for(sim.base_url), sim.default_library_id, archive)
    return queue.wait(queue.add(spec), 60)


def assert_nothing_left(sim: Any, server: ServerLog) -> None:
    assert server.active_sessions() == []
    with sim.backend.lock:
        assert [i for i in sim.backend.store.items.values()] == []  # not even an empty item


def with_member(name: str, data: bytes = b"payload") -> Any:
    def build(archive: Path, members: list[tuple[str, Any]]) -> None:
        write_ova(archive, [*members, (name, data)])

    return build


def truncated(archive: Path, members: list[tuple[str, Any]]) -> None:
    write_ova(archive, members)
    with tarfile.open(archive) as tar:
        cut = tar.getmember("t-disk2.vmdk").offset_data + 1000
    os.truncate(archive, cut)


def symlink(archive: Path, members: list[tuple[str, Any]]) -> None:
    write_ova(archive, members)
    add_link(archive, "t-disk3.vmdk", "/etc/passwd")


def without(name: str) -> Any:
    def build(archive: Path, members: list[tuple[str, Any]]) -> None:
        write_ova(archive, [m for m in members if m[0] != name])

    return build


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (with_member("../x"), "appliance.ova holds '../x', a name that climbs out of its folder"),
        (with_member("/etc/x"), "appliance.ova holds '/etc/x', an absolute name"),
        (with_member("disks/x.vmdk"), "'disks/x.vmdk' in a subfolder; a library item has no"),
        (symlink, "holds 't-disk3.vmdk', a symbolic link: only files can go up"),
        (without("t-disk2.vmdk"), "t.ovf references t-disk2.vmdk, which is not in appliance.ova"),
        (truncated, "appliance.ova is truncated: it ends inside t-disk2.vmdk"),
        (with_member("t.ovf"), "appliance.ova holds t.ovf twice"),
        (with_member("other.ovf"), "holds more than one OVF descriptor (t.ovf, other.ovf)"),
        (without("t.ovf"), "appliance.ova holds no OVF descriptor"),
    ],
    ids=[
        "climbs",
        "absolute",
        "subfolder",
        "symlink",
        "missing",
        "truncated",
        "duplicate",
        "two-descriptors",
        "no-descriptor",
    ],
)
def test_a_hostile_or_broken_ova_is_refused_before_anything_is_created(
    sim: Any, server: ServerLog, sim_q: TransferQueue, tmp_path: Path, disks: list[Path],
    build: Any, message: str,
) -> None:  # fmt: skip
    archive = tmp_path / "appliance.ova"
    build(archive, template_members("t", disks))
    job = upload(sim_q, sim, archive)
    assert job.state is JobState.FAILED
    assert job.error_title == "Files not ready"
    assert message in job.error_message, job.error_message
    assert server.of("create") == []  # refused before any session
    assert_nothing_left(sim, server)


def test_a_member_over_its_declared_size_is_refused(
    sim: Any, server: ServerLog, sim_q: TransferQueue, tmp_path: Path, disks: list[Path]
) -> None:
    members = template_members("t", disks, declared={"t-disk2.vmdk": 200_000})
    job = upload(sim_q, sim, write_ova(tmp_path / "appliance.ova", members))
    assert job.state is JobState.FAILED
    assert "t-disk2.vmdk is 200017 bytes but t.ovf declares 200000 (over its declared size)" in (
        job.error_message
    )
    assert server.of("create") == [] and server.puts("t-disk1.vmdk") == 0
    assert_nothing_left(sim, server)


def test_a_manifest_naming_a_missing_member_is_refused(
    sim: Any, server: ServerLog, sim_q: TransferQueue, tmp_path: Path, disks: list[Path]
) -> None:
    members = template_members("t", disks, manifest={"t-disk1.vmdk": "0" * 64, "gone.vmdk": "1"})
    job = upload(sim_q, sim, write_ova(tmp_path / "appliance.ova", members))
    assert job.state is JobState.FAILED
    assert "the manifest lists gone.vmdk, which is missing" in job.error_message
    assert_nothing_left(sim, server)


def test_a_wrong_manifest_fails_before_complete_and_becomes_nothing(
    sim: Any, server: ServerLog, sim_q: TransferQueue, tmp_path: Path, disks: list[Path]
) -> None:
    """Checked while streaming (the archive is read once): the member whose bytes differ from
    the manifest fails the job before complete, so no item ever holds it."""
    members = template_members("t", disks)
    good = {n: hashlib.sha256(d.read_bytes()).hexdigest() for n, d in
            [(d.name, d) for d in disks]}  # fmt: skip
    wrong = good | {"t-disk2.vmdk": "0" * 64}
    manifest = "".join(f"SHA256({n})= {h}\n" for n, h in wrong.items()).encode()
    members[1] = ("t.mf", manifest)
    job = upload(sim_q, sim, write_ova(tmp_path / "appliance.ova", members))
    assert job.state is JobState.FAILED
    assert job.error_title == "Checksum mismatch"
    assert job.error_message.startswith("t-disk2.vmdk does not match its manifest (SHA256")
    assert server.puts("t-disk2.vmdk") == 1  # found while it was sent, not by reading it first
    assert server.of("complete") == []
    assert_nothing_left(sim, server)


def test_a_descriptor_not_first_is_read_where_it_lies_and_said_so(
    sim: Any, server: ServerLog, sim_q: TransferQueue, tmp_path: Path, disks: list[Path]
) -> None:
    descriptor, manifest, *rest = template_members("t", disks)
    archive = write_ova(tmp_path / "appliance.ova", [*rest, manifest, descriptor])
    seen = record_jobs(sim_q)
    job = upload(sim_q, sim, archive)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert [f.name for f in job.files] == ["t.mf", "t.ovf", "t-disk1.vmdk", "t-disk2.vmdk"]
    notes = {s.note for s in seen}
    assert "t.ovf is not the first member of appliance.ova, as the OVF specification asks; " \
        "each member is read where it lies" in notes  # fmt: skip


def test_a_paused_ova_upload_reuses_the_members_already_received(
    sim: Any, server: ServerLog, sim_q: TransferQueue, tmp_path: Path
) -> None:
    disks = [make_file(tmp_path / "t-disk1.vmdk", 300_000, 1),
             make_file(tmp_path / "t-disk2.vmdk", 16_000_000, 2)]  # fmt: skip
    archive = write_ova(tmp_path / "appliance.ova", template_members("t", disks))
    sim.faults.throttle(1_000_000)
    job_id = sim_q.add(upload_spec(ref_for(sim.base_url), sim.default_library_id, archive))
    wait_until(lambda: sim_q.snapshot(job_id).files[3:] and sim_q.snapshot(job_id).files[3].done,
               30, "t-disk2.vmdk on its way")  # fmt: skip
    sim_q.pause(job_id)
    paused = sim_q.wait(job_id, 30)
    assert paused.state is JobState.PAUSED
    assert [f.done for f in paused.files][:3] == [f.size for f in paused.files][:3]
    sim.faults.throttle(None)
    sim_q.resume(job_id)
    done = sim_q.wait(job_id, 60)
    assert done.state is JobState.DONE and done.verification is Verification.VERIFIED
    # the slices already received were recognised (hashed in place), not sent again
    assert [server.puts(n) for n in ("t.mf", "t.ovf", "t-disk1.vmdk", "t-disk2.vmdk")] == [
        1,
        1,
        1,
        2,
    ]
    assert server.active_sessions() == []


# --- pre-flight alone ----------------------------------------------------------------------


def test_a_compressed_archive_is_refused(tmp_path: Path, disks: list[Path]) -> None:
    plain = write_ova(tmp_path / "plain.tar", template_members("t", disks))
    packed = tmp_path / "packed.ova"
    with tarfile.open(packed, "w:gz") as tar, tarfile.open(plain) as source:
        for member in source:
            tar.addfile(member, source.extractfile(member))
    with pytest.raises(PreflightError, match=r"packed\.ova is not an OVA"):
        collect_upload_files((str(packed),))


def test_members_are_slices_of_the_archive_with_the_manifest_checksums(
    tmp_path: Path, disks: list[Path]
) -> None:
    archive = write_ova(tmp_path / "a.ova", template_members("t", disks))
    files = collect_upload_files((str(archive),))
    data = archive.read_bytes()
    members = members_of(archive)
    for f in files:
        assert f.path == archive and f.container_size == len(data)
        assert data[f.offset : f.offset + f.size] == members[f.name]
    listed = {f.name: f.manifest_checksum for f in files}
    assert listed["t-disk1.vmdk"] == ("SHA256", hashlib.sha256(members["t-disk1.vmdk"]).hexdigest())
    assert listed["t.mf"] is None
