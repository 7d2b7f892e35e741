"""DownloadSession semantics: prepare stages, byte ranges, cancel/fail/delete, expiry."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import pytest

from cl_desktop.simulator import ContentLibraryService
from tests.support.simclient import Client, error_type, new_http
from tests.support.waiting import poll_until

DATA = os.urandom(200_000)


@pytest.fixture
def item_with_file(api: Client) -> str:
    item_id = api.create_item("download-me")
    api.upload(item_id, {"disk.bin": DATA, "small.txt": b"hello"})
    return item_id


def test_create_lists_files_unprepared(client: Client) -> None:
    item_id = client.create_item("dl")
    client.upload(item_id, {"disk.bin": DATA})
    did = client.create_download_session(item_id)
    session = client.ok("GET", client.ds_path(did))
    assert session["state"] == "ACTIVE"
    assert session["library_item_id"] == item_id
    assert session["library_item_content_version"] == "2"
    assert session["client_progress"] == 0 and "expiration_time" in session
    if client.dialect == "api":
        files = client.ok("GET", client.ds_path(did) + "/file")
    else:
        files = client.ok(
            "GET",
            "/rest/com/vmware/content/library/item/downloadsession/file",
            params={"download_session_id": did},
        )
    assert files == [{"name": "disk.bin", "status": "UNPREPARED", "bytes_transferred": 0}]


def test_prepare_goes_through_its_stages(
    api: Client, sim: ContentLibraryService, item_with_file: str
) -> None:
    sim.faults.prepare_delay(0.15)
    did = api.create_download_session(item_with_file)
    first = api.prepare(did, "disk.bin")
    assert first["status"] == "PREPARE_REQUESTED"
    assert "download_endpoint" not in first
    seen = [first["status"]]

    def probe() -> dict[str, Any] | None:
        info = api.download_file(did, "disk.bin")
        if info["status"] != seen[-1]:
            seen.append(info["status"])
        return info if info["status"] == "PREPARED" else None

    info = poll_until(probe)
    assert seen == ["PREPARE_REQUESTED", "PREPARING", "PREPARED"]
    assert info["size"] == len(DATA)
    assert info["checksum_info"] == {
        "algorithm": "SHA1",
        "checksum": hashlib.sha1(DATA).hexdigest(),
    }
    assert info["download_endpoint"]["uri"].startswith(api.base + "/cls/data/")


def test_full_download_and_bytes_transferred(api: Client, item_with_file: str) -> None:
    did, uri = api.prepared_uri(item_with_file, "disk.bin")
    r = new_http().get(uri)  # no login header needed: the URI carries its token
    assert r.status_code == 200
    assert r.content == DATA
    assert r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["Accept-Ranges"] == "bytes"
    with_header = new_http().get(uri, headers={"vmware-api-session-id": api.token})
    assert with_header.content == DATA
    assert api.download_file(did, "disk.bin")["bytes_transferred"] == 2 * len(DATA)


def test_range_requests(api: Client, item_with_file: str) -> None:
    _, uri = api.prepared_uri(item_with_file, "disk.bin")
    http = new_http()
    size = len(DATA)
    cases = {
        "bytes=10-19": (10, 19),
        "bytes=1000-": (1000, size - 1),
        "bytes=-5": (size - 5, size - 1),
        f"bytes=100-{size + 50}": (100, size - 1),
    }
    for header, (first, last) in cases.items():
        r = http.get(uri, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert r.headers["Accept-Ranges"] == "bytes"
        assert r.content == DATA[first : last + 1]
    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}"):
        r = http.get(uri, headers={"Range": header})
        assert r.status_code == 416, header
        assert r.headers["Content-Range"] == f"bytes */{size}"
    # Multiple ranges are not supported: the whole file, as HTTP allows.
    r = http.get(uri, headers={"Range": "bytes=0-1,5-6"})
    assert r.status_code == 200 and r.content == DATA
    head = http.head(uri)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(size)


def test_cancel_stops_the_uri(client: Client) -> None:
    item_id = client.create_item("cancel-dl")
    client.upload(item_id, {"f.bin": b"abc"})
    did, uri = client.prepared_uri(item_id, "f.bin")
    assert new_http().get(uri).status_code == 200
    r = client.call("POST", client.ds_path(did), params=client.action("cancel"))
    assert r.status_code == (204 if client.dialect == "api" else 200)
    assert client.ok("GET", client.ds_path(did))["state"] == "CANCELED"
    assert new_http().get(uri).status_code == 404
    r = client.call("POST", client.ds_path(did), params=client.action("cancel"))
    assert error_type(r, client.dialect) == "NOT_ALLOWED_IN_CURRENT_STATE"


def test_fail_records_message_and_stops_the_uri(api: Client, item_with_file: str) -> None:
    did, uri = api.prepared_uri(item_with_file, "small.txt")
    r = api.call(
        "POST",
        api.ds_path(did),
        params={"action": "fail"},
        json={"client_error_message": "disk full"},
    )
    assert r.status_code == 204
    session = api.ok("GET", api.ds_path(did))
    assert session["state"] == "ERROR"
    assert session["error_message"]["default_message"] == "disk full"
    assert new_http().get(uri).status_code == 404


def test_delete_removes_the_session(client: Client) -> None:
    item_id = client.create_item("delete-dl")
    client.upload(item_id, {"f.bin": b"abc"})
    did, uri = client.prepared_uri(item_id, "f.bin")
    r = client.call("DELETE", client.ds_path(did))
    assert r.status_code == (204 if client.dialect == "api" else 200)
    r = client.call("GET", client.ds_path(did))
    assert r.status_code == 404 and error_type(r, client.dialect) == "NOT_FOUND"
    assert new_http().get(uri).status_code == 404
    assert did not in client.ok("GET", client.ds_path())


def test_keep_alive_uses_progress(client: Client) -> None:
    item_id = client.create_item("ka-dl")
    did = client.create_download_session(item_id)

    def keep_alive(body: object) -> int:
        r = client.call("POST", client.ds_path(did), params=client.action("keep-alive"), json=body)
        return r.status_code

    assert keep_alive({"progress": 30}) in (200, 204)
    assert keep_alive({"progress": 30}) == 400
    assert keep_alive({"progress": 60}) in (200, 204)
    assert client.ok("GET", client.ds_path(did))["client_progress"] == 60


def test_prepare_errors(api: Client, item_with_file: str) -> None:
    did = api.create_download_session(item_with_file)
    r = api.call(
        "POST", api.ds_path(did) + "/file", params={"action": "prepare"}, json={"file_name": "nope"}
    )
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"
    r = api.call("GET", api.ds_path(did) + "/file", params={"file_name": "nope"})
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"
    api.call("POST", api.ds_path(did), params={"action": "cancel"})
    r = api.call(
        "POST",
        api.ds_path(did) + "/file",
        params={"action": "prepare"},
        json={"file_name": "disk.bin"},
    )
    assert r.status_code == 400 and error_type(r) == "NOT_ALLOWED_IN_CURRENT_STATE"
    r = api.call("POST", api.ds_path(), json={"library_item_id": "no-such-item"})
    assert r.status_code == 404 and error_type(r) == "NOT_FOUND"


def test_download_session_expires(sim_factory: Callable[..., ContentLibraryService]) -> None:
    svc = sim_factory(session_timeout=0.3)
    api = Client(svc, "api")
    item_id = api.create_item("expire-dl")
    api.upload(item_id, {"f.bin": b"abc"})
    did, uri = api.prepared_uri(item_id, "f.bin")
    poll_until(lambda: api.call("GET", api.ds_path(did)).status_code == 404)
    assert new_http().get(uri).status_code == 404


def test_empty_file_round_trip(api: Client) -> None:
    item_id = api.create_item("empty")
    api.upload(item_id, {"empty.bin": b""})
    [info] = api.item_files(item_id)
    assert info["size"] == 0
    assert info["checksum_info"]["checksum"] == hashlib.sha1(b"").hexdigest()
    _, uri = api.prepared_uri(item_id, "empty.bin")
    r = new_http().get(uri)
    assert r.status_code == 200 and r.content == b"" and r.headers["Content-Length"] == "0"
    assert new_http().get(uri, headers={"Range": "bytes=0-"}).status_code == 416
