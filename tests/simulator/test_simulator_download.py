"""DownloadSession semantics: prepare stages, byte ranges, cancel/fail/delete, expiry."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import pytest

from cl_desktop.simulator import ContentLibraryService
from tests.support.simclient import RawClient, error_type, new_http
from tests.support.waiting import poll_until

DATA = os.urandom(200_000)


@pytest.fixture
def item_with_file(raw_api: RawClient) -> str:
    item_id = raw_api.create_item("download-me")
    raw_api.upload(item_id, {"disk.bin": DATA, "small.txt": b"hello"})
    return item_id


def test_create_lists_files_unprepared(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("dl")
    raw_client.upload(item_id, {"disk.bin": DATA})
    did = raw_client.create_download_session(item_id)
    session = raw_client.ok("GET", raw_client.ds_path(did))
    assert session["state"] == "ACTIVE"
    assert session["library_item_id"] == item_id
    assert session["library_item_content_version"] == "2"
    assert session["client_progress"] == 0 and "expiration_time" in session
    if raw_client.dialect == "api":
        files = raw_client.ok("GET", raw_client.ds_path(did) + "/file")
    else:
        files = raw_client.ok(
            "GET",
            "/rest/com/vmware/content/library/item/downloadsession/file",
            params={"download_session_id": did},
        )
    assert files == [{"name": "disk.bin", "status": "UNPREPARED", "bytes_transferred": 0}]


def test_prepare_goes_through_its_stages(
    raw_api: RawClient, sim: ContentLibraryService, item_with_file: str
) -> None:
    sim.faults.prepare_delay(0.15)
    did = raw_api.create_download_session(item_with_file)
    first = raw_api.prepare(did, "disk.bin")
    assert first["status"] == "PREPARE_REQUESTED"
    assert "download_endpoint" not in first
    seen = [first["status"]]

    def probe() -> dict[str, Any] | None:
        info = raw_api.download_file(did, "disk.bin")
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
    assert info["download_endpoint"]["uri"].startswith(raw_api.base + "/cls/data/")


def test_full_download_and_bytes_transferred(raw_api: RawClient, item_with_file: str) -> None:
    did, uri = raw_api.prepared_uri(item_with_file, "disk.bin")
    r = new_http().get(uri)  # no login header needed: the URI carries its token
    assert r.status_code == 200
    assert r.content == DATA
    assert r.headers["Content-Length"] == str(len(DATA))
    assert r.headers["Accept-Ranges"] == "bytes"
    with_header = new_http().get(uri, headers={"vmware-api-session-id": raw_api.token})
    assert with_header.content == DATA
    assert raw_api.download_file(did, "disk.bin")["bytes_transferred"] == 2 * len(DATA)


def test_range_requests(raw_api: RawClient, item_with_file: str) -> None:
    _, uri = raw_api.prepared_uri(item_with_file, "disk.bin")
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


def test_cancel_stops_the_uri(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("cancel-dl")
    raw_client.upload(item_id, {"f.bin": b"abc"})
    did, uri = raw_client.prepared_uri(item_id, "f.bin")
    assert new_http().get(uri).status_code == 200
    r = raw_client.call("POST", raw_client.ds_path(did), params=raw_client.action("cancel"))
    assert r.status_code == (204 if raw_client.dialect == "api" else 200)
    assert raw_client.ok("GET", raw_client.ds_path(did))["state"] == "CANCELED"
    assert new_http().get(uri).status_code == 404
    r = raw_client.call("POST", raw_client.ds_path(did), params=raw_client.action("cancel"))
    assert error_type(r, raw_client.dialect) == "NOT_ALLOWED_IN_CURRENT_STATE"


def test_fail_records_message_and_stops_the_uri(raw_api: RawClient, item_with_file: str) -> None:
    did, uri = raw_api.prepared_uri(item_with_file, "small.txt")
    r = raw_api.call(
        "POST",
        raw_api.ds_path(did),
        params={"action": "fail"},
        json={"client_error_message": "disk full"},
    )
    assert r.status_code == 204
    session = raw_api.ok("GET", raw_api.ds_path(did))
    assert session["state"] == "ERROR"
    assert session["error_message"]["default_message"] == "disk full"
    assert new_http().get(uri).status_code == 404


def test_delete_removes_the_session(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("delete-dl")
    raw_client.upload(item_id, {"f.bin": b"abc"})
    did, uri = raw_client.prepared_uri(item_id, "f.bin")
    r = raw_client.call("DELETE", raw_client.ds_path(did))
    assert r.status_code == (204 if raw_client.dialect == "api" else 200)
    r = raw_client.call("GET", raw_client.ds_path(did))
    assert r.status_code == 404 and error_type(r, raw_client.dialect) == "NOT_FOUND"
    assert new_http().get(uri).status_code == 404
    assert did not in raw_client.ok("GET", raw_client.ds_path())


def test_keep_alive_uses_progress(raw_client: RawClient) -> None:
    item_id = raw_client.create_item("ka-dl")
    did = raw_client.create_download_session(item_id)

    def keep_alive(body: object) -> int:
        r = raw_client.call(
            "POST", raw_client.ds_path(did), params=raw_client.action("keep-alive"), json=body
        )
        return r.status_code

    assert keep_alive({"progress": 30}) in (200, 204)
    assert keep_alive({"progress": 30}) == 400
    assert keep_alive({"progress": 60}) in (200, 204)
    assert raw_client.ok("GET", raw_client.ds_path(did))["client_progress"] == 60


def test_prepare_errors(raw_api: RawClient, item_with_file: str) -> None:
    did = raw_api.create_download_session(item_with_file)
    r = raw_api.call(
        "POST",
        raw_api.ds_path(did) + "/file",
        params={"action": "prepare"},
        json={"file_name": "nope"},
    )
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"
    r = raw_api.call("GET", raw_api.ds_path(did) + "/file", params={"file_name": "nope"})
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"
    raw_api.call("POST", raw_api.ds_path(did), params={"action": "cancel"})
    r = raw_api.call(
        "POST",
        raw_api.ds_path(did) + "/file",
        params={"action": "prepare"},
        json={"file_name": "disk.bin"},
    )
    assert r.status_code == 400 and error_type(r) == "NOT_ALLOWED_IN_CURRENT_STATE"
    r = raw_api.call("POST", raw_api.ds_path(), json={"library_item_id": "no-such-item"})
    assert r.status_code == 404 and error_type(r) == "NOT_FOUND"


def test_download_session_expires(sim_factory: Callable[..., ContentLibraryService]) -> None:
    svc = sim_factory(session_timeout=0.3)
    api = RawClient(svc, "api")
    item_id = api.create_item("expire-dl")
    api.upload(item_id, {"f.bin": b"abc"})
    did, uri = api.prepared_uri(item_id, "f.bin")
    poll_until(lambda: api.call("GET", api.ds_path(did)).status_code == 404)
    assert new_http().get(uri).status_code == 404


def test_empty_file_round_trip(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("empty")
    raw_api.upload(item_id, {"empty.bin": b""})
    [info] = raw_api.item_files(item_id)
    assert info["size"] == 0
    assert info["checksum_info"]["checksum"] == hashlib.sha1(b"").hexdigest()
    _, uri = raw_api.prepared_uri(item_id, "empty.bin")
    r = new_http().get(uri)
    assert r.status_code == 200 and r.content == b"" and r.headers["Content-Length"] == "0"
    assert new_http().get(uri, headers={"Range": "bytes=0-"}).status_code == 416
