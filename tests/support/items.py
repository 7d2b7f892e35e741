"""Items with known files, made straight through the REST client (no queue, no job)."""

from __future__ import annotations

import io

from cl_desktop.api import AddSpec, ContentLibraryClient


def put_item(client: ContentLibraryClient, library_id: str, name: str,
             files: dict[str, bytes]) -> str:  # fmt: skip
    """An item holding `files` (created when the library has none of that name)."""
    found = client.items.find(name=name, library_id=library_id)
    item_id = found[0] if found else client.items.create(library_id, name, type="file")
    session = client.update_sessions.create(item_id)
    for file_name, data in files.items():
        info = client.update_session_files.add(session, AddSpec(file_name, size=len(data)))
        assert info.upload_endpoint is not None
        client.upload(info.upload_endpoint.uri, io.BytesIO(data), len(data))
    client.update_sessions.complete(session)
    client.update_sessions.delete(session)
    return item_id


def stored_checksum(client: ContentLibraryClient, library_id: str, item: str) -> str:
    """The checksum of the one file of the item named `item`."""
    (item_id,) = client.items.find(name=item, library_id=library_id)
    (stored,) = client.item_files.list(item_id)
    assert stored.checksum_info is not None
    return stored.checksum_info.checksum.lower()
