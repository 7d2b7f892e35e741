"""Fixtures for the engine: a logged-in client, a library, and a running queue per test on each
server target; `sim`, the embedded service alone, for the tests that need its faults."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import ServerRef
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from tests.support.api import client_for
from tests.support.servers import ServerTarget


@pytest.fixture
def sim(sim_service: Any) -> Any:
    """The embedded service (``sim_service``), under the short name the engine tests use
    for the server whose faults they arm."""
    return sim_service


@pytest.fixture
def api_client(server_target: ServerTarget) -> Iterator[ContentLibraryClient]:
    with client_for(server_target) as c:
        yield c


@pytest.fixture
def server_ref(server_target: ServerTarget) -> ServerRef:
    return ServerRef(server_target.base_url, server_target.username, "auto",
                     server_target.ca_file)  # fmt: skip


@pytest.fixture
def library_id(api_client: ContentLibraryClient, server_target: ServerTarget) -> str:
    datastore = server_target.datastore_id or api_client.datastores.list()[0].datastore
    return api_client.libraries.create_local(f"lib-{uuid.uuid4().hex[:8]}", datastore)


@pytest.fixture
def queue(tmp_path: Path, server_target: ServerTarget) -> Iterator[TransferQueue]:
    clients: list[ContentLibraryClient] = []

    def connect(ref: ServerRef) -> ContentLibraryClient:
        c = client_for(server_target)
        c.login()
        clients.append(c)
        return c

    q = TransferQueue(JobStore(tmp_path / "queue.sqlite"), connect, progress_interval=0.05)
    q.start()
    yield q
    q.shutdown()
    for c in clients:
        c.close()
