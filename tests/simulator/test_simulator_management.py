"""Managing libraries and items: PATCH on libraries, a read-only user refused, a library deleted
with its items and their sessions ended."""

from __future__ import annotations

from typing import Any

import pytest

from cl_desktop.simulator import ContentLibraryService
from tests.support.simclient import RawClient, error_type


def library_path(client: RawClient, library_id: str) -> str:
    if client.dialect == "api":
        return f"/api/content/local-library/{library_id}"
    return f"/rest/com/vmware/content/local-library/id:{library_id}"


def item_path(client: RawClient, item_id: str) -> str:
    if client.dialect == "api":
        return f"/api/content/library/item/{item_id}"
    return f"/rest/com/vmware/content/library/item/id:{item_id}"


def update_body(client: RawClient, **spec: Any) -> dict[str, Any]:
    return spec if client.dialect == "api" else {"update_spec": spec}


def test_library_patch_changes_only_what_it_carries(raw_client: RawClient) -> None:
    path = library_path(raw_client, raw_client.service.default_library_id)
    before = raw_client.ok("GET", path)
    raw_client.ok("PATCH", path, json=update_body(raw_client, description="for ISOs"))
    after = raw_client.ok("GET", path)
    assert (after["name"], after["description"]) == (before["name"], "for ISOs")
    assert int(after["version"]) == int(before["version"]) + 1
    raw_client.ok("PATCH", path, json=update_body(raw_client, name="Renamed"))
    assert raw_client.ok("GET", path)["name"] == "Renamed"
    r = raw_client.call("PATCH", path, json=update_body(raw_client, name=""))
    assert (r.status_code, error_type(r, raw_client.dialect)) == (400, "INVALID_ARGUMENT")


@pytest.mark.parametrize("dialect", ["api", "rest"])
def test_read_only_user_may_not_manage(sim: ContentLibraryService, dialect: str) -> None:
    admin = RawClient(sim, dialect)
    reader = RawClient(sim, dialect, user="reader")
    item_id = admin.create_item("kept")
    library = library_path(reader, sim.default_library_id)
    refused = [
        reader.call("PATCH", library, json=update_body(reader, name="mine")),
        reader.call("DELETE", library),
        reader.call("PATCH", item_path(reader, item_id), json=update_body(reader, name="mine")),
        reader.call("DELETE", item_path(reader, item_id)),
    ]
    assert [(r.status_code, error_type(r, dialect)) for r in refused] == [(403, "UNAUTHORIZED")] * 4
    assert admin.item(item_id)["name"] == "kept"


def test_deleting_a_library_deletes_its_items_and_ends_their_sessions(
    raw_api: RawClient,
) -> None:
    library_id = raw_api.ok(
        "POST",
        "/api/content/local-library",
        json={
            "name": "doomed",
            "type": "LOCAL",
            "storage_backings": [
                {
                    "type": "DATASTORE",
                    "datastore_id": raw_api.ok("GET", "/api/vcenter/datastore")[0]["datastore"],
                }
            ],
        },
    )
    item_id = raw_api.create_item("inside", library_id=library_id)
    sid = raw_api.create_update_session(item_id)
    raw_api.ok("DELETE", library_path(raw_api, library_id))
    r = raw_api.call("GET", item_path(raw_api, item_id))
    assert (r.status_code, error_type(r)) == (404, "NOT_FOUND")
    assert raw_api.update_session(sid)["state"] == "ERROR"
