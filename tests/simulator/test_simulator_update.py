"""UpdateSession semantics: upload, complete, cancel, fail, expiry, validation, retries."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from cl_desktop.simulator import ContentLibraryService
from tests.support.simclient import RawClient, error_type, message, new_http
from tests.support.waiting import poll_until

DATA = b"0123456789" * 1000


def void(raw_client: RawClient) -> int:
    """The one status of an answer without a value: 204 on /api, 200 on /rest."""
    return 204 if raw_client.dialect == "api" else 200


def _tmp_files(svc: ContentLibraryService) -> list[str]:
    return [p.name for p in (svc.data_dir / "tmp").iterdir()]


def test_upload_round_trip(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("round-trip")
    sid = raw_client.create_update_session(item_id)
    uuid.UUID(sid)
    session = raw_client.update_session(sid)
    assert session["state"] == "ACTIVE"
    assert session["library_item_id"] == item_id
    assert session["library_item_content_version"] == "1"
    assert session["client_progress"] == 0
    assert "expiration_time" in session

    info = raw_client.add_file(sid, "disk.iso", size=len(DATA))
    assert info["status"] == "WAITING_FOR_TRANSFER"
    assert info["source_type"] == "PUSH"
    uri = info["upload_endpoint"]["uri"]
    assert uri.startswith(raw_client.base + "/cls/data/")
    r = raw_client.put(uri, DATA)
    assert r.status_code == 200
    ready = raw_client.upload_file(sid, "disk.iso")
    assert ready["status"] == "READY"
    assert ready["bytes_transferred"] == ready["size"] == len(DATA)
    assert ready["checksum_info"] == {
        "algorithm": "SHA1",
        "checksum": hashlib.sha1(DATA).hexdigest(),
    }

    r = raw_client.us_action(sid, "complete")
    assert r.status_code == (204 if raw_client.dialect == "api" else 200)
    assert r.content == b""
    assert raw_client.update_session(sid)["state"] == "DONE"
    item = raw_client.item(item_id)
    assert item["content_version"] == "2"
    assert item["size"] == len(DATA) and item["cached"] is True
    files = raw_client.item_files(item_id)
    assert files == [
        {
            "name": "disk.iso",
            "size": len(DATA),
            "cached": True,
            "version": "1",
            "checksum_info": {"algorithm": "SHA1", "checksum": hashlib.sha1(DATA).hexdigest()},
        }
    ]


def test_rest_shapes_of_update_session(raw_rest: RawClient) -> None:
    item_id = raw_rest.create_item("rest-shapes")
    r = raw_rest.call(
        "POST",
        "/rest/com/vmware/content/library/item/update-session",
        json={"create_spec": {"library_item_id": item_id}},
    )
    assert r.status_code == 200
    sid = r.json()["value"]
    got = raw_rest.call("GET", f"/rest/com/vmware/content/library/item/update-session/id:{sid}")
    assert got.json()["value"]["state"] == "ACTIVE"
    listed = raw_rest.call(
        "GET",
        "/rest/com/vmware/content/library/item/updatesession/file",
        params={"update_session_id": sid},
    )
    assert listed.json() == {"value": []}
    validate = raw_rest.validate(sid)
    assert validate == {"has_errors": False, "missing_files": [], "invalid_files": []}
    r = raw_rest.us_action(sid, "keep-alive", {"client_progress": 5})
    assert r.status_code == 200 and r.content == b""


def test_second_active_session_is_resource_busy(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("busy")
    first = raw_client.create_update_session(item_id)
    spec = {"library_item_id": item_id}
    r = raw_client.call(
        "POST",
        raw_client.us_path(),
        json=spec if raw_client.dialect == "api" else {"create_spec": spec},
    )
    assert r.status_code == 400
    assert error_type(r, raw_client.dialect) == "RESOURCE_BUSY"
    assert first in message(r)
    raw_client.us_action(first, "cancel")
    assert raw_client.create_update_session(item_id) != first


def test_changes_are_invisible_until_complete(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("invisible")
    sid = raw_api.upload(item_id, {"a.bin": DATA}, complete=False)
    assert raw_api.upload_file(sid, "a.bin")["status"] == "READY"
    item = raw_api.item(item_id)
    assert item["content_version"] == "1" and item["size"] == 0
    assert raw_api.item_files(item_id) == []
    # A download session made now sees no files either.
    did = raw_api.create_download_session(item_id)
    assert raw_api.ok("GET", raw_api.ds_path(did) + "/file") == []
    assert raw_api.us_action(sid, "complete").status_code == 204
    assert [f["name"] for f in raw_api.item_files(item_id)] == ["a.bin"]


def test_cancel_discards_received_content(raw_api: RawClient, sim: ContentLibraryService) -> None:
    item_id = raw_api.create_item("cancel")
    sid = raw_api.upload(item_id, {"a.bin": DATA}, complete=False)
    assert len(_tmp_files(sim)) == 1
    r = raw_api.us_action(sid, "cancel")
    assert r.status_code == 204
    assert raw_api.update_session(sid)["state"] == "CANCELED"
    assert _tmp_files(sim) == []
    assert raw_api.item_files(item_id) == []
    # Nothing but get/list/delete is allowed any more.
    for action, body in (
        ("complete", None),
        ("keep-alive", {"client_progress": 50}),
        ("cancel", None),
    ):
        r = raw_api.us_action(sid, action, body)
        assert r.status_code == 400, action
        assert error_type(r) == "NOT_ALLOWED_IN_CURRENT_STATE"
    r = raw_api.call(
        "POST", raw_api.us_path(sid) + "/file", json={"name": "b", "source_type": "PUSH"}
    )
    assert error_type(r) == "NOT_ALLOWED_IN_CURRENT_STATE"
    assert sid in raw_api.ok("GET", raw_api.us_path())


def test_fail_records_client_message(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("fail")
    sid = raw_client.create_update_session(item_id)
    r = raw_client.us_action(sid, "fail", {"client_error_message": "disk read failed"})
    assert r.status_code == void(raw_client)
    session = raw_client.update_session(sid)
    assert session["state"] == "ERROR"
    assert session["error_message"]["default_message"] == "disk read failed"
    assert session["error_message"]["id"]


def test_delete_refused_while_active(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("delete")
    sid = raw_client.create_update_session(item_id)
    r = raw_client.call("DELETE", raw_client.us_path(sid))
    assert r.status_code == 400
    assert error_type(r, raw_client.dialect) == "NOT_ALLOWED_IN_CURRENT_STATE"
    raw_client.us_action(sid, "cancel")
    r = raw_client.call("DELETE", raw_client.us_path(sid))
    assert r.status_code == (204 if raw_client.dialect == "api" else 200)
    r = raw_client.call("GET", raw_client.us_path(sid))
    assert r.status_code == 404 and error_type(r, raw_client.dialect) == "NOT_FOUND"


def test_keep_alive_progress_must_increase(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("keep-alive")
    sid = raw_client.create_update_session(item_id)
    before = raw_client.update_session(sid)["expiration_time"]
    assert raw_client.us_action(sid, "keep-alive", {"client_progress": 10}).status_code == void(
        raw_client
    )
    for bad in (10, 5, 101, -1):
        r = raw_client.us_action(sid, "keep-alive", {"client_progress": bad})
        assert r.status_code == 400, bad
        assert error_type(r, raw_client.dialect) == "INVALID_ARGUMENT"
    assert raw_client.us_action(sid, "keep-alive", {"client_progress": 20}).status_code == void(
        raw_client
    )
    assert raw_client.us_action(sid, "keep-alive", {}).status_code == void(raw_client)
    session = raw_client.update_session(sid)
    assert session["client_progress"] == 20
    assert session["expiration_time"] >= before


def test_idle_session_expires_and_content_is_discarded(
    sim_factory: Callable[..., ContentLibraryService],
) -> None:
    svc = sim_factory(session_timeout=0.3)
    api = RawClient(svc, "api")
    item_id = api.create_item("expire")
    sid = api.create_update_session(item_id)
    info = api.add_file(sid, "a.bin")
    assert api.put(info["upload_endpoint"]["uri"], DATA).status_code == 200
    assert len(_tmp_files(svc)) == 1
    poll_until(lambda: api.call("GET", api.us_path(sid)).status_code == 404)
    assert error_type(api.call("GET", api.us_path(sid))) == "NOT_FOUND"
    assert _tmp_files(svc) == []
    assert api.put(info["upload_endpoint"]["uri"], DATA).status_code == 404
    # The item is free again.
    assert api.create_update_session(item_id) != sid


def test_size_mismatch_makes_file_error(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("size")
    sid = raw_client.create_update_session(item_id)
    info = raw_client.add_file(sid, "a.bin", size=len(DATA) + 1)
    assert raw_client.put(info["upload_endpoint"]["uri"], DATA).status_code == 200
    f = raw_client.upload_file(sid, "a.bin")
    assert f["status"] == "ERROR"
    text = f["error_message"]["default_message"]
    assert str(len(DATA) + 1) in text and str(len(DATA)) in text


def test_checksum_mismatch_then_retry_by_adding_again(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("checksum")
    sid = raw_client.create_update_session(item_id)
    good = hashlib.sha256(DATA).hexdigest()
    wrong = hashlib.sha256(b"other").hexdigest()
    info = raw_client.add_file(
        sid, "a.bin", checksum_info={"algorithm": "SHA256", "checksum": wrong}
    )
    raw_client.put(info["upload_endpoint"]["uri"], DATA)
    f = raw_client.upload_file(sid, "a.bin")
    assert f["status"] == "ERROR"
    assert wrong in f["error_message"]["default_message"]
    assert good in f["error_message"]["default_message"]

    result = raw_client.validate(sid)
    assert result["has_errors"] is True and result["missing_files"] == []
    assert [e["name"] for e in result["invalid_files"]] == ["a.bin"]
    assert result["invalid_files"][0]["error_message"]["default_message"]

    r = raw_client.us_action(sid, "complete")
    assert r.status_code == 400
    assert error_type(r, raw_client.dialect) == "NOT_ALLOWED_IN_CURRENT_STATE"
    assert "a.bin" in message(r)

    # Adding the same name again replaces it: a retry.
    info = raw_client.add_file(
        sid, "a.bin", checksum_info={"algorithm": "SHA256", "checksum": good}
    )
    assert info["status"] == "WAITING_FOR_TRANSFER"
    assert [f["name"] for f in raw_client.session_files(sid)] == ["a.bin"]
    raw_client.put(info["upload_endpoint"]["uri"], DATA)
    ready = raw_client.upload_file(sid, "a.bin")
    assert ready["status"] == "READY"
    assert ready["checksum_info"] == {"algorithm": "SHA256", "checksum": good}
    assert raw_client.us_action(sid, "complete").status_code == void(raw_client)
    # Items report SHA-1 whatever the upload was verified with.
    assert raw_client.item_files(item_id)[0]["checksum_info"] == {
        "algorithm": "SHA1",
        "checksum": hashlib.sha1(DATA).hexdigest(),
    }


def test_validate_and_complete_name_missing_files(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("missing")
    sid = raw_api.create_update_session(item_id)
    raw_api.add_file(sid, "never-sent.bin")
    sent = raw_api.add_file(sid, "sent.bin")
    raw_api.put(sent["upload_endpoint"]["uri"], DATA)
    assert raw_api.validate(sid) == {
        "has_errors": True,
        "missing_files": ["never-sent.bin"],
        "invalid_files": [],
    }
    r = raw_api.us_action(sid, "complete")
    assert r.status_code == 400 and error_type(r) == "NOT_ALLOWED_IN_CURRENT_STATE"
    assert "never-sent.bin" in message(r)
    assert raw_api.update_session(sid)["state"] == "ACTIVE"


def test_remove_and_versions(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("versions")
    raw_client.upload(item_id, {"a.bin": b"a1", "b.bin": b"b1"})
    sid = raw_client.create_update_session(item_id)
    # The session starts from a snapshot of the item's files.
    snapshot = raw_client.session_files(sid)
    assert [(f["name"], f["status"], f["source_type"]) for f in snapshot] == [
        ("a.bin", "READY", "NONE"),
        ("b.bin", "READY", "NONE"),
    ]
    if raw_client.dialect == "api":
        r = raw_client.call("DELETE", raw_client.us_path(sid) + "/file/a.bin")
        assert r.status_code == 204
    else:
        r = raw_client.call(
            "POST",
            f"/rest/com/vmware/content/library/item/updatesession/file/id:{sid}",
            params={"~action": "remove"},
            json={"file_name": "a.bin"},
        )
        assert r.status_code == 200
    # Still there until complete.
    assert [f["name"] for f in raw_client.item_files(item_id)] == ["a.bin", "b.bin"]
    assert [f["name"] for f in raw_client.session_files(sid)] == ["b.bin"]
    info = raw_client.add_file(sid, "b.bin")
    raw_client.put(info["upload_endpoint"]["uri"], b"b2-longer")
    assert raw_client.us_action(sid, "complete").status_code == void(raw_client)
    files = raw_client.item_files(item_id)
    assert [(f["name"], f["version"], f["size"]) for f in files] == [("b.bin", "2", 9)]
    assert raw_client.item(item_id)["content_version"] == "3"


def test_remove_unknown_file_is_invalid(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("remove-unknown")
    sid = raw_api.create_update_session(item_id)
    r = raw_api.call("DELETE", raw_api.us_path(sid) + "/file/nope.bin")
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"
    r = raw_api.call("GET", raw_api.us_path(sid) + "/file/nope.bin")
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"


def test_update_warning_behavior(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("warnings")
    sid = raw_api.create_update_session(item_id)
    behavior = [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": True}]
    r = raw_api.call("PATCH", raw_api.us_path(sid), json={"warning_behavior": behavior})
    assert r.status_code == 204
    assert raw_api.update_session(sid)["warning_behavior"] == behavior
    r = raw_api.call("PATCH", raw_api.us_path(sid), json={"warning_behavior": [{"type": "BOGUS"}]})
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"


def test_session_lists_are_per_user(sim_factory: Callable[..., ContentLibraryService]) -> None:
    svc = sim_factory(users={"admin": "secret", "other": "secret"})
    admin = RawClient(svc, "api")
    other = RawClient(svc, "api", user="admin")
    other.http.headers["vmware-api-session-id"] = (
        new_http().post(svc.base_url + "/api/session", auth=("other", "secret")).json()
    )
    a_item, o_item = admin.create_item("a"), admin.create_item("o")
    mine = admin.create_update_session(a_item)
    theirs = other.create_update_session(o_item)
    assert admin.ok("GET", admin.us_path()) == [mine]
    assert other.ok("GET", other.us_path()) == [theirs]
    assert admin.ok("GET", admin.us_path(), params={"library_item_id": o_item}) == []
    r = admin.call("GET", admin.us_path(), params={"library_item_id": str(uuid.uuid4())})
    assert r.status_code == 404


def test_client_token_on_update_session(raw_api: RawClient, raw_rest: RawClient) -> None:
    item_id = raw_api.create_item("token")
    token = str(uuid.uuid4())
    spec = {"library_item_id": item_id}
    a = raw_api.call("POST", raw_api.us_path(), json=spec, headers={"Client-Token": token})
    b = raw_api.call("POST", raw_api.us_path(), json=spec, headers={"Client-Token": token})
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    r = raw_rest.call(
        "POST", raw_rest.us_path(), json={"create_spec": spec, "client_token": "not-a-uuid"}
    )
    assert r.status_code == 400 and error_type(r, "rest") == "INVALID_ARGUMENT"


def _raw_put(uri: str, head_extra: str, body: bytes, close: bool = True) -> bytes:
    parts = urlsplit(uri)
    sock = socket.create_connection((parts.hostname, parts.port))
    try:
        sock.sendall(
            f"PUT {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{head_extra}\r\n".encode() + body
        )
        if close:
            sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        return sock.recv(65536)
    finally:
        sock.close()


def test_put_that_ends_early_leaves_file_in_error(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("early")
    sid = raw_api.create_update_session(item_id)
    info = raw_api.add_file(sid, "a.bin")
    _raw_put(info["upload_endpoint"]["uri"], "Content-Length: 10000\r\n", DATA[:4000])
    f = poll_until(lambda: (f := raw_api.upload_file(sid, "a.bin"))["status"] == "ERROR" and f)
    assert "4000" in f["error_message"]["default_message"]
    assert f["bytes_transferred"] == 4000


def test_expect_continue_is_answered_only_for_accepted_puts(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("expect")
    sid = raw_api.create_update_session(item_id)
    info = raw_api.add_file(sid, "a.bin")
    uri = info["upload_endpoint"]["uri"]
    parts = urlsplit(uri)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.settimeout(10)
        sock.sendall(
            f"PUT {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Length: {len(DATA)}\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(DATA)
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
    assert raw_api.upload_file(sid, "a.bin")["status"] == "READY"
    # A bad URI gets its final answer at once, without 100 Continue.
    reply = _raw_put(
        uri.replace("/cls/data/", "/cls/data/0"),
        f"Content-Length: {len(DATA)}\r\nExpect: 100-continue\r\n",
        b"",
        close=False,
    )
    assert reply.startswith(b"HTTP/1.1 404")


def test_chunked_upload(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("chunked")
    sid = raw_api.create_update_session(item_id)
    info = raw_api.add_file(sid, "a.bin", size=len(DATA))
    pieces = (DATA[i : i + 3000] for i in range(0, len(DATA), 3000))
    r = new_http().put(info["upload_endpoint"]["uri"], data=pieces)  # Transfer-Encoding: chunked
    assert r.status_code == 200
    f = raw_api.upload_file(sid, "a.bin")
    assert f["status"] == "READY" and f["size"] == len(DATA)


def test_ovf_manifest_is_not_kept(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("appliance", item_type="ovf")
    sid = raw_api.create_update_session(item_id)
    for name in ("vm.mf", "vm.ovf"):
        info = raw_api.add_file(sid, name)
        assert info["keep_in_storage"] is (name == "vm.ovf")
        raw_api.put(info["upload_endpoint"]["uri"], b"<xml/>")
    assert raw_api.us_action(sid, "complete").status_code == 204
    assert [f["name"] for f in raw_api.item_files(item_id)] == ["vm.ovf"]


def test_a_manifest_or_certificate_after_the_descriptor_is_refused(raw_api: RawClient) -> None:
    """vCenter takes a template's .mf and .cert in with its descriptor: added after it, they
    are refused (NOT_ALLOWED_IN_CURRENT_STATE); a plain file after it is fine."""
    item_id = raw_api.create_item("late", item_type="ovf")
    sid = raw_api.create_update_session(item_id)
    raw_api.add_file(sid, "vm.ovf")
    for name in ("vm.mf", "vm.cert"):
        answer = raw_api.call("POST", raw_api.us_path(sid) + "/file",
                              json={"name": name, "source_type": "PUSH"})  # fmt: skip
        assert answer.status_code == 400 and error_type(answer) == "NOT_ALLOWED_IN_CURRENT_STATE"
        assert name in message(answer)
    assert raw_api.add_file(sid, "vm-disk1.vmdk")["name"] == "vm-disk1.vmdk"


def test_invalid_file_specs(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("specs")
    sid = raw_api.create_update_session(item_id)
    for spec in (
        {"source_type": "PUSH"},
        {"name": "../x", "source_type": "PUSH"},
        {"name": "a", "source_type": "PUSH", "size": "big"},
        {
            "name": "a",
            "source_type": "PUSH",
            "checksum_info": {"algorithm": "CRC", "checksum": "0"},
        },
        # PULL (test_simulator_pull.py) needs an http(s) source_endpoint
        {"name": "a", "source_type": "PULL"},
        {"name": "a", "source_type": "PULL", "source_endpoint": {"uri": "file:///etc/passwd"}},
        {"name": "a", "source_type": "PULL", "source_endpoint": {"uri": "http:///no-host"}},
        {
            "name": "a",
            "source_type": "PULL",
            "source_endpoint": {"uri": "https://h/y", "ssl_certificate_thumbprint": "AB:CD"},
        },
    ):
        r = raw_api.call("POST", raw_api.us_path(sid) + "/file", json=spec)
        assert r.status_code == 400, spec
        assert error_type(r) == "INVALID_ARGUMENT"


@pytest.mark.parametrize("refuse", [None, "open", "write"])
def test_large_unaligned_upload_is_byte_exact(
    raw_api: RawClient, monkeypatch: pytest.MonkeyPatch, refuse: str | None
) -> None:
    # Whole 1 MiB blocks go out with O_DIRECT and the tail buffered; a file system
    # that refuses O_DIRECT (at open or at the first write) must fall back silently.
    direct = getattr(os, "O_DIRECT", 0)
    real_open, real_write = os.open, os.write
    refusals = []

    def fake_open(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if refuse == "open" and flags & direct:
            refusals.append(path)
            raise OSError(errno.EINVAL, "O_DIRECT not supported")
        return real_open(path, flags, *args, **kw)

    def fake_write(fd: int, data: Any) -> int:
        if refuse == "write" and direct and fcntl.fcntl(fd, fcntl.F_GETFL) & direct:
            refusals.append(fd)
            raise OSError(errno.EINVAL, "O_DIRECT not supported")
        return real_write(fd, data)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "write", fake_write)
    data = os.urandom((5 << 20) // 2 + 123)
    item_id = raw_api.create_item("unaligned")
    raw_api.upload(item_id, {"a.bin": data})
    [info] = raw_api.item_files(item_id)
    assert info["size"] == len(data)
    assert info["checksum_info"]["checksum"] == hashlib.sha1(data).hexdigest()
    _, uri = raw_api.prepared_uri(item_id, "a.bin")
    assert new_http().get(uri).content == data
    assert len(refusals) == (0 if refuse is None or not direct else 1)


def test_chunked_upload_with_odd_chunks_across_buffers(raw_api: RawClient) -> None:
    data = os.urandom((3 << 20) + 7)
    item_id = raw_api.create_item("odd-chunks")
    sid = raw_api.create_update_session(item_id)
    info = raw_api.add_file(
        sid, "a.bin", checksum_info={"algorithm": "MD5", "checksum": hashlib.md5(data).hexdigest()}
    )
    pieces = (data[i : i + 333_333] for i in range(0, len(data), 333_333))
    assert new_http().put(info["upload_endpoint"]["uri"], data=pieces).status_code == 200
    f = raw_api.upload_file(sid, "a.bin")
    assert f["status"] == "READY" and f["size"] == len(data)
    assert f["checksum_info"] == {"algorithm": "MD5", "checksum": hashlib.md5(data).hexdigest()}


def test_rejected_small_put_keeps_the_connection(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("rejected")
    sid = raw_api.create_update_session(item_id)
    uri = raw_api.add_file(sid, "a.bin")["upload_endpoint"]["uri"]
    http = new_http()
    bad = uri.replace("/cls/data/", "/cls/data/x")
    r = http.put(bad, data=os.urandom(100_000))
    assert r.status_code == 404 and error_type(r) == "NOT_FOUND"
    assert "close" not in r.headers.get("Connection", "")
    assert http.put(uri, data=b"fine").status_code == 200


def test_preview_info_follows_the_ovf_it_receives(raw_client: RawClient) -> None:
    def preview(sid: str) -> dict[str, Any]:
        return dict(raw_client.update_session(sid)["preview_info"])

    iso = raw_client.create_item("preview-iso")
    plain = raw_client.create_update_session(iso)
    raw_client.add_file(plain, "a.iso", size=3)
    assert preview(plain) == {"state": "NOT_APPLICABLE"}

    ovf = raw_client.create_item("preview-ovf", item_type="ovf")
    sid = raw_client.create_update_session(ovf)
    descriptor = raw_client.add_file(sid, "t.ovf", size=5)
    assert preview(sid) == {"state": "PREPARING"}  # the descriptor has not arrived
    assert raw_client.put(descriptor["upload_endpoint"]["uri"], b"<ovf>").status_code == 200
    assert preview(sid) == {"state": "AVAILABLE", "warnings": []}  # unsigned: nothing to warn

    signed = raw_client.create_update_session(raw_client.create_item("signed", item_type="ovf"))
    raw_client.add_file(signed, "t.cert", size=4)  # added before the descriptor, as vCenter wants
    descriptor = raw_client.add_file(signed, "t.ovf", size=5)
    assert raw_client.put(descriptor["upload_endpoint"]["uri"], b"<ovf>").status_code == 200
    assert preview(signed) == {"state": "PREPARING"}  # its signature has not arrived
    # (what a signature raises: test_simulator_signatures.py)


def test_an_ignored_warning_is_shown_as_ignored(raw_client: RawClient) -> None:
    ovf = raw_client.create_item("preview-ignored", item_type="ovf")
    sid = raw_client.upload(ovf, {"t.cert": b"cert", "t.ovf": b"<ovf>"}, complete=False)
    spec = {"warning_behavior": [{"type": "UNTRUSTED_CERTIFICATE", "ignored": True}]}
    if raw_client.dialect == "api":
        raw_client.ok("PATCH", raw_client.us_path(sid), json=spec)
    else:
        raw_client.ok("PATCH", raw_client.us_path(sid), json={"update_spec": spec})
    (warning,) = raw_client.update_session(sid)["preview_info"]["warnings"]
    assert warning["ignored"] is True
