"""Wire shapes of both dialects: sessions, errors, datastores, libraries, items, files, storage."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from cl_desktop.simulator import ContentLibraryService
from tests.support.simclient import RawClient, error_type, message, new_http
from tests.support.waiting import poll_until

# -- login sessions ----------------------------------------------------------------------------


def test_api_session_create_get_delete(sim: ContentLibraryService) -> None:
    http = new_http()
    r = http.post(sim.base_url + "/api/session", auth=("admin", "secret"))
    assert r.status_code == 201
    token = r.json()
    assert isinstance(token, str) and token
    headers = {"vmware-api-session-id": token}
    info = http.get(sim.base_url + "/api/session", headers=headers)
    assert info.status_code == 200
    assert info.json()["user"] == "admin"
    assert {"created_time", "last_accessed_time"} <= set(info.json())
    assert http.delete(sim.base_url + "/api/session", headers=headers).status_code == 204
    gone = http.get(sim.base_url + "/api/session", headers=headers)
    assert gone.status_code == 401
    assert error_type(gone) == "UNAUTHENTICATED"


def test_rest_session_create_get_delete(sim: ContentLibraryService) -> None:
    http = new_http()
    url = sim.base_url + "/rest/com/vmware/cis/session"
    r = http.post(url, auth=("admin", "secret"), headers={"vmware-use-header-authn": "true"})
    assert r.status_code == 200
    assert "Set-Cookie" not in r.headers
    token = r.json()["value"]
    headers = {"vmware-api-session-id": token}
    got = http.post(url, params={"~action": "get"}, headers=headers)
    assert got.status_code == 200 and got.json()["value"]["user"] == "admin"
    assert http.get(url, headers=headers).json()["value"]["user"] == "admin"
    deleted = http.delete(url, headers=headers)
    assert deleted.status_code == 200 and deleted.content == b""
    gone = http.get(url, headers=headers)
    assert gone.status_code == 401
    assert error_type(gone, "rest") == "UNAUTHENTICATED"


def test_rest_login_sets_cookie_that_authenticates(sim: ContentLibraryService) -> None:
    http = new_http()
    r = http.post(sim.base_url + "/rest/com/vmware/cis/session", auth=("admin", "secret"))
    assert "vmware-api-session-id" in r.headers["Set-Cookie"]
    # requests keeps the cookie (Path=/rest) and sends it back.
    assert http.get(sim.base_url + "/rest/com/vmware/content/library").status_code == 200


@pytest.mark.parametrize(
    ("dialect", "path"), [("api", "/api/session"), ("rest", "/rest/com/vmware/cis/session")]
)
def test_bad_credentials_are_401(sim: ContentLibraryService, dialect: str, path: str) -> None:
    http = new_http()
    for auth in (("admin", "wrong"), ("nobody", "secret")):
        r = http.post(sim.base_url + path, auth=auth)
        assert r.status_code == 401
        assert error_type(r, dialect) == "UNAUTHENTICATED"
    assert http.post(sim.base_url + path).status_code == 401  # no credentials at all


@pytest.mark.parametrize(
    ("dialect", "path"),
    [("api", "/api/content/library"), ("rest", "/rest/com/vmware/content/library")],
)
def test_calls_need_a_valid_session(sim: ContentLibraryService, dialect: str, path: str) -> None:
    http = new_http()
    for headers in ({}, {"vmware-api-session-id": "not-a-token"}):
        r = http.get(sim.base_url + path, headers=headers)
        assert r.status_code == 401
        assert error_type(r, dialect) == "UNAUTHENTICATED"
        body = r.json() if dialect == "api" else r.json()["value"]
        assert body["messages"][0]["default_message"] == "Authentication required."


def test_login_token_expires_when_idle(sim_factory: Callable[..., ContentLibraryService]) -> None:
    svc = sim_factory(login_timeout=0.2)
    api = RawClient(svc, "api")
    assert api.call("GET", "/api/content/library").status_code == 200
    # Watch from the side (any call with the token would keep it alive).
    poll_until(lambda: svc.backend.dump()["logins"] == [])
    r = api.call("GET", "/api/content/library")
    assert r.status_code == 401 and error_type(r) == "UNAUTHENTICATED"


# -- errors and routing ------------------------------------------------------------------------


def test_unknown_path_is_operation_not_found(raw_api: RawClient, raw_rest: RawClient) -> None:
    r = raw_api.call("GET", "/api/content/nothing-here")
    assert r.status_code == 404 and error_type(r) == "OPERATION_NOT_FOUND"
    r = raw_rest.call("GET", "/rest/com/vmware/content/nothing")
    assert r.status_code == 404 and error_type(r, "rest") == "OPERATION_NOT_FOUND"
    r = raw_api.call("POST", "/api/content/library", params={"action": "no-such-action"}, json={})
    assert r.status_code == 404 and error_type(r) == "OPERATION_NOT_FOUND"
    assert new_http().get(raw_api.base + "/elsewhere").status_code == 404


def test_bad_json_is_invalid_argument(raw_api: RawClient, raw_rest: RawClient) -> None:
    r = raw_api.call(
        "POST",
        "/api/content/library/item",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"
    r = raw_rest.call("POST", "/rest/com/vmware/content/library/item", data=b"[1,")
    assert r.status_code == 400 and error_type(r, "rest") == "INVALID_ARGUMENT"


@pytest.mark.parametrize("served", ["api", "rest"])
def test_a_dialect_can_be_switched_off(
    sim_factory: Callable[..., ContentLibraryService], served: str
) -> None:
    svc = sim_factory(dialects=frozenset({served}))
    http = new_http()
    api = http.post(svc.base_url + "/api/session", auth=("admin", "secret"))
    rest = http.post(svc.base_url + "/rest/com/vmware/cis/session", auth=("admin", "secret"))
    assert api.status_code == (201 if served == "api" else 404)
    assert rest.status_code == (200 if served == "rest" else 404)


# -- datastores and libraries --------------------------------------------------------------------


def test_datastore_listing(raw_api: RawClient, raw_rest: RawClient) -> None:
    for ds in (
        raw_api.ok("GET", "/api/vcenter/datastore"),
        raw_rest.ok("GET", "/rest/vcenter/datastore"),
    ):
        assert len(ds) == 1
        entry = ds[0]
        assert entry["datastore"] == "datastore-1"
        assert entry["name"] == "datastore1" and entry["type"] == "VMFS"
        assert 0 < entry["free_space"] <= entry["capacity"]
    assert raw_api.ok("GET", "/api/vcenter/datastore/datastore-1")["name"] == "datastore1"


def test_default_library(
    raw_api: RawClient, raw_rest: RawClient, sim: ContentLibraryService
) -> None:
    lib_id = sim.default_library_id
    assert raw_api.ok("GET", "/api/content/library") == [lib_id]
    raw = raw_rest.call("GET", "/rest/com/vmware/content/library")
    assert raw.json() == {"value": [lib_id]}
    for lib in (
        raw_api.ok("GET", f"/api/content/library/{lib_id}"),
        raw_rest.ok("GET", f"/rest/com/vmware/content/library/id:{lib_id}"),
    ):
        assert lib["id"] == lib_id and lib["name"] == "Local library" and lib["type"] == "LOCAL"
        assert lib["storage_backings"] == [{"type": "DATASTORE", "datastore_id": "datastore-1"}]


def test_library_find_is_case_insensitive(
    raw_api: RawClient, raw_rest: RawClient, sim: ContentLibraryService
) -> None:
    lib_id = sim.default_library_id
    found = raw_api.ok(
        "POST", "/api/content/library", params={"action": "find"}, json={"name": "LOCAL LIBRARY"}
    )
    assert found == [lib_id]
    found = raw_rest.ok(
        "POST",
        "/rest/com/vmware/content/library",
        params={"~action": "find"},
        json={"spec": {"name": "local library"}},
    )
    assert found == [lib_id]
    assert (
        raw_api.ok("POST", "/api/content/library", params={"action": "find"}, json={"name": "x"})
        == []
    )
    r = raw_api.call("POST", "/api/content/library", params={"action": "find"}, json={})
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT"


def test_local_library_create_and_delete_api(raw_api: RawClient) -> None:
    spec = {
        "name": "lib-a",
        "type": "LOCAL",
        "storage_backings": [{"type": "DATASTORE", "datastore_id": "datastore-1"}],
    }
    r = raw_api.call("POST", "/api/content/local-library", json=spec)
    assert r.status_code == 201
    lib_id = r.json()
    uuid.UUID(lib_id)
    assert lib_id in raw_api.ok("GET", "/api/content/library")
    dup = raw_api.call("POST", "/api/content/local-library", json=spec)
    assert dup.status_code == 400 and error_type(dup) == "ALREADY_EXISTS"
    r = raw_api.call("DELETE", f"/api/content/local-library/{lib_id}")
    assert r.status_code == 204 and r.content == b""
    gone = raw_api.call("GET", f"/api/content/library/{lib_id}")
    assert gone.status_code == 404 and error_type(gone) == "NOT_FOUND"


def test_local_library_create_and_delete_rest(raw_rest: RawClient) -> None:
    spec = {
        "name": "lib-r",
        "type": "LOCAL",
        "storage_backings": [{"type": "DATASTORE", "datastore_id": "datastore-1"}],
    }
    r = raw_rest.call("POST", "/rest/com/vmware/content/local-library", json={"create_spec": spec})
    assert r.status_code == 200
    lib_id = r.json()["value"]
    r = raw_rest.call("DELETE", f"/rest/com/vmware/content/local-library/id:{lib_id}")
    assert r.status_code == 200 and r.content == b""
    r = raw_rest.call("GET", f"/rest/com/vmware/content/library/id:{lib_id}")
    assert r.status_code == 404 and error_type(r, "rest") == "NOT_FOUND"


def test_library_with_unknown_datastore_is_invalid(raw_client: RawClient) -> None:
    spec = {
        "name": "bad",
        "type": "LOCAL",
        "storage_backings": [{"type": "DATASTORE", "datastore_id": "datastore-99"}],
    }
    if raw_client.dialect == "api":
        r = raw_client.call("POST", "/api/content/local-library", json=spec)
    else:
        r = raw_client.call(
            "POST", "/rest/com/vmware/content/local-library", json={"create_spec": spec}
        )
    assert r.status_code == 400 and error_type(r, raw_client.dialect) == "INVALID_ARGUMENT"
    assert "datastore-99" in message(r)


# -- items -----------------------------------------------------------------------------------


def test_item_crud_api(raw_api: RawClient, sim: ContentLibraryService) -> None:
    lib = sim.default_library_id
    r = raw_api.call(
        "POST", "/api/content/library/item", json={"library_id": lib, "name": "disk", "type": "iso"}
    )
    assert r.status_code == 201
    item_id = r.json()
    uuid.UUID(item_id)
    item = raw_api.item(item_id)
    assert item["name"] == "disk" and item["library_id"] == lib and item["type"] == "iso"
    assert item["size"] == 0 and item["cached"] is False
    assert item["content_version"] == "1" and item["metadata_version"] == "1"
    assert raw_api.ok("GET", "/api/content/library/item", params={"library_id": lib}) == [item_id]
    r = raw_api.call(
        "PATCH", f"/api/content/library/item/{item_id}", json={"name": "disk2", "description": "d"}
    )
    assert r.status_code == 204
    item = raw_api.item(item_id)
    assert item["name"] == "disk2" and item["description"] == "d"
    assert item["metadata_version"] == "2"
    found = raw_api.ok(
        "POST", "/api/content/library/item", params={"action": "find"}, json={"name": "DISK2"}
    )
    assert found == [item_id]
    assert raw_api.call("DELETE", f"/api/content/library/item/{item_id}").status_code == 204
    r = raw_api.call("GET", f"/api/content/library/item/{item_id}")
    assert r.status_code == 404 and error_type(r) == "NOT_FOUND"


def test_item_crud_rest(raw_rest: RawClient, sim: ContentLibraryService) -> None:
    lib = sim.default_library_id
    base = "/rest/com/vmware/content/library/item"
    item_id = raw_rest.ok("POST", base, json={"create_spec": {"library_id": lib, "name": "r1"}})
    assert raw_rest.ok("GET", base, params={"library_id": lib}) == [item_id]
    r = raw_rest.call("PATCH", f"{base}/id:{item_id}", json={"update_spec": {"name": "r2"}})
    assert r.status_code == 200 and r.content == b""
    assert raw_rest.item(item_id)["name"] == "r2"
    found = raw_rest.ok(
        "POST", base, params={"~action": "find"}, json={"spec": {"name": "R2", "library_id": lib}}
    )
    assert found == [item_id]
    r = raw_rest.call("DELETE", f"{base}/id:{item_id}")
    assert r.status_code == 200 and r.content == b""
    assert raw_rest.ok("GET", base, params={"library_id": lib}) == []


def test_duplicate_item_name_is_already_exists(raw_client: RawClient) -> None:
    raw_client.create_item("Same-Name")
    spec = {"library_id": raw_client.service.default_library_id, "name": "same-name"}
    if raw_client.dialect == "api":
        r = raw_client.call("POST", "/api/content/library/item", json=spec)
    else:
        r = raw_client.call(
            "POST", "/rest/com/vmware/content/library/item", json={"create_spec": spec}
        )
    assert r.status_code == 400 and error_type(r, raw_client.dialect) == "ALREADY_EXISTS"
    assert "same-name" in message(r)


def test_item_in_unknown_library_is_not_found(raw_api: RawClient) -> None:
    r = raw_api.call(
        "POST", "/api/content/library/item", json={"library_id": str(uuid.uuid4()), "name": "x"}
    )
    assert r.status_code == 404 and error_type(r) == "NOT_FOUND"


def test_client_token_makes_create_idempotent(
    raw_api: RawClient, raw_rest: RawClient, sim: ContentLibraryService
) -> None:
    token = str(uuid.uuid4())
    spec = {"library_id": sim.default_library_id, "name": "idem"}
    first = raw_api.call(
        "POST", "/api/content/library/item", json=spec, headers={"Client-Token": token}
    )
    again = raw_api.call(
        "POST", "/api/content/library/item", json=spec, headers={"Client-Token": token}
    )
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    rtoken = str(uuid.uuid4())
    body = {
        "create_spec": {"library_id": sim.default_library_id, "name": "idem-r"},
        "client_token": rtoken,
    }
    a = raw_rest.ok("POST", "/rest/com/vmware/content/library/item", json=body)
    b = raw_rest.ok("POST", "/rest/com/vmware/content/library/item", json=body)
    assert a == b
    bad = raw_api.call(
        "POST", "/api/content/library/item", json=spec, headers={"Client-Token": "nope"}
    )
    assert bad.status_code == 400 and error_type(bad) == "INVALID_ARGUMENT"


def test_item_files_and_storage_shapes(raw_api: RawClient, raw_rest: RawClient) -> None:
    item_id = raw_api.create_item("files")
    raw_api.upload(item_id, {"a.bin": b"hello", "b.bin": b"world!"})
    files = raw_api.item_files(item_id)
    assert [f["name"] for f in files] == ["a.bin", "b.bin"]
    a = raw_api.ok("GET", f"/api/content/library/item/{item_id}/file", params={"name": "a.bin"})
    assert a == {
        "name": "a.bin",
        "size": 5,
        "cached": True,
        "version": "1",
        "checksum_info": {
            "algorithm": "SHA1",
            "checksum": "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
        },
    }
    r = raw_api.call("GET", f"/api/content/library/item/{item_id}/file", params={"name": "zzz"})
    assert r.status_code == 404 and error_type(r) == "NOT_FOUND"
    rest_a = raw_rest.ok(
        "POST",
        f"/rest/com/vmware/content/library/item/file/id:{item_id}",
        params={"~action": "get"},
        json={"name": "a.bin"},
    )
    assert rest_a == a
    assert raw_rest.item_files(item_id) == files

    storage = raw_api.ok("GET", f"/api/content/library/item/{item_id}/storage")
    assert len(storage) == 2
    one = raw_api.ok(
        "GET", f"/api/content/library/item/{item_id}/storage", params={"file_name": "b.bin"}
    )
    assert isinstance(one, list) and len(one) == 1
    entry = one[0]
    lib = raw_api.service.default_library_id
    assert entry["storage_backing"] == {"type": "DATASTORE", "datastore_id": "datastore-1"}
    assert entry["storage_uris"] == [
        f"ds:///vmfs/volumes/datastore-1/contentlib-{lib}/{item_id}/b.bin_1"
    ]
    assert entry["name"] == "b.bin" and entry["size"] == 6 and entry["cached"] is True
    assert entry["version"] == "1" and entry["checksum_info"]["algorithm"] == "SHA1"
    rest_one = raw_rest.ok(
        "POST",
        f"/rest/com/vmware/content/library/item/storage/id:{item_id}",
        params={"~action": "get"},
        json={"file_name": "b.bin"},
    )
    assert rest_one == one
    listed = raw_rest.ok(
        "GET", "/rest/com/vmware/content/library/item/storage", params={"library_item_id": item_id}
    )
    assert listed == storage


# vCenter's generated clients (the official SDK among them) send the key of these GETs bare in
# the query and its value in a JSON body; the project's client sends ``?key=value``. Both work.
_BARE_KEY_GETS = [
    ("file", "name"),
    ("storage", "file_name"),
    ("download", "file_name"),
    ("items", "library_id"),
]


def _bare_key_get(raw_api: RawClient, which: str) -> tuple[str, str, Any]:
    """(path, value, expected answer) for one of the GETs that take a bare query key."""
    item_id = raw_api.create_item(f"bare-{which}")
    raw_api.upload(item_id, {"a.bin": b"hello"})
    if which == "items":
        return "/api/content/library/item", raw_api.service.default_library_id, [item_id]
    if which == "download":
        did = raw_api.create_download_session(item_id)
        return (
            f"/api/content/library/item/download-session/{did}/file",
            "a.bin",
            {
                "name": "a.bin",
                "bytes_transferred": 0,
                "status": "UNPREPARED",
            },
        )
    path = f"/api/content/library/item/{item_id}/{which}"
    answer = raw_api.ok("GET", path, params={"name" if which == "file" else "file_name": "a.bin"})
    return path, "a.bin", answer


@pytest.mark.parametrize(("which", "key"), _BARE_KEY_GETS, ids=[w for w, _ in _BARE_KEY_GETS])
def test_a_bare_query_key_takes_its_value_from_the_body(
    raw_api: RawClient, which: str, key: str
) -> None:
    path, value, expected = _bare_key_get(raw_api, which)
    assert raw_api.ok("GET", f"{path}?{key}", json={key: value}) == expected
    assert raw_api.ok("GET", path, params={key: value}) == expected
    # the query's value wins over a body that says otherwise
    assert raw_api.ok("GET", path, params={key: value}, json={key: "other"}) == expected


@pytest.mark.parametrize(("which", "key"), _BARE_KEY_GETS, ids=[w for w, _ in _BARE_KEY_GETS])
def test_a_bare_query_key_without_a_value_is_invalid_argument(
    raw_api: RawClient, which: str, key: str
) -> None:
    path, _, _ = _bare_key_get(raw_api, which)
    for r in (
        raw_api.call("GET", f"{path}?{key}"),
        raw_api.call("GET", f"{path}?{key}", json={}),
        raw_api.call("GET", f"{path}?{key}="),
        raw_api.call("GET", f"{path}?{key}", json={key: None}),
    ):
        assert r.status_code == 400, (r.request.url, r.text)
        assert error_type(r) == "INVALID_ARGUMENT"
        assert message(r) == f"'{key}' is required."


# -- read-only users ---------------------------------------------------------------------------


def test_readonly_user_can_read_but_not_create(
    sim: ContentLibraryService, raw_api: RawClient
) -> None:
    item_id = raw_api.create_item("ro-target")
    ro = RawClient(sim, "api", user="reader")
    assert ro.ok("GET", "/api/content/library") == [sim.default_library_id]
    assert ro.item(item_id)["name"] == "ro-target"
    attempts = [
        ("/api/content/library/item", {"library_id": sim.default_library_id, "name": "x"}),
        (
            "/api/content/local-library",
            {
                "name": "l",
                "storage_backings": [{"type": "DATASTORE", "datastore_id": "datastore-1"}],
            },
        ),
        ("/api/content/library/item/update-session", {"library_item_id": item_id}),
        ("/api/content/library/item/download-session", {"library_item_id": item_id}),
    ]
    for path, spec in attempts:
        r = ro.call("POST", path, json=spec)
        assert r.status_code == 403, path
        assert error_type(r) == "UNAUTHORIZED"
    rro = RawClient(sim, "rest", user="reader")
    r = rro.call(
        "POST",
        "/rest/com/vmware/content/library/item/update-session",
        json={"create_spec": {"library_item_id": item_id}},
    )
    assert r.status_code == 403 and error_type(r, "rest") == "UNAUTHORIZED"
