"""Byte transfers on a server trusted by pin: the data URLs are verified against the same pin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from cl_desktop.api.transport import origin
from cl_desktop.credentials import trust
from cl_desktop.services.connection import Connector, default_client_factory
from cl_desktop.transfers.jobs import JobState, ServerRef
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.files import make_file
from tests.support.jobs import download_spec, upload_spec
from tests.support.tls import ServedCert, issue_cert, swap_certificate


@pytest.fixture
def pinned_queue(
    tls_sim: tuple[Any, ServedCert], tmp_path: Path
) -> Iterator[tuple[TransferQueue, ServerRef]]:
    """A queue logging in through the window's client factory to a server trusted by pin only
    (no CA file anywhere: the job's ServerRef names none)."""
    service, served = tls_sim
    _, host, port = origin(service.base_url)
    assert port is not None
    trust.trust(host, port, served.sha256, "CN=test")
    ref = ServerRef(service.base_url, SIM_USER)
    connector = Connector(default_client_factory)
    connector.set_password(ref, SIM_PASSWORD)
    queue = TransferQueue(JobStore(tmp_path / "queue.sqlite"), connector, progress_interval=0.05)
    queue.start()
    yield queue, ref
    queue.shutdown()
    connector.close_all()


def test_upload_and_download_on_a_pinned_server(
    pinned_queue: tuple[TransferQueue, ServerRef], tls_sim: tuple[Any, ServedCert], tmp_path: Path
) -> None:
    queue, ref = pinned_queue
    service, _ = tls_sim
    source = make_file(tmp_path / "disk.iso", 2 * 1024 * 1024 + 5)
    up = queue.wait(queue.add(upload_spec(ref, service.default_library_id, source)), 60)
    assert up.state is JobState.DONE, up.error_message
    assert up.item_id
    dest = tmp_path / "out"
    down = queue.wait(
        queue.add(download_spec(ref, service.default_library_id, up.item_id, dest)), 60
    )
    assert down.state is JobState.DONE, down.error_message
    assert (dest / source.name).read_bytes() == source.read_bytes()

    # The server now presents another certificate: the same job fails on trust, not retried.
    swap_certificate(service, issue_cert(trustme.CA(), tmp_path / "other-cert"))
    again = queue.wait(
        queue.add(download_spec(ref, service.default_library_id, up.item_id, tmp_path / "b")),
        60,
    )
    assert again.state is JobState.FAILED
    assert "pinned fingerprint" in (again.error_message or ""), again.error_message
    assert not (tmp_path / "b" / source.name).exists()
