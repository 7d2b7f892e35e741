"""Pre-flight of local files: OVF references and manifest lines stay inside the descriptor's
folder (also through symlinks), hostile XML is refused, and non-regular files (FIFO, device)
are refused without being opened."""

from __future__ import annotations

import hashlib
import os
import threading
from itertools import pairwise
from pathlib import Path

import pytest

from cl_desktop.transfers.errors import PreflightError
from cl_desktop.transfers.upload import collect_upload_files

ENVELOPE = (
    '<?xml version="1.0"?>{prolog}<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" '
    'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References>{refs}</References>'
    "{body}</Envelope>"
)


def write_ovf(folder: Path, *hrefs: str, prolog: str = "", body: str = "") -> Path:
    refs = "".join(f'<File ovf:href="{h}" ovf:id="f{i}"/>' for i, h in enumerate(hrefs))
    path = folder / "t.ovf"
    path.write_text(ENVELOPE.format(prolog=prolog, refs=refs, body=body))
    return path


def collect_in_thread(path: Path) -> BaseException | list[object]:
    """Run the pre-flight on a thread, so that a check that blocks (opening a FIFO) fails
    the test instead of hanging it."""
    result: list[BaseException | list[object]] = []

    def run() -> None:
        try:
            result.append(list(collect_upload_files((str(path),))))
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert result, f"the pre-flight of {path.name} blocked"
    return result[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    return tpl


@pytest.mark.parametrize(
    ("href", "message"),
    [
        ("../outside.vmdk", "'../outside.vmdk', outside its own folder"),
        ("sub/../../outside.vmdk", "outside its own folder"),
        ("..\\outside.vmdk", "outside its own folder"),
        ("/etc/passwd", "'/etc/passwd', outside its own folder"),
        ("http://example.com/disk.vmdk", "references a remote file (http://example.com/disk"),
        ("file:///etc/passwd", "references a remote file"),
    ],
    ids=["dotdot", "nested-dotdot", "backslash", "absolute", "http", "file-url"],
)
def test_references_outside_the_folder_are_refused(folder: Path, href: str, message: str) -> None:
    (folder.parent / "outside.vmdk").write_bytes(b"secret")
    with pytest.raises(PreflightError) as caught:
        collect_upload_files((str(write_ovf(folder, href)),))
    assert message in caught.value.message


def test_a_symlink_leading_out_of_the_folder_is_refused(folder: Path) -> None:
    (folder / "link.vmdk").symlink_to("/etc/passwd")
    with pytest.raises(PreflightError) as caught:
        collect_upload_files((str(write_ovf(folder, "link.vmdk")),))
    assert "'link.vmdk', which leads to /etc/passwd, outside its own folder" in str(caught.value)


def test_a_symlinked_subfolder_leading_out_is_refused(folder: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "d.vmdk").write_bytes(b"x" * 10)
    (folder / "disks").symlink_to(elsewhere)
    with pytest.raises(PreflightError, match="outside its own folder"):
        collect_upload_files((str(write_ovf(folder, "disks/d.vmdk")),))


def test_a_symlink_inside_the_folder_is_fine(folder: Path) -> None:
    (folder / "real.vmdk").write_bytes(b"x" * 10)
    (folder / "alias.vmdk").symlink_to("real.vmdk")
    files = collect_upload_files((str(write_ovf(folder, "alias.vmdk")),))
    assert [(f.name, f.size) for f in files] == [("t.ovf", files[0].size), ("alias.vmdk", 10)]


@pytest.mark.parametrize("listed", ["../outside.vmdk", "/etc/passwd"], ids=["dotdot", "abs"])
def test_manifest_lines_outside_the_folder_are_refused(folder: Path, listed: str) -> None:
    (folder.parent / "outside.vmdk").write_bytes(b"secret")
    (folder / "d.vmdk").write_bytes(b"d" * 10)
    ovf = write_ovf(folder, "d.vmdk")
    digest = hashlib.sha256(b"d" * 10).hexdigest()
    (folder / "t.mf").write_text(f"SHA256(d.vmdk)= {digest}\nSHA256({listed})= {'0' * 64}\n")
    with pytest.raises(PreflightError) as caught:
        collect_upload_files((str(ovf),))
    assert f"the manifest lists {listed!r}, outside its own folder" in str(caught.value)


def test_entity_expansion_is_refused(folder: Path) -> None:
    levels = "abcdefghi"  # each entity is ten of the one before: 10**8 "lol"s
    laughs = (
        '<!DOCTYPE Envelope [<!ENTITY a "lol">'
        + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in pairwise(levels))
        + "]>"
    )
    ovf = write_ovf(folder, body="<Annotation>&i;</Annotation>", prolog=laughs)
    with pytest.raises(PreflightError, match=r"t\.ovf is not a readable OVF descriptor"):
        collect_upload_files((str(ovf),))


def test_external_entities_are_refused(folder: Path) -> None:
    prolog = '<!DOCTYPE Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    ovf = write_ovf(folder, body="<Annotation>&x;</Annotation>", prolog=prolog)
    with pytest.raises(PreflightError, match=r"t\.ovf is not a readable OVF descriptor"):
        collect_upload_files((str(ovf),))


def test_a_fifo_named_like_an_ovf_is_refused_without_blocking(folder: Path) -> None:
    os.mkfifo(folder / "x.ovf")
    outcome = collect_in_thread(folder / "x.ovf")
    assert isinstance(outcome, PreflightError), outcome
    assert "x.ovf is not a regular file (a pipe, socket or device)" in outcome.message


def test_a_fifo_as_a_file_or_a_disk_is_refused(folder: Path) -> None:
    os.mkfifo(folder / "pipe.iso")
    outcome = collect_in_thread(folder / "pipe.iso")
    assert isinstance(outcome, PreflightError) and "pipe.iso is not a regular file" in str(outcome)
    os.mkfifo(folder / "d.vmdk")
    outcome = collect_in_thread(write_ovf(folder, "d.vmdk"))
    assert isinstance(outcome, PreflightError) and "d.vmdk is not a regular file" in str(outcome)


def test_a_device_is_refused() -> None:
    outcome = collect_in_thread(Path("/dev/zero"))
    assert isinstance(outcome, PreflightError) and "/dev/zero is not a regular file" in str(outcome)


def test_preflight_records_size_and_mtime(folder: Path) -> None:
    path = folder / "a.iso"
    path.write_bytes(b"a" * 100)
    (local,) = collect_upload_files((str(path),))
    info = path.stat()
    assert (local.size, local.mtime_ns) == (100, info.st_mtime_ns)
