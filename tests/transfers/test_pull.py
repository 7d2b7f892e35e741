"""Import from URL (PULL) through the queue: the embedded service pulls from loopback http(s)
sources into new and existing items, on /api and /rest; refused, stalled and cancelled pulls
leave no ACTIVE session and no item the job created."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
import trustme

from cl_desktop.api import ChecksumInfo, ContentLibraryClient, FileInfo, UpdateFileInfo
from cl_desktop.api.transport import sha1_thumbprint
from cl_desktop.transfers.control import RetryPolicy
from cl_desktop.transfers.errors import IntegrityError, PreflightError
from cl_desktop.transfers.jobs import Direction, JobSpec, JobState, Phase, ServerRef, Verification
from cl_desktop.transfers.pull import SourceFacts, _digest_sha1, check_source, verify_pull
from cl_desktop.transfers.queue import TransferQueue
from tests.support.api import active_sessions
from tests.support.files import make_file
from tests.support.jobs import download_spec, started_queue
from tests.support.sources import hanging_source, serve_folder
from tests.support.tls import issue_cert
from tests.support.uploads import ServerLog, ref_for, sim_queue
from tests.support.waiting import wait_until

SIM_ONLY = pytest.mark.parametrize("server_target", ["sim-api", "sim-rest"], indirect=True)

OVF = (
    '<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" '
    'xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"><References>'
    '<File ovf:href="tpl-disk1.vmdk" ovf:id="f1" ovf:size="{size}"/>'
    "</References></Envelope>"
)


def colons(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


def pull_spec(ref: ServerRef, library_id: str, url: str, **kw: Any) -> JobSpec:
    return JobSpec(Direction.UPLOAD, ref, library_id, source_url=url, **kw)


def test_source_urls_and_thumbprints_are_checked_before_anything_moves() -> None:
    sha1 = hashlib.sha1(b"cert").hexdigest()
    form = colons(sha1)
    for spelling in (sha1, sha1.upper(), form, form.lower(), " ".join(form.split(":"))):
        assert sha1_thumbprint(spelling) == form  # "AA:BB:...", as vCenter expects
    with pytest.raises(ValueError, match="40 hex digits"):
        sha1_thumbprint("AB:CD")
    source = check_source("https://h:8443/a/b/Ubuntu%2024.iso?x=1", sha1)
    assert (source.name, source.thumbprint) == ("Ubuntu 24.iso", form)
    assert check_source("http://h/x.ovf").thumbprint is None
    for url, why in [
        ("ftp://h/x.iso", "not an http or https URL"),
        ("file:///etc/passwd", "not an http or https URL"),
        ("http:///x.iso", "names no server"),
        ("http://h/dir/", "does not end in a file name"),
        ("https://h/x.iso", "SHA-1 thumbprint is needed"),
    ]:
        with pytest.raises(PreflightError, match=why):
            check_source(url)


def test_verification_compares_the_item_with_what_the_server_and_the_source_said() -> None:
    data = b"pulled bytes"
    sha1 = hashlib.sha1(data).hexdigest()
    received = UpdateFileInfo("x.iso", size=len(data), checksum_info=ChecksumInfo(sha1))
    stored = FileInfo("x.iso", size=len(data), checksum_info=ChecksumInfo(sha1.upper()))
    digest = "SHA=" + base64.b64encode(hashlib.sha1(data).digest()).decode()
    assert _digest_sha1(f"MD5=xyz, {digest}") == sha1
    facts = SourceFacts(len(data), sha1)
    assert verify_pull(received, stored, facts) == (Verification.VERIFIED, f"SHA1:{sha1}")
    assert verify_pull(received, FileInfo("x.iso", size=len(data)), SourceFacts())[0] is (
        Verification.SIZE_ONLY
    )
    with pytest.raises(IntegrityError, match="the source announced 13"):
        verify_pull(received, stored, SourceFacts(len(data) + 1))
    with pytest.raises(IntegrityError, match="the source's SHA1"):
        verify_pull(received, stored, SourceFacts(None, "0" * 40))
    with pytest.raises(IntegrityError, match="computed"):
        other = UpdateFileInfo("x.iso", size=len(data), checksum_info=ChecksumInfo("1" * 40))
        verify_pull(other, stored, SourceFacts())
    with pytest.raises(IntegrityError, match="missing"):
        verify_pull(received, None, SourceFacts())


def test_a_stored_job_from_before_imports_still_loads() -> None:
    spec = JobSpec(Direction.UPLOAD, ServerRef("https://vc", "u"), "lib", paths=("/a.iso",))
    old = spec.to_json().replace(', "source_url": ""', "").replace(', "source_thumbprint": ""', "")
    assert "source_url" not in old
    assert JobSpec.from_json(old) == spec
    pulled = JobSpec(Direction.UPLOAD, ServerRef("https://vc", "u"), "lib",
                     source_url="https://w/x.iso", source_thumbprint="AA")  # fmt: skip
    assert JobSpec.from_json(pulled.to_json()) == pulled
    assert pulled.title.startswith("https://w/x.iso -> ")  # the queue's row names the URL


@pytest.fixture
def www(tmp_path: Path) -> Path:
    folder = tmp_path / "www"
    folder.mkdir()
    make_file(folder / "disk.iso", 700_000, seed=3)
    (folder / "tpl").mkdir(parents=True)
    disk = make_file(folder / "tpl" / "tpl-disk1.vmdk", 300_000, seed=4)
    (folder / "tpl" / "tpl.ovf").write_text(OVF.format(size=disk.stat().st_size))
    return folder


def _downloaded(queue: TransferQueue, ref: ServerRef, library_id: str, item_id: str,
                dest: Path) -> Path:  # fmt: skip
    """The folder or file the download wrote (several files go into their own folder)."""
    job = queue.wait(queue.add(download_spec(ref, library_id, item_id, dest)), 60)
    assert job.state is JobState.DONE, job.error_message
    target = Path(job.spec.target)
    return target if target.is_dir() else target.parent


@SIM_ONLY
@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_import_a_file_and_an_ovf_into_new_and_existing_items(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, www: Path, tmp_path: Path, tls: bool,
) -> None:  # fmt: skip
    served = issue_cert(trustme.CA(), tmp_path / "cert") if tls else None
    thumbprint = colons(served.sha1) if served is not None else ""
    with serve_folder(www, tls=served) as base:
        job = queue.wait(
            queue.add(pull_spec(server_ref, library_id, base + "disk.iso",
                                source_thumbprint=thumbprint)), 60)  # fmt: skip
        assert job.state is JobState.DONE, job.error_message
        assert job.verification is Verification.VERIFIED
        assert job.item_id is not None
        item = api_client.items.get(job.item_id)
        assert item.name == "disk" and item.type == "iso"

        # an .ovf into an existing item: its disk is pulled relative to the descriptor
        existing = api_client.items.create(library_id, "template", type="ovf")
        ovf = queue.wait(
            queue.add(pull_spec(server_ref, library_id, base + "tpl/tpl.ovf", item_id=existing,
                                source_thumbprint=thumbprint)), 60)  # fmt: skip
        assert ovf.state is JobState.DONE, ovf.error_message
        assert ovf.verification is Verification.VERIFIED
        assert sorted(f.name for f in ovf.files) == ["tpl-disk1.vmdk", "tpl.ovf"]
    assert active_sessions(api_client) == []
    out = _downloaded(queue, server_ref, library_id, job.item_id, tmp_path / "out1")
    assert (out / "disk.iso").read_bytes() == (www / "disk.iso").read_bytes()
    out = _downloaded(queue, server_ref, library_id, existing, tmp_path / "out2")
    for name in ("tpl.ovf", "tpl-disk1.vmdk"):
        assert (out / name).read_bytes() == (www / "tpl" / name).read_bytes()
    sources = {r.extra.get("source_url") for r in queue.history() if r.direction == "upload"}
    assert sources == {base + "disk.iso", base + "tpl/tpl.ovf"}  # the history names them


@SIM_ONLY
def test_wrong_thumbprint_is_refused_and_leaves_nothing(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, www: Path, tmp_path: Path,
) -> None:  # fmt: skip
    served = issue_cert(trustme.CA(), tmp_path / "cert")
    wrong = colons(hashlib.sha1(b"not the certificate").hexdigest())
    before = set(api_client.items.list(library_id))
    with serve_folder(www, tls=served) as base:
        job = queue.wait(
            queue.add(pull_spec(server_ref, library_id, base + "disk.iso",
                                source_thumbprint=wrong)), 60)  # fmt: skip
    assert job.state is JobState.FAILED
    assert "does not match the thumbprint" in job.error_message
    assert wrong in job.error_message and colons(served.sha1) in job.error_message
    assert set(api_client.items.list(library_id)) == before  # the created item is gone
    assert active_sessions(api_client) == []


def test_a_failed_import_ends_its_session_and_item_itself(
    sim_service: Any, monkeypatch: pytest.MonkeyPatch, www: Path, tmp_path: Path
) -> None:
    """The workflow, not the queue's later clean-up, fails (with our message) and deletes the
    session and deletes the item it created, before the row says failed."""
    server = ServerLog(sim_service.backend, monkeypatch)
    served = issue_cert(trustme.CA(), tmp_path / "cert")
    wrong = colons(hashlib.sha1(b"not it").hexdigest())
    with sim_queue(tmp_path / "q.sqlite") as queue, serve_folder(www, tls=served) as base:
        server.watch(queue)
        job = queue.wait(
            queue.add(pull_spec(ref_for(sim_service.base_url), sim_service.default_library_id,
                                base + "disk.iso", source_thumbprint=wrong)), 60)  # fmt: skip
    assert job.state is JobState.FAILED
    (created,) = server.of("create")
    session = created[1]
    assert server.of("fail") == [("fail", session, f"cl_desktop: {job.error_message}"[:1000])]
    ended = server.calls.index(("job", str(job.id), JobState.FAILED.value))
    assert server.calls.index(("delete", session)) < ended, server.calls
    (deleted,) = server.of("delete_item")
    assert server.calls.index(deleted) < ended, server.calls
    assert server.active_sessions() == []
    assert server.empty_items(sim_service.default_library_id) == []


def test_https_without_a_thumbprint_is_refused_before_anything_is_made(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    library = sim_service.default_library_id
    before = set(sim_api_client.items.list(library))
    queue = started_queue(tmp_path / "q.sqlite")
    try:
        job = queue.wait(
            queue.add(pull_spec(ServerRef(sim_service.base_url, "admin"), library,
                                "https://127.0.0.1:1/x.iso")), 60)  # fmt: skip
    finally:
        queue.shutdown()
    assert job.state is JobState.FAILED
    assert "SHA-1 thumbprint is needed" in job.error_message
    assert set(sim_api_client.items.list(library)) == before


def test_a_stalled_source_is_stalled_then_fails(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    library = sim_service.default_library_id
    before = set(sim_api_client.items.list(library))
    policy = RetryPolicy(stall_seconds=1.0, stall_limit=3.0, max_delay=0.5)
    queue = started_queue(tmp_path / "q.sqlite", retry_policy=policy)
    phases: list[Phase] = []
    queue.add_listener(lambda job: phases.append(job.phase))
    try:
        with hanging_source(b"x" * 100_000, declared=1_000_000) as source:
            job = queue.wait(
                queue.add(pull_spec(ServerRef(sim_service.base_url, "admin"), library,
                                    source.url)), 60)  # fmt: skip
    finally:
        queue.shutdown()
    assert Phase.STALLED in phases
    assert job.state is JobState.FAILED
    assert job.error_title == "Transfer stalled"
    assert f"{source.url} stopped sending to the server" in job.error_message
    assert active_sessions(sim_api_client) == []
    assert set(sim_api_client.items.list(library)) == before


def test_a_stalled_source_that_recovers_completes(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    library = sim_service.default_library_id
    policy = RetryPolicy(stall_seconds=1.0, stall_limit=60.0, max_delay=0.5)
    queue = started_queue(tmp_path / "q.sqlite", retry_policy=policy)
    prefix, rest = b"a" * 100_000, b"b" * 200_000
    try:
        with hanging_source(prefix, declared=len(prefix) + len(rest), rest=rest) as source:
            job_id = queue.add(pull_spec(ServerRef(sim_service.base_url, "admin"), library,
                                         source.url))  # fmt: skip
            wait_until(lambda: queue.snapshot(job_id).phase is Phase.STALLED, 30, "stalled")
            source.release()
            job = queue.wait(job_id, 60)
    finally:
        queue.shutdown()
    assert job.state is JobState.DONE, job.error_message
    assert job.item_id is not None
    [stored] = sim_api_client.item_files.list(job.item_id)
    assert stored.checksum_info is not None
    assert stored.checksum_info.checksum == hashlib.sha1(prefix + rest).hexdigest()


def test_cancel_mid_pull(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    library = sim_service.default_library_id
    before = set(sim_api_client.items.list(library))
    queue = started_queue(tmp_path / "q.sqlite")
    try:
        with hanging_source(b"x" * 50_000, declared=1_000_000) as source:
            job_id = queue.add(pull_spec(ServerRef(sim_service.base_url, "admin"), library,
                                         source.url))  # fmt: skip
            wait_until(lambda: queue.snapshot(job_id).bytes_done == 50_000, 30, "bytes")
            queue.cancel(job_id)
            job = queue.wait(job_id, 30)
    finally:
        queue.shutdown()
    assert job.state is JobState.CANCELED
    assert active_sessions(sim_api_client) == []
    assert set(sim_api_client.items.list(library)) == before
    wait_until(lambda: not list((sim_service.data_dir / "tmp").iterdir()), 10, "temp gone")


def test_pause_keeps_the_pull_going_and_resume_finishes_it(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    library = sim_service.default_library_id
    queue = started_queue(tmp_path / "q.sqlite")
    prefix, rest = b"a" * 50_000, b"b" * 150_000
    try:
        with hanging_source(prefix, declared=len(prefix) + len(rest), rest=rest) as source:
            job_id = queue.add(pull_spec(ServerRef(sim_service.base_url, "admin"), library,
                                         source.url))  # fmt: skip
            wait_until(lambda: queue.snapshot(job_id).bytes_done == len(prefix), 30, "bytes")
            queue.pause(job_id)
            paused = wait_until(
                lambda: (j := queue.snapshot(job_id)).state is JobState.PAUSED and j, 30, "paused"
            )
            assert paused.session_id and active_sessions(sim_api_client) == [paused.session_id]
            assert "sent again" not in paused.note  # the server goes on pulling meanwhile
            source.release()
            queue.resume(job_id)
            job = queue.wait(job_id, 60)
    finally:
        queue.shutdown()
    assert job.state is JobState.DONE, job.error_message
    assert len(source.requests) == 1  # the same pull, never started again
    assert job.item_id is not None
    [stored] = sim_api_client.item_files.list(job.item_id)
    assert stored.size == len(prefix) + len(rest)
    assert active_sessions(sim_api_client) == []


@pytest.mark.vcsim
@pytest.mark.parametrize("server_target", ["vcsim"], indirect=True)
def test_vcsim_pulls_a_file_over_http(
    queue: TransferQueue, api_client: ContentLibraryClient, server_ref: ServerRef,
    library_id: str, www: Path,
) -> None:  # fmt: skip
    """vcsim 0.24.2 fetches a PULL file (no progress, no checksum, no .ovf references, no
    thumbprint check: docs/PROTOCOL.md); the engine's import still ends DONE, size only."""
    with serve_folder(www) as base:
        job = queue.wait(queue.add(pull_spec(server_ref, library_id, base + "disk.iso")), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.SIZE_ONLY
    assert job.item_id is not None
    [stored] = api_client.item_files.list(job.item_id)
    assert stored.name == "disk.iso" and stored.size == (www / "disk.iso").stat().st_size
    assert active_sessions(api_client) == []
