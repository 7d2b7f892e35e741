"""PULL: the service fetches a file from an http(s) URL (loopback sources), as vCenter does."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
import trustme

from cl_desktop.simulator import ContentLibraryService
from tests.support.simclient import RawClient, error_type, message
from tests.support.sources import hanging_source, serve_folder
from tests.support.tls import issue_cert
from tests.support.waiting import poll_until

DATA = bytes(range(256)) * 2400  # 600 KiB


def _colons(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


def _pull(
    raw: RawClient, sid: str, name: str, uri: str, spec: Any = None, **endpoint: Any
) -> dict[str, Any]:
    """Add a PULL file; `spec`: more AddSpec members (size, checksum_info)."""
    return raw.add_file(
        sid, name, source_type="PULL", source_endpoint={"uri": uri, **endpoint}, **(spec or {})
    )


def _settled(raw: RawClient, sid: str, name: str) -> dict[str, Any]:
    return poll_until(
        lambda: (f := raw.upload_file(sid, name))["status"] in ("READY", "ERROR") and f
    )


def _pull_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sim-pull-")]


@pytest.fixture
def www(tmp_path: Path) -> Path:
    folder = tmp_path / "www"
    folder.mkdir()
    (folder / "disk.iso").write_bytes(DATA)
    return folder


def test_pull_over_http_is_ready_with_size_and_sha1(raw_client: RawClient, www: Path) -> None:
    with serve_folder(www) as base:
        item_id = raw_client.create_item("pulled")
        sid = raw_client.create_update_session(item_id)
        info = _pull(raw_client, sid, "disk.iso", base + "disk.iso")
        assert info["source_type"] == "PULL"
        assert info["status"] in ("WAITING_FOR_TRANSFER", "TRANSFERRING")
        assert "upload_endpoint" not in info
        assert info["source_endpoint"]["uri"] == base + "disk.iso"
        ready = _settled(raw_client, sid, "disk.iso")
        assert ready["status"] == "READY", ready
        assert ready["size"] == ready["bytes_transferred"] == len(DATA)
        assert ready["checksum_info"]["checksum"] == hashlib.sha1(DATA).hexdigest()
        assert raw_client.us_action(sid, "complete").status_code in (200, 204)
        assert raw_client.update_session(sid)["state"] == "DONE"
        [stored] = raw_client.item_files(item_id)
        assert stored["size"] == len(DATA)
        assert stored["checksum_info"]["checksum"] == hashlib.sha1(DATA).hexdigest()


def test_bytes_transferred_grows_under_throttling(
    sim: ContentLibraryService, raw_api: RawClient, www: Path
) -> None:
    sim.faults.throttle(400_000)  # 600 KiB in about 1.5 s
    with serve_folder(www) as base:
        sid = raw_api.create_update_session(raw_api.create_item("slow"))
        _pull(raw_api, sid, "disk.iso", base + "disk.iso")
        seen: set[int] = set()

        def partial() -> bool:
            f = raw_api.upload_file(sid, "disk.iso")
            if f["status"] == "TRANSFERRING":
                seen.add(f["bytes_transferred"])
                assert f["size"] == len(DATA)  # the source's Content-Length, known early
            return f["status"] == "READY"

        poll_until(partial, interval=0.05)
    assert len({n for n in seen if 0 < n < len(DATA)}) >= 2, seen


def test_missing_source_is_an_error_with_the_http_status(raw_client: RawClient, www: Path) -> None:
    with serve_folder(www) as base:
        sid = raw_client.create_update_session(raw_client.create_item("gone"))
        _pull(raw_client, sid, "nothing.iso", base + "nothing.iso")
        failed = _settled(raw_client, sid, "nothing.iso")
    assert failed["status"] == "ERROR"
    assert "HTTP 404" in failed["error_message"]["default_message"]
    r = raw_client.us_action(sid, "complete")
    assert error_type(r, raw_client.dialect) == "NOT_ALLOWED_IN_CURRENT_STATE"
    assert "HTTP 404" in message(r)


def test_refused_connection_is_named(raw_api: RawClient) -> None:
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    sid = raw_api.create_update_session(raw_api.create_item("refused"))
    _pull(raw_api, sid, "x.iso", f"http://127.0.0.1:{port}/x.iso")
    failed = _settled(raw_api, sid, "x.iso")
    assert "connection refused" in failed["error_message"]["default_message"]


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "ds:///vmfs/volumes/x/y.iso", "ftp://h/x"])
def test_only_http_and_https_sources(raw_client: RawClient, uri: str) -> None:
    sid = raw_client.create_update_session(raw_client.create_item("scheme"))
    spec = {"name": "x.iso", "source_type": "PULL", "source_endpoint": {"uri": uri}}
    if raw_client.dialect == "api":
        r = raw_client.call("POST", raw_client.us_path(sid) + "/file", json=spec)
    else:
        r = raw_client.call(
            "POST",
            f"/rest/com/vmware/content/library/item/updatesession/file/id:{sid}",
            params={"~action": "add"},
            json={"file_spec": spec},
        )
    assert error_type(r, raw_client.dialect) == "INVALID_ARGUMENT"
    assert "http and https" in message(r)


def test_https_source_by_thumbprint(raw_api: RawClient, www: Path, tmp_path: Path) -> None:
    served = issue_cert(trustme.CA(), tmp_path / "cert")
    with serve_folder(www, tls=served) as base:
        sid = raw_api.create_update_session(raw_api.create_item("tls"))
        # vCenter's form (colons, upper case) and a lower-case one are both taken
        _pull(
            raw_api,
            sid,
            "disk.iso",
            base + "disk.iso",
            ssl_certificate_thumbprint=_colons(served.sha1),
        )
        _pull(
            raw_api,
            sid,
            "lower.iso",
            base + "disk.iso",
            ssl_certificate_thumbprint=_colons(served.sha1).lower(),
        )
        assert _settled(raw_api, sid, "disk.iso")["status"] == "READY"
        assert _settled(raw_api, sid, "lower.iso")["status"] == "READY"

        wrong = hashlib.sha1(b"another certificate").hexdigest()
        _pull(
            raw_api, sid, "wrong.iso", base + "disk.iso", ssl_certificate_thumbprint=_colons(wrong)
        )
        refused = _settled(raw_api, sid, "wrong.iso")["error_message"]["default_message"]
        assert _colons(wrong) in refused and _colons(served.sha1) in refused

        _pull(raw_api, sid, "untrusted.iso", base + "disk.iso")  # no thumbprint: a CA must vouch
        untrusted = _settled(raw_api, sid, "untrusted.iso")["error_message"]["default_message"]
        assert "not trusted" in untrusted


def test_cancel_stops_a_pull_blocked_on_its_source(
    sim: ContentLibraryService, raw_client: RawClient
) -> None:
    before = set(_pull_threads())
    with hanging_source(b"x" * 10_000, declared=1_000_000) as source:
        sid = raw_client.create_update_session(raw_client.create_item("hang"))
        _pull(raw_client, sid, "slow.iso", source.url)
        poll_until(lambda: raw_client.upload_file(sid, "slow.iso")["bytes_transferred"] == 10_000)
        assert list((sim.data_dir / "tmp").iterdir())  # the partial file is on disk
        running = set(_pull_threads()) - before
        assert running
        raw_client.us_action(sid, "cancel")
        for thread in running:
            thread.join(timeout=5)
            assert not thread.is_alive()  # stopped although the source never closed
        poll_until(lambda: not list((sim.data_dir / "tmp").iterdir()))


def test_stall_fault_and_idle_timeout_end_a_pull_in_error(sim_factory: Any, www: Path) -> None:
    sim = sim_factory(pull_idle_timeout=0.5)
    raw = RawClient(sim, "api")
    with hanging_source(b"x" * 1000, declared=5000) as source:
        sid = raw.create_update_session(raw.create_item("idle"))
        _pull(raw, sid, "slow.iso", source.url)
        failed = _settled(raw, sid, "slow.iso")["error_message"]["default_message"]
    assert "sent nothing for 0.5 s after 1000 bytes" in failed
    sim.faults.stall(5000, which="pull", seconds=0.2)
    with serve_folder(www) as base:
        _pull(raw, sid, "stall.iso", base + "disk.iso")
        stalled = _settled(raw, sid, "stall.iso")["error_message"]["default_message"]
    assert "stopped sending after 5000 bytes" in stalled


def test_complete_while_pulling_finishes_later(
    sim: ContentLibraryService, raw_client: RawClient, www: Path
) -> None:
    sim.faults.throttle(1_000_000)
    with serve_folder(www) as base:
        item_id = raw_client.create_item("later")
        sid = raw_client.create_update_session(item_id)
        _pull(raw_client, sid, "disk.iso", base + "disk.iso")
        assert raw_client.us_action(sid, "complete").status_code in (200, 204)
        assert raw_client.update_session(sid)["state"] == "ACTIVE"
        poll_until(lambda: raw_client.update_session(sid)["state"] == "DONE")
    assert [f["name"] for f in raw_client.item_files(item_id)] == ["disk.iso"]


def test_a_pull_failing_after_complete_puts_the_session_in_error(raw_api: RawClient) -> None:
    with hanging_source(b"x" * 100, declared=1000) as source:
        sid = raw_api.create_update_session(raw_api.create_item("late-error"))
        _pull(raw_api, sid, "slow.iso", source.url)
        source.sent.wait(10)
        raw_api.us_action(sid, "complete")
        assert raw_api.update_session(sid)["state"] == "ACTIVE"
        source.release()  # closes after 100 of the 1000 bytes it announced
        session = poll_until(lambda: (s := raw_api.update_session(sid))["state"] != "ACTIVE" and s)
    assert session["state"] == "ERROR"
    assert "100 of 1000 bytes" in session["error_message"]["default_message"]


OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
          xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:href="{href}" ovf:id="file1" ovf:size="{size}"/>
  </References>
  <DiskSection><Info>disks</Info></DiskSection>
</Envelope>
"""


def test_ovf_descriptor_brings_its_disks(raw_client: RawClient, www: Path) -> None:
    (www / "vm").mkdir()
    (www / "vm" / "vm.ovf").write_text(OVF.format(href="vm-disk1.vmdk", size=len(DATA)))
    (www / "vm" / "vm-disk1.vmdk").write_bytes(DATA)
    with serve_folder(www) as base:
        item_id = raw_client.create_item("vm", item_type="ovf")
        sid = raw_client.create_update_session(item_id)
        _pull(raw_client, sid, "vm.ovf", base + "vm/vm.ovf")
        disk = poll_until(
            lambda: next(
                (f for f in raw_client.session_files(sid) if f["name"] == "vm-disk1.vmdk"), None
            )
        )
        assert disk["source_type"] == "PULL"
        assert disk["source_endpoint"]["uri"] == base + "vm/vm-disk1.vmdk"
        assert _settled(raw_client, sid, "vm-disk1.vmdk")["status"] == "READY"
        raw_client.us_action(sid, "complete")
        poll_until(lambda: raw_client.update_session(sid)["state"] == "DONE")
    names = sorted(f["name"] for f in raw_client.item_files(item_id))
    assert names == ["vm-disk1.vmdk", "vm.ovf"]


@pytest.mark.parametrize(
    ("href", "why"),
    [
        ("../secret.vmdk", "outside its folder"),
        ("http://198.51.100.7/x.vmdk", "another server"),
        ("sub/x.vmdk", "not a plain file name"),
    ],
)
def test_hostile_ovf_references_are_refused(
    raw_api: RawClient, www: Path, href: str, why: str
) -> None:
    (www / "vm").mkdir()
    (www / "vm" / "vm.ovf").write_text(OVF.format(href=href, size=10))
    with serve_folder(www) as base:
        sid = raw_api.create_update_session(raw_api.create_item("bad", item_type="ovf"))
        _pull(raw_api, sid, "vm.ovf", base + "vm/vm.ovf")
        failed = _settled(raw_api, sid, "vm.ovf")
    assert failed["status"] == "ERROR"
    assert why in failed["error_message"]["default_message"]
    assert [f["name"] for f in raw_api.session_files(sid)] == ["vm.ovf"]


def test_ovf_with_a_doctype_is_refused(raw_api: RawClient, www: Path) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Envelope>&a;</Envelope>'
    (www / "bomb.ovf").write_text(bomb)
    with serve_folder(www) as base:
        sid = raw_api.create_update_session(raw_api.create_item("bomb", item_type="ovf"))
        _pull(raw_api, sid, "bomb.ovf", base + "bomb.ovf")
        failed = _settled(raw_api, sid, "bomb.ovf")
    assert "DOCTYPE" in failed["error_message"]["default_message"]


def test_addspec_size_and_checksum_are_checked_and_a_drop_fault_cuts_the_pull(
    sim: ContentLibraryService, raw_api: RawClient, www: Path
) -> None:
    with serve_folder(www) as base:
        sid = raw_api.create_update_session(raw_api.create_item("checked"))
        _pull(raw_api, sid, "short.iso", base + "disk.iso", {"size": len(DATA) - 1})
        _pull(raw_api, sid, "long.iso", base + "disk.iso", {"size": len(DATA) + 1})
        bad = {"algorithm": "SHA1", "checksum": "0" * 40}
        _pull(raw_api, sid, "sum.iso", base + "disk.iso", {"checksum_info": bad})
        good = {"algorithm": "SHA256", "checksum": hashlib.sha256(DATA).hexdigest()}
        _pull(raw_api, sid, "ok.iso", base + "disk.iso", {"size": len(DATA), "checksum_info": good})
        assert (
            "more than" in _settled(raw_api, sid, "short.iso")["error_message"]["default_message"]
        )
        assert (
            "Size mismatch"
            in _settled(raw_api, sid, "long.iso")["error_message"]["default_message"]
        )
        assert (
            "Checksum mismatch"
            in _settled(raw_api, sid, "sum.iso")["error_message"]["default_message"]
        )
        assert _settled(raw_api, sid, "ok.iso")["checksum_info"] == good
        sim.faults.drop_after_bytes(4096, which="pull")
        _pull(raw_api, sid, "cut.iso", base + "disk.iso")
        cut = _settled(raw_api, sid, "cut.iso")["error_message"]["default_message"]
    assert "dropped the connection after 4096 bytes" in cut


def test_expiry_and_service_stop_end_running_pulls(sim_factory: Any) -> None:
    before = set(_pull_threads())
    sim = sim_factory()
    raw = RawClient(sim, "api")
    with hanging_source(b"x" * 1000, declared=100_000) as source:
        sid = raw.create_update_session(raw.create_item("expiring"))
        _pull(raw, sid, "slow.iso", source.url)
        poll_until(lambda: raw.upload_file(sid, "slow.iso")["bytes_transferred"] == 1000)
        assert sim.faults.expire_session(sid)
        poll_until(lambda: not (set(_pull_threads()) - before))
        other = raw.create_update_session(raw.create_item("stopping"))
        _pull(raw, other, "slow.iso", source.url)
        poll_until(lambda: raw.upload_file(other, "slow.iso")["bytes_transferred"] == 1000)
        sim.stop()
        assert not (set(_pull_threads()) - before)  # stop waited for the aborted pull
