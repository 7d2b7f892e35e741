"""Pure rules: safe local names from hostile server names, item types, integrity verdicts."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ChecksumAlgorithm, ChecksumInfo, FileInfo
from cl_desktop.transfers import download
from cl_desktop.transfers.errors import DiskFullError, IntegrityError, LocalError
from cl_desktop.transfers.hashing import BackgroundWriter
from cl_desktop.transfers.jobs import Verification
from cl_desktop.transfers.naming import (
    UnsafeNameError,
    infer_item_type,
    item_name_for,
    safe_local_name,
    unique_item_name,
    unique_path,
)
from cl_desktop.transfers.ovf import LocalFile
from cl_desktop.transfers.upload import verify_upload


@pytest.mark.parametrize(
    ("server_name", "local"),
    [
        ("disk 1.vmdk", "disk 1.vmdk"),
        ("ünïcode %20.iso", "ünïcode %20.iso"),
        ("../../etc/passwd", "passwd"),
        ("/abs/path.iso", "path.iso"),
        ("C:\\Windows\\evil.dll", "evil.dll"),
        ("C:evil.txt", "evil.txt"),
        ("CON.txt", "_CON.txt"),
        ("lpt1", "_lpt1"),
        ("a<b>c?.iso", "a_b_c_.iso"),
        ("name. ", "name"),
    ],
)
def test_server_names_are_made_safe(server_name: str, local: str) -> None:
    assert safe_local_name(server_name) == local


@pytest.mark.parametrize("bad", ["..", ".", "", "a\x00b", "dir/..", "  "])
def test_unusable_server_names_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeNameError):
        safe_local_name(bad)


def test_item_types_and_names() -> None:
    assert [infer_item_type(n) for n in ("a.ISO", "b.ovf", "c.ova", "d.vmdk")] == [
        "iso", "ovf", "ovf", "file"]  # fmt: skip
    assert item_name_for("/x/Ubuntu.iso") == "Ubuntu" and item_name_for("run.sh") == "run.sh"
    assert unique_item_name("A", {"a", "A (2)"}) == "A (3)"


def test_unique_path(tmp_path: Path) -> None:
    (tmp_path / "f.iso").touch()
    assert unique_path(tmp_path / "f.iso") == tmp_path / "f (2).iso"


def test_verify_upload_verdicts(tmp_path: Path) -> None:
    data = b"abc" * 100
    path = tmp_path / "f"
    path.write_bytes(data)
    local = LocalFile(path, "f", len(data))
    sha1 = hashlib.sha1(data).hexdigest()
    verdict = verify_upload(local, FileInfo("f", len(data), checksum_info=ChecksumInfo(sha1)), sha1)
    assert verdict == (Verification.VERIFIED, f"SHA1:{sha1}")
    sha256 = hashlib.sha256(data).hexdigest()  # another algorithm: one more local read
    info = FileInfo("f", len(data), checksum_info=ChecksumInfo(sha256, ChecksumAlgorithm.SHA256))
    assert verify_upload(local, info, sha1)[0] is Verification.VERIFIED
    assert verify_upload(local, FileInfo("f", len(data)), sha1)[0] is Verification.SIZE_ONLY
    with pytest.raises(IntegrityError, match="SHA1 on the server"):
        verify_upload(local, FileInfo("f", len(data), checksum_info=ChecksumInfo("00")), sha1)
    with pytest.raises(IntegrityError, match="stored 5 bytes"):
        verify_upload(local, FileInfo("f", 5), sha1)
    with pytest.raises(IntegrityError, match="missing"):
        verify_upload(local, None, sha1)


class _FullDisk(io.BytesIO):
    """A file whose disk fills up after the first block: a real ENOSPC cannot be produced on
    this machine's test disk without root-only mounts, so only `write` is replaced."""

    def write(self, block: Any) -> int:
        if self.tell() > 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(block)


def test_disk_full_is_a_clear_error(tmp_path: Path) -> None:
    part = tmp_path / "a.iso.part"
    writer = BackgroundWriter(_FullDisk(), lambda exc: download._write_error(exc, part))
    writer.write(b"first block")
    with pytest.raises(DiskFullError, match=r"is full; a\.iso\.part keeps what arrived"):
        for _ in range(100):  # the error surfaces on a later write or on finish
            writer.write(b"more")
        writer.finish()
    writer.close()


def test_not_enough_free_space_is_refused_before_downloading(tmp_path: Path) -> None:
    with pytest.raises(DiskFullError, match="bytes free"):
        download._check_free_space(tmp_path, {"a": tmp_path / "a"}, {"a": 1 << 60})


def test_background_hasher_matches_hashlib() -> None:
    from cl_desktop.transfers.hashing import BackgroundHasher

    blocks = [os.urandom(n) for n in (1, 1 << 20, 12345, 0, 999_999)]
    hasher = BackgroundHasher("sha1", depth=2)
    for block in blocks:
        hasher.update(block)
    assert hasher.hexdigest() == hashlib.sha1(b"".join(blocks)).hexdigest()
    assert hasher.hexdigest() == hasher.hexdigest()  # idempotent


def test_an_unusable_name_is_a_local_error_naming_the_file() -> None:
    with pytest.raises(LocalError) as caught:  # a problem here, not an answer from the server
        safe_local_name("..")
    error = caught.value
    assert isinstance(error, UnsafeNameError)
    assert error.title == "Unusable file name"
    assert "'..'" in error.message and "rename the file" in error.message


def _list_with_name(bad: str) -> Callable[[str, bytes], bytes]:
    """Rewrite a download session's file list (and only it) to show `bad` as the name."""

    def rewrite(path: str, content: bytes) -> bytes:
        value = json.loads(content)
        if "download-session/" in path and path.endswith("/file") and isinstance(value, list):
            value = [{**entry, "name": bad} for entry in value]
        return json.dumps(value).encode()

    return rewrite


@pytest.mark.parametrize("bad", [".", "..", "a\x00b", "../"], ids=["dot", "dotdot", "nul", "up"])
def test_a_server_listing_an_unusable_name_fails_the_job_after_ending_the_session(
    sim_service: Any, tmp_path: Path, bad: str
) -> None:
    from cl_desktop.api import ContentLibraryClient
    from cl_desktop.transfers.control import RetryPolicy
    from cl_desktop.transfers.jobs import JobState, ServerRef
    from tests.support.api import active_sessions
    from tests.support.fault_proxy import FaultProxy
    from tests.support.files import make_file
    from tests.support.jobs import download_spec, started_queue, upload_spec

    with FaultProxy(sim_service.base_url) as proxy:
        queue = started_queue(tmp_path / "q.sqlite", retry_policy=RetryPolicy(reconnect_window=5))
        ref, library = ServerRef(proxy.base_url, "admin"), sim_service.default_library_id
        try:
            source = make_file(tmp_path / "n.iso", 10_000)
            up = queue.wait(queue.add(upload_spec(ref, library, source)), 60)
            assert up.item_id is not None
            proxy.rewrite = _list_with_name(bad)
            dest = tmp_path / "dl"
            job = queue.wait(queue.add(download_spec(ref, library, up.item_id, dest)), 60)
        finally:
            queue.shutdown()
        ended = [c for c in proxy.calls if "fail" in c[2].get("action", [])]
    assert job.state is JobState.FAILED
    assert job.error_title == "Unusable file name"
    assert repr(bad) in job.error_message
    assert os.listdir(dest) == []
    assert len(ended) == 1 and job.session_id is None  # ended with the reason, then deleted
    with ContentLibraryClient(sim_service.base_url, "admin", "secret") as client:
        assert active_sessions(client) == []
        assert list(client.download_sessions.list()) == []


def test_cl_transfer_reports_an_unusable_name_without_a_traceback(
    sim_service: Any, tmp_path: Path
) -> None:
    from tests.support.cli import cli
    from tests.support.fault_proxy import FaultProxy
    from tests.support.files import make_file

    db = str(tmp_path / "q.sqlite")
    with FaultProxy(sim_service.base_url) as proxy:
        source = make_file(tmp_path / "t.iso", 10_000)
        up = cli(proxy.base_url, "--queue-db", db, "--json", "upload", "--create",
                 "Local library/t", str(source))  # fmt: skip
        assert up.returncode == 0, up.stderr
        item_id = json.loads(up.stdout)[0]["item_id"]
        proxy.rewrite = _list_with_name(".")
        down = cli(proxy.base_url, "--queue-db", db, "download", item_id, str(tmp_path / "dl"))
    assert down.returncode == 1, (down.stdout, down.stderr)
    assert "Traceback" not in down.stderr + down.stdout
    assert "Unusable file name" in down.stdout + down.stderr
    assert "'.'" in down.stdout + down.stderr
