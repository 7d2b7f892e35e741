"""Downloading an OVF template: as loose files in the item's own folder, or as one .ova whose
members follow the OVF order and match the server's checksums; and the same template twice into
one folder (overwrite, skip, keep both), through the engine and through cl-transfer."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.download import local_paths
from cl_desktop.transfers.jobs import (
    Existing,
    FailureKind,
    JobSnapshot,
    JobSpec,
    JobState,
    ServerRef,
    Verification,
)
from cl_desktop.transfers.queue import TransferQueue
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.api import active_sessions, vcsim_deviation
from tests.support.cli import cli
from tests.support.fault_proxy import FaultProxy
from tests.support.jobs import download_spec, started_queue, uploaded_item
from tests.support.matrix import tmpfs
from tests.support.servers import ServerTarget
from tests.support.templates import DISKS, make_template
from tests.support.waiting import wait_until

ORDER = ["demo-vm.ovf", "demo-vm.mf", *(d for d, _ in DISKS)]  # descriptor, manifest, References


def ova_spec(spec: JobSpec, **changes: Any) -> JobSpec:
    return dataclasses.replace(spec, as_ova=True, **changes)


def members(ova: Path) -> dict[str, bytes]:
    """The archive's members in their order, read back with tarfile."""
    with tarfile.open(ova) as tar:
        found = {}
        for info in tar.getmembers():
            assert info.isfile(), info.name
            source = tar.extractfile(info)
            assert source is not None
            found[info.name] = source.read()
        return found


def sha1_manifest(files: dict[str, bytes]) -> str:
    return "".join(f"SHA1({n})= {hashlib.sha1(b).hexdigest()}\n" for n, b in files.items())


def test_template_downloads_as_loose_files_and_as_one_ova(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, server_target: ServerTarget, tmp_path: Path,
) -> None:  # fmt: skip
    descriptor = make_template(tmp_path / "src")
    source = {p.name: p.read_bytes() for p in descriptor.parent.iterdir()}
    item = uploaded_item(queue, server_ref, library_id, descriptor)
    stored = [f.name for f in api_client.item_files.list(item)]
    manifest_kept = vcsim_deviation(server_target, "an OVF manifest is kept as a file")
    assert sorted(stored) == sorted(n for n in source if manifest_kept or n != "demo-vm.mf")
    sure = (Verification.SIZE_ONLY if vcsim_deviation(server_target, "no checksums anywhere")
            else Verification.VERIFIED)  # fmt: skip

    # loose: the server's names inside DEST/ITEM/, so the descriptor still names its disks
    out = tmp_path / "loose"
    loose = queue.wait(queue.add(download_spec(server_ref, library_id, item, out)), 60)
    assert loose.state is JobState.DONE, loose.error_message
    assert loose.verification is sure
    assert os.listdir(out) == ["demo-vm"]
    assert sorted(os.listdir(out / "demo-vm")) == sorted(stored)
    for name in stored:
        assert (out / "demo-vm" / name).read_bytes() == source[name], name
    assert loose.spec.target == str(out / "demo-vm")
    assert sorted(local_paths(loose)) == sorted(str(out / "demo-vm" / n) for n in stored)

    # one .ova: descriptor first, the manifest, then the disks in the References' order
    out = tmp_path / "ova"
    spec = ova_spec(download_spec(server_ref, library_id, item, out), item_name="demo-vm")
    assert spec.title == f"demo-vm -> {out / 'demo-vm.ova'}"
    job = queue.wait(queue.add(spec), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is sure
    assert os.listdir(out) == ["demo-vm.ova"]
    assert local_paths(job) == [str(out / "demo-vm.ova")]
    archive = members(out / "demo-vm.ova")
    assert list(archive) == ORDER
    for name in ORDER[2:] + ORDER[:1]:
        assert archive[name] == source[name], name
    if manifest_kept:  # the uploaded manifest, as the server keeps it
        assert archive["demo-vm.mf"] == source["demo-vm.mf"]
    else:  # written from the server's checksums (SHA-1 there), which match the bytes
        files = {n: source[n] for n in ORDER if n != "demo-vm.mf"}
        assert archive["demo-vm.mf"].decode() == sha1_manifest(files)
    assert (out / "demo-vm.ova").stat().st_size % 512 == 0
    assert active_sessions(api_client) == []


@pytest.fixture
def proxy(sim_service: Any) -> Iterator[FaultProxy]:
    with FaultProxy(sim_service.base_url) as p:
        yield p


@pytest.fixture
def sim_queue(proxy: FaultProxy, tmp_path: Path) -> Iterator[TransferQueue]:
    q = started_queue(tmp_path / "q.sqlite", SIM_USER, SIM_PASSWORD)
    yield q
    q.shutdown()


@pytest.fixture
def template(sim_service: Any, sim_queue: TransferQueue, tmp_path: Path) -> tuple[str, Path]:
    """A two-disk template uploaded to the service: (item id, its descriptor)."""
    descriptor = make_template(tmp_path / "src")
    ref = ServerRef(sim_service.base_url, SIM_USER)
    return uploaded_item(sim_queue, ref, sim_service.default_library_id, descriptor), descriptor


def test_a_changed_byte_in_a_disk_never_gives_the_ova_its_name(
    sim_service: Any, sim_queue: TransferQueue, proxy: FaultProxy, template: tuple[str, Path],
    tmp_path: Path, sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    item, _ = template
    last_disk_size = DISKS[-1][1]
    proxy.body = lambda whole: (
        whole[:99] + bytes([whole[99] ^ 1]) + whole[100:] if len(whole) == last_disk_size
        else whole
    )  # fmt: skip
    out = tmp_path / "out"
    ref = ServerRef(proxy.base_url, SIM_USER)
    job = sim_queue.wait(
        sim_queue.add(ova_spec(download_spec(ref, sim_service.default_library_id, item, out))), 60
    )
    assert job.state is JobState.FAILED
    assert job.error_title == "Checksum mismatch"
    assert f"{DISKS[-1][0]}: sha1 of the download is" in job.error_message.lower()
    assert os.listdir(out) == []  # neither the .ova nor a .part to resume bad bytes from
    assert active_sessions(sim_api_client) == []


def test_an_ova_download_resumes_after_a_pause_keeping_what_it_verified(
    sim_service: Any, sim_queue: TransferQueue, proxy: FaultProxy, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    # larger disks (same names), so the pause lands while the second one moves
    disks = ((DISKS[0][0], 300_000), (DISKS[1][0], 3_000_000))
    descriptor = make_template(tmp_path / "big", disks=disks)
    ref = ServerRef(sim_service.base_url, SIM_USER)
    item = uploaded_item(sim_queue, ref, sim_service.default_library_id, descriptor)
    source = {p.name: p.read_bytes() for p in descriptor.parent.iterdir()}
    out = tmp_path / "out"
    sim_service.faults.throttle(300_000)
    through = ServerRef(proxy.base_url, SIM_USER)  # which counts the data GETs and their Range
    job_id = sim_queue.add(
        ova_spec(download_spec(through, sim_service.default_library_id, item, out))
    )
    first_disk = DISKS[0][0]

    def into_second_disk() -> JobSnapshot | None:  # the first disk verified, the second moving
        job = sim_queue.snapshot(job_id)
        done = {f.name: f for f in job.files}
        second = done.get(DISKS[1][0])
        ready = done.get(first_disk) and done[first_disk].verification and second and second.done
        return job if ready else None

    wait_until(into_second_disk, 60, "the second disk moving")
    sim_queue.pause(job_id)
    paused = sim_queue.wait(job_id, 60)
    assert paused.state is JobState.PAUSED
    part = out / "demo-vm.ova.part"
    kept = part.read_bytes()
    assert len(kept) > disks[0][1]  # the descriptor, the manifest, the first disk and more
    assert os.listdir(out) == ["demo-vm.ova.part"]
    assert paused.spec.target == str(out / "demo-vm.ova")  # the decision is kept with the job
    assert active_sessions(sim_api_client) == []
    asked_before = len(proxy.ranges)
    seen: list[JobSnapshot] = []
    sim_queue.add_listener(lambda j: seen.append(j) if j.id == job_id else None)
    sim_service.faults.throttle(None)
    sim_queue.resume(job_id)
    done = sim_queue.wait(job_id, 60)
    assert done.state is JobState.DONE, done.error_message
    assert done.verification is Verification.VERIFIED
    assert os.listdir(out) == ["demo-vm.ova"]
    whole = (out / "demo-vm.ova").read_bytes()
    assert whole[: len(kept)] == kept  # what the first run wrote is the archive's beginning
    archive = members(out / "demo-vm.ova")
    assert list(archive) == ORDER
    assert all(archive[n] == source[n] for n in ORDER if n != "demo-vm.mf")
    # the verified members were kept: the first disk was never fetched again
    moving = [j for j in seen if j.state is JobState.RUNNING and j.files]
    assert moving and all(
        next(f for f in j.files if f.name == first_disk).done == disks[0][1] for j in moving
    )
    # and the second disk went on from the bytes the first run left (Range)
    with tarfile.open(out / "demo-vm.ova") as tar:
        partial = len(kept) - tar.getmember(disks[1][0]).offset_data
    assert 0 < partial < disks[1][1]
    assert proxy.ranges[asked_before:] == [f"bytes={partial}-"]  # nothing else fetched again
    assert active_sessions(sim_api_client) == []


def consistent(folder: Path) -> dict[str, bytes]:
    """The descriptor in `folder` and the files it references, all present: {name: bytes}."""
    (descriptor,) = folder.glob("*.ovf")
    text = descriptor.read_text()
    names = [d for d, _ in DISKS]
    assert all(f'ovf:href="{n}"' in text for n in names)
    return {p.name: p.read_bytes() for p in [descriptor, *(folder / n for n in names)]}


@pytest.mark.parametrize("existing", list(Existing))
def test_the_same_template_twice_into_one_folder(
    sim_service: Any, sim_queue: TransferQueue, template: tuple[str, Path], tmp_path: Path,
    existing: Existing,
) -> None:  # fmt: skip
    item, descriptor = template
    source = {p.name: p.read_bytes() for p in descriptor.parent.iterdir() if p.suffix != ".mf"}
    out = tmp_path / "out"
    ref = ServerRef(sim_service.base_url, SIM_USER)
    spec = download_spec(ref, sim_service.default_library_id, item, out)
    first = sim_queue.wait(sim_queue.add(spec), 60)
    assert first.state is JobState.DONE, first.error_message
    marker = out / "demo-vm" / "notes.txt"  # the user's own file in the first copy
    marker.write_text("mine")
    (out / "demo-vm" / DISKS[0][0]).write_bytes(b"changed locally")
    again = sim_queue.wait(sim_queue.add(dataclasses.replace(spec, existing=existing)), 60)
    assert again.state is JobState.DONE, again.error_message
    assert marker.read_text() == "mine"  # never deleted, whatever the choice
    if existing is Existing.KEEP_BOTH:
        assert sorted(os.listdir(out)) == ["demo-vm", "demo-vm (2)"]
        assert again.spec.target == str(out / "demo-vm (2)")
        assert consistent(out / "demo-vm (2)") == source
        assert sorted(os.listdir(out / "demo-vm (2)")) == sorted(source)
        assert (out / "demo-vm" / DISKS[0][0]).read_bytes() == b"changed locally"
    elif existing is Existing.OVERWRITE:
        assert os.listdir(out) == ["demo-vm"]
        assert consistent(out / "demo-vm") == source
        assert again.verification is Verification.VERIFIED
    else:
        assert os.listdir(out) == ["demo-vm"]
        assert again.verification is Verification.SKIPPED
        assert (out / "demo-vm" / DISKS[0][0]).read_bytes() == b"changed locally"
        assert local_paths(again) == [] and again.session_id is None
    # an .ova follows the same rule
    ova = sim_queue.wait(sim_queue.add(ova_spec(spec)), 60)
    twice = sim_queue.wait(sim_queue.add(ova_spec(spec, existing=existing)), 60)
    assert (ova.state, twice.state) == (JobState.DONE, JobState.DONE), twice.error_message
    ovas = sorted(n for n in os.listdir(out) if n.endswith(".ova"))
    expected = {
        Existing.KEEP_BOTH: ["demo-vm (2).ova", "demo-vm.ova"],
        Existing.OVERWRITE: ["demo-vm.ova"],
        Existing.SKIP: ["demo-vm.ova"],
    }
    assert ovas == expected[existing]
    for name in ovas:
        assert list(members(out / name)) == ORDER


def test_cl_transfer_downloads_a_template_twice_and_as_an_ova(
    sim_service: Any, template: tuple[str, Path], tmp_path: Path
) -> None:
    _, descriptor = template
    source = {p.name: p.read_bytes() for p in descriptor.parent.iterdir() if p.suffix != ".mf"}
    url, db, out = sim_service.base_url, str(tmp_path / "cli.sqlite"), tmp_path / "out"
    what = ("--queue-db", db, "--json", "download", "Local library/demo-vm", str(out))
    runs = [cli(url, *what), cli(url, *what), cli(url, *what, "--existing", "skip")]
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr for r in runs]
    first, second, skipped = (json.loads(r.stdout)[0] for r in runs)
    assert sorted(first["paths"]) == sorted(str(out / "demo-vm" / n) for n in source)
    assert sorted(second["paths"]) == sorted(str(out / "demo-vm (2)" / n) for n in source)
    assert consistent(out / "demo-vm (2)") == source
    assert (skipped["state"], skipped["verification"], skipped["paths"]) == ("done", "skipped", [])
    text = cli(url, "--queue-db", db, *what[3:], "--existing", "skip")
    assert text.returncode == 0 and f"skipped, {out / 'demo-vm'} exists" in text.stdout

    ova = cli(url, *what, "--ova")
    assert ova.returncode == 0, ova.stderr
    (result,) = json.loads(ova.stdout)
    assert result["paths"] == [str(out / "demo-vm.ova")] and result["verification"] == "verified"
    assert list(members(out / "demo-vm.ova")) == ORDER
    help_text = cli(url, "download", "--help").stdout
    assert "--ova" in help_text and "{keep-both,overwrite,skip}" in help_text.replace(" ", "")


def test_an_ova_that_cannot_fit_is_refused_before_a_byte_moves(
    sim_service: Any, sim_queue: TransferQueue, template: tuple[str, Path], tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    item, _ = template
    room = 256 * 1024  # less than the two disks (360 KB), more than either
    with tmpfs(tmp_path / "small", room) as mount:
        if mount is None:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        ref = ServerRef(sim_service.base_url, SIM_USER)
        spec = ova_spec(download_spec(ref, sim_service.default_library_id, item, mount))
        job = sim_queue.wait(sim_queue.add(spec), 60)
        assert job.state is JobState.FAILED and job.failure is FailureKind.LOCAL
        assert "bytes free, the download needs" in job.error_message
        assert os.listdir(mount) == []
    assert active_sessions(sim_api_client) == []


def test_an_empty_item_or_an_unknown_file_fails_before_a_target_is_chosen(
    sim_service: Any, sim_queue: TransferQueue, sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    lib = sim_service.default_library_id
    empty = sim_api_client.items.create(lib, "empty", type="ovf")
    ref = ServerRef(sim_service.base_url, SIM_USER)
    out = tmp_path / "out"
    for spec, message in (
        (ova_spec(download_spec(ref, lib, empty, out)), "the item has no files to download"),
        (download_spec(ref, lib, empty, out, "a.vmdk", "b.vmdk"), "no file named a.vmdk, b.vmdk"),
    ):
        job = sim_queue.wait(sim_queue.add(spec), 30)
        assert (job.state, job.spec.target) == (JobState.FAILED, ""), job.error_message
        assert message in job.error_message
    assert os.listdir(out) == []
    assert active_sessions(sim_api_client) == []


def test_a_restarted_keep_both_download_finds_its_own_folder_again(
    sim_service: Any, sim_queue: TransferQueue, tmp_path: Path,
) -> None:  # fmt: skip
    disks = ((DISKS[0][0], 300_000), (DISKS[1][0], 3_000_000))  # time to pause in the second
    descriptor = make_template(tmp_path / "big", disks=disks, manifest=False)
    ref = ServerRef(sim_service.base_url, SIM_USER)
    item = uploaded_item(sim_queue, ref, sim_service.default_library_id, descriptor)
    source = {p.name: p.read_bytes() for p in descriptor.parent.iterdir()}
    out = tmp_path / "out"
    (out / "demo-vm").mkdir(parents=True)  # a first copy is there
    sim_service.faults.throttle(300_000)
    job_id = sim_queue.add(download_spec(ref, sim_service.default_library_id, item, out))

    def into_the_last_disk() -> bool:
        files = {f.name: f.done for f in sim_queue.snapshot(job_id).files}
        return files.get(disks[1][0], 0) > 0

    wait_until(into_the_last_disk, 60, "the last disk moving")
    sim_queue.pause(job_id)
    assert sim_queue.wait(job_id, 60).state is JobState.PAUSED
    sim_queue.shutdown()
    assert sorted(os.listdir(out)) == ["demo-vm", "demo-vm (2)"]
    assert any(n.endswith(".part") for n in os.listdir(out / "demo-vm (2)"))

    sim_service.faults.throttle(None)
    again = started_queue(tmp_path / "q.sqlite", SIM_USER, SIM_PASSWORD)  # a new process's
    try:
        assert again.snapshot(job_id).spec.target == str(out / "demo-vm (2)")
        again.resume(job_id)
        done = again.wait(job_id, 60)
    finally:
        again.shutdown()
    assert done.state is JobState.DONE, done.error_message
    assert sorted(os.listdir(out)) == ["demo-vm", "demo-vm (2)"]  # no "demo-vm (3)"
    assert consistent(out / "demo-vm (2)") == source
    assert sorted(os.listdir(out / "demo-vm (2)")) == sorted(source)  # no .part left
