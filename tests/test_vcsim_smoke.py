"""End-to-end check of the vcsim fixture: log in over /rest, create and list a library."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from tests.support.servers import VcsimServer

pytestmark = pytest.mark.vcsim

REST = "/rest/com/vmware"


@pytest.fixture
def vcsim_rest(vcsim_server: VcsimServer) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE etc. would override verify
    session.verify = vcsim_server.ca_file
    resp = session.post(
        f"{vcsim_server.base_url}{REST}/cis/session",
        auth=(vcsim_server.username, vcsim_server.password),
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    session.headers["vmware-api-session-id"] = resp.json()["value"]
    yield session
    session.delete(f"{vcsim_server.base_url}{REST}/cis/session", timeout=10)
    session.close()


def test_fixture_describes_a_running_vcsim(vcsim_server: VcsimServer) -> None:
    target = vcsim_server.target()
    assert target.kind == "vcsim" and target.dialect == "rest"
    assert target.base_url.startswith("https://127.0.0.1:")
    assert target.datastore_id and "@folder-" in target.datastore_id  # "<local dir>@folder-N"
    assert target.ca_file == vcsim_server.ca_file


def test_create_and_list_local_library(
    vcsim_server: VcsimServer, vcsim_rest: requests.Session
) -> None:
    base = vcsim_server.base_url
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    spec = {
        "name": name,
        "type": "LOCAL",
        "storage_backings": [{"type": "DATASTORE", "datastore_id": vcsim_server.datastore_id}],
    }
    resp = vcsim_rest.post(
        f"{base}{REST}/content/local-library", json={"create_spec": spec}, timeout=10
    )
    assert resp.status_code == 200, resp.text
    library_id = resp.json()["value"]

    resp = vcsim_rest.get(f"{base}{REST}/content/library", timeout=10)
    assert resp.status_code == 200, resp.text
    assert library_id in (resp.json()["value"] or [])  # vcsim sends null for []

    resp = vcsim_rest.get(f"{base}{REST}/content/library/id:{library_id}", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["value"]["name"] == name

    resp = vcsim_rest.delete(f"{base}{REST}/content/local-library/id:{library_id}", timeout=10)
    assert resp.status_code == 200, resp.text


def test_vcsim_has_no_api_dialect(vcsim_server: VcsimServer) -> None:
    resp = requests.post(
        f"{vcsim_server.base_url}/api/session",
        auth=(vcsim_server.username, vcsim_server.password),
        verify=vcsim_server.ca_file,
        timeout=10,
    )
    assert resp.status_code == 404
