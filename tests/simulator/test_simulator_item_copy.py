"""The item copy operation (`?action=copy` with a destination create spec), in both dialects:
a new item with the source's files, name, description and type unless the spec names them;
vCenter's errors; and a service configured without the operation answers as one lacking it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cl_desktop.simulator import ContentLibraryService
from tests.support.simclient import RawClient, error_type


def copy(client: RawClient, item_id: str, token: str | None = None, **spec: Any) -> Any:
    headers = {"Client-Token": token} if token else {}
    if client.dialect == "api":
        path = f"/api/content/library/item/{item_id}?action=copy"
        return client.call("POST", path, json=spec, headers=headers)
    path = f"/rest/com/vmware/content/library/item/id:{item_id}?~action=copy"
    return client.call("POST", path, json={"destination_create_spec": spec}, headers=headers)


def value(client: RawClient, r: Any) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()["value"] if client.dialect == "rest" else r.json()


def test_a_copy_holds_the_source_files_and_keeps_its_metadata(raw_client: RawClient) -> None:
    library = raw_client.service.default_library_id
    source = raw_client.create_item("disk", item_type="iso")
    raw_client.upload(source, {"a.iso": b"A" * 1000, "b.txt": b"hello"})
    first = value(raw_client, copy(raw_client, source, library_id=library, name="disk copy"))
    item = raw_client.item(first)
    assert (item["name"], item["type"], item["library_id"]) == ("disk copy", "iso", library)
    files = {
        f["name"]: (f["size"], f["checksum_info"]["checksum"]) for f in raw_client.item_files(first)
    }
    assert files == {
        f["name"]: (f["size"], f["checksum_info"]["checksum"])
        for f in raw_client.item_files(source)
    }
    # the same name again: ALREADY_EXISTS, as for a create
    r = copy(raw_client, source, library_id=library, name="disk copy")
    assert error_type(r, raw_client.dialect) == "ALREADY_EXISTS"
    # the same client token: the same item, not a second one
    token = "6f1c0f0e-5a51-4c0e-9a39-0d9f2f8e1a11"
    once = value(raw_client, copy(raw_client, source, token, library_id=library, name="t"))
    assert value(raw_client, copy(raw_client, source, token, library_id=library, name="t")) == once
    # deleting the source leaves the copy whole
    raw_client.ok("DELETE", f"/api/content/library/item/{source}" if raw_client.dialect == "api"
                  else f"/rest/com/vmware/content/library/item/id:{source}")  # fmt: skip
    assert [f["size"] for f in raw_client.item_files(first)] == [1000, 5]


def test_copy_errors(raw_client: RawClient) -> None:
    library = raw_client.service.default_library_id
    source = raw_client.create_item("busy")
    r = copy(raw_client, "no-such-item", library_id=library, name="x")
    assert error_type(r, raw_client.dialect) == "NOT_FOUND"
    r = copy(raw_client, source, library_id="no-such-library", name="x")
    assert error_type(r, raw_client.dialect) == "NOT_FOUND"
    r = copy(raw_client, source, name="x")
    assert error_type(r, raw_client.dialect) == "INVALID_ARGUMENT"
    raw_client.create_update_session(source)
    r = copy(raw_client, source, library_id=library, name="x")
    assert error_type(r, raw_client.dialect) == "RESOURCE_BUSY"


def test_a_service_without_the_operation_answers_404(
    sim_factory: Callable[..., ContentLibraryService],
) -> None:
    service = sim_factory(item_copy=False)
    client = RawClient(service, "api")
    source = client.create_item("plain")
    r = copy(client, source, library_id=service.default_library_id)
    assert (r.status_code, error_type(r)) == (404, "OPERATION_NOT_FOUND")
