"""The REST client as the tests use it: one for a server target, and what it sees on the server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cl_desktop.api import ContentLibraryClient, TlsSettings, UpdateSessionState

if TYPE_CHECKING:
    from tests.support.servers import ServerTarget


PROTOCOL_NOTES = (Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md").read_text()


def vcsim_deviation(target: ServerTarget, difference: str) -> bool:
    """True on vcsim, whose `difference` from vCenter (named in docs/PROTOCOL.md) changes the
    expected answer."""
    assert f"**{difference}**" in PROTOCOL_NOTES, f"not in docs/PROTOCOL.md: {difference}"
    return target.kind == "vcsim"


def client_for(target: ServerTarget) -> ContentLibraryClient:
    return ContentLibraryClient(
        target.base_url, target.username, target.password, tls=TlsSettings(ca_file=target.ca_file)
    )


def active_sessions(client: ContentLibraryClient) -> list[str]:
    """Update or download sessions of this user still ACTIVE on the server."""
    active = []
    for sid in client.update_sessions.list():
        if client.update_sessions.get(sid).state is UpdateSessionState.ACTIVE:
            active.append(sid)
    for sid in client.download_sessions.list():
        state = client.download_sessions.get(sid).state
        if state is not None and state.value == "ACTIVE":
            active.append(sid)
    return active


def item_file_sizes(client: ContentLibraryClient, library_id: str, name: str) -> list[int]:
    ids = client.items.find(name=name, library_id=library_id)
    return [f.size or 0 for item in ids for f in client.item_files.list(item)]
