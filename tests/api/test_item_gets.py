"""Item GETs (thousands for a big library) take the client's lean path, `transport.lean_get`:
the session's own pool, so its kept-alive connections and its trust settings (CA file, pin)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import trustme
import urllib3

from cl_desktop.api import ContentLibraryClient, TlsSettings
from cl_desktop.api.errors import ConnectionRefused, PinMismatch
from cl_desktop.api.transport import POOL_SIZE
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.servers.process import SimulatorProcess
from tests.support.tls import ServedCert, issue_cert, swap_certificate


def _pool(client: ContentLibraryClient) -> urllib3.HTTPConnectionPool:
    probe = requests.PreparedRequest()
    probe.prepare(method="GET", url=client.server + "/")
    adapter = client.http.get_adapter(client.server)
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    pool = adapter.get_connection_with_tls_context(probe, client.http.verify)
    assert isinstance(pool, urllib3.HTTPConnectionPool)
    return pool


def _library_of(client: ContentLibraryClient, count: int) -> list[str]:
    datastore = client.datastores.list()[0].datastore
    library_id = client.libraries.create_local("gets", datastore)
    for n in range(count):
        client.items.create(library_id, f"item-{n}", type="file")
    return list(client.items.list(library_id))


def test_item_gets_reuse_the_pooled_connections(sim_api_client: ContentLibraryClient) -> None:
    ids = _library_of(sim_api_client, 40)
    pool = _pool(sim_api_client)
    before = pool.num_connections
    names = [sim_api_client.items.get(item_id).name for item_id in ids]
    assert names == [f"item-{n}" for n in range(40)]
    assert pool.num_connections == before  # one kept-alive connection served all 40
    with ThreadPoolExecutor(8) as threads:
        got = list(threads.map(sim_api_client.items.get, ids * 5))
    assert [item.id for item in got] == ids * 5
    assert pool.num_connections - before <= 8 <= POOL_SIZE  # one per thread at most


@pytest.mark.parametrize("trust", ["ca-file", "pin"])
def test_item_gets_keep_the_trust_settings(
    tls_sim: tuple[Any, ServedCert], tls_ca: trustme.CA, tmp_path: Path, trust: str
) -> None:
    service, served = tls_sim
    tls = (
        TlsSettings(ca_file=str(served.ca_file))
        if trust == "ca-file"
        else TlsSettings(pin_sha256=served.sha256)
    )
    with ContentLibraryClient(service.base_url, SIM_USER, SIM_PASSWORD, tls=tls) as client:
        ids = _library_of(client, 3)
        assert [client.items.get(item_id).name for item_id in ids] == ["item-0", "item-1", "item-2"]
        if trust == "pin":  # another certificate on the same address: refused, named so
            swap_certificate(service, issue_cert(tls_ca, tmp_path / "other"))
            with pytest.raises(PinMismatch):
                client.items.get(ids[0])


def test_an_item_get_to_a_stopped_server_is_connection_refused_naming_it(tmp_path: Path) -> None:
    server = SimulatorProcess(tmp_path / "sim").start()
    try:
        with ContentLibraryClient(server.base_url, SIM_USER, SIM_PASSWORD) as client:
            ids = _library_of(client, 1)
            server.stop()
            with pytest.raises(ConnectionRefused) as refused:
                client.items.get(ids[0])
            assert f"127.0.0.1:{server.port}" in str(refused.value)
            server.start()  # so the client's logout at the end finds it
    finally:
        server.stop()
