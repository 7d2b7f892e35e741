"""Upload and download workflows through the queue, against the three servers."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import JobState, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from tests.support.api import active_sessions
from tests.support.files import make_file
from tests.support.jobs import download_spec, upload_spec
from tests.support.servers import ServerTarget


def expected_verification(target: ServerTarget) -> Verification:
    # vcsim keeps no checksums, so only sizes can be compared there
    return Verification.SIZE_ONLY if target.kind == "vcsim" else Verification.VERIFIED


def test_upload_creates_item_and_download_round_trips(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, server_target: ServerTarget, tmp_path: Path,
) -> None:  # fmt: skip
    source = make_file(tmp_path / "Ubuntu 24.04 é%.iso", 3 * 1024 * 1024 + 17)
    job = queue.wait(queue.add(upload_spec(server_ref, library_id, source)), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is expected_verification(server_target)
    assert job.item_id is not None
    item = api_client.items.get(job.item_id)
    assert item.name == "Ubuntu 24.04 é%" and item.type == "iso"
    assert [f.name for f in api_client.item_files.list(job.item_id)] == [source.name]

    dest = tmp_path / "out"
    down = queue.wait(queue.add(download_spec(server_ref, library_id, job.item_id, dest)), 60)
    assert down.state is JobState.DONE, down.error_message
    assert down.verification is expected_verification(server_target)
    assert (dest / source.name).read_bytes() == source.read_bytes()
    assert os.listdir(dest) == [source.name]  # no .part left behind
    assert active_sessions(api_client) == []
    outcomes = [(r.direction, r.file, r.outcome) for r in queue.history()]
    assert outcomes == [("upload", source.name, "done"), ("download", source.name, "done")]


def test_ovf_brings_its_files_in_order(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, tmp_path: Path, server_target: ServerTarget,
) -> None:  # fmt: skip
    folder = tmp_path / "tpl"
    folder.mkdir()
    disk = make_file(folder / "disk-1.vmdk", 200_000, seed=2)
    (folder / "tpl.ovf").write_text(
        '<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" '
        'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References>'
        f'<File ovf:href="disk-1.vmdk" ovf:id="f1" ovf:size="{disk.stat().st_size}"/>'
        "</References></Envelope>"
    )
    sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (folder / "tpl.ovf", disk)}  # fmt: skip
    (folder / "tpl.mf").write_text("".join(f"SHA256({n})= {h}\n" for n, h in sums.items()))
    job = queue.wait(queue.add(upload_spec(server_ref, library_id, folder / "tpl.ovf")), 60)
    assert job.state is JobState.DONE, job.error_message
    assert [f.name for f in job.files] == ["tpl.mf", "tpl.ovf", "disk-1.vmdk"]
    assert job.verification is expected_verification(server_target)
    assert job.item_id is not None
    stored = {f.name: f for f in api_client.item_files.list(job.item_id)}
    # vCenter consumes the manifest (keep_in_storage false); vcsim stores it like any file
    manifest = {"tpl.mf"} if server_target.kind == "vcsim" else set()
    assert set(stored) == {"tpl.ovf", "disk-1.vmdk"} | manifest
    assert stored["disk-1.vmdk"].size == disk.stat().st_size


def test_preflight_catches_a_damaged_disk_before_any_byte_moves(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    disk = make_file(tmp_path / "d.vmdk", 1000)
    (tmp_path / "t.ovf").write_text(
        '<Envelope xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References>'
        '<File ovf:href="d.vmdk" ovf:size="1000"/></References></Envelope>'
    )
    (tmp_path / "t.mf").write_text(f"SHA256(d.vmdk)= {'0' * 64}\n")
    job = queue.wait(queue.add(upload_spec(server_ref, library_id, tmp_path / "t.ovf")), 30)
    assert job.state is JobState.FAILED
    assert job.error_title == "Files not ready"
    assert "d.vmdk does not match its manifest" in job.error_message
    assert api_client.items.list(library_id) == ()  # nothing was created
    assert disk.exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.iso", "does not exist"),
        (lambda d: d, "is a folder"),
        (lambda d: (d / "empty.bin").touch() or d / "empty.bin", "is empty (0 bytes)"),
    ],
    ids=["missing", "folder", "empty"],
)
def test_bad_local_paths_fail_clearly(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, tmp_path: Path, make, message: str,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    job = queue.wait(queue.add(upload_spec(server_ref, library_id, make(tmp_path))), 30)
    assert job.state is JobState.FAILED and message in job.error_message
    assert api_client.items.list(library_id) == ()


def test_name_clash_is_an_error_or_a_unique_name(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    api_client.items.create(library_id, "tools.sh", type="file")
    source = make_file(tmp_path / "tools.sh", 100)
    clash = queue.wait(queue.add(upload_spec(server_ref, library_id, source)), 30)
    assert clash.state is JobState.FAILED and clash.error_title == "Name in use"
    ok = queue.wait(queue.add(upload_spec(server_ref, library_id, source, unique_name=True)), 30)
    assert ok.state is JobState.DONE, ok.error_message
    assert ok.item_id is not None
    assert api_client.items.get(ok.item_id).name == "tools.sh (2)"


def test_upload_into_existing_item_replaces_content(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    item = api_client.items.create(library_id, "scripts", type="file")
    first = make_file(tmp_path / "a.ps1", 1000, seed=3)
    second = make_file(tmp_path / "b.sh", 2000, seed=4)
    for path in (first, second):
        job = queue.wait(queue.add(upload_spec(server_ref, library_id, path, item_id=item)), 30)
        assert job.state is JobState.DONE, job.error_message
    assert {f.name for f in api_client.item_files.list(item)} == {"a.ps1", "b.sh"}


def test_download_of_selected_files_and_unknown_name(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, tmp_path: Path,
) -> None:  # fmt: skip
    item = api_client.items.create(library_id, "pair", type="file")
    for name in ("one.bin", "two.bin"):
        job = queue.wait(
            queue.add(
                upload_spec(server_ref, library_id, make_file(tmp_path / name, 5000), item_id=item)
            ),
            30,
        )
        assert job.state is JobState.DONE, job.error_message
    dest = tmp_path / "dl"
    job = queue.wait(queue.add(download_spec(server_ref, library_id, item, dest, "two.bin")), 30)
    assert job.state is JobState.DONE and os.listdir(dest) == ["two.bin"]
    bad = queue.wait(queue.add(download_spec(server_ref, library_id, item, dest, "nope")), 30)
    assert bad.state is JobState.FAILED and "no file named nope" in bad.error_message
    assert active_sessions(api_client) == []
