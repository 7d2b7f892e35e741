"""The session token (vmware-api-session-id) goes to a data URL only on the API's own origin:
same scheme, host and port. A recording server stands in for both the API and the data hosts;
it serves TLS and plain HTTP on one port, so only the scheme differs in the http:// case."""

from __future__ import annotations

import io
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from cl_desktop.api import ContentLibraryClient, TlsSettings
from tests.support.servers.stub import Received, Reply, StubServer

TOKEN = "token-for-the-api-host-only"
HEADER = "vmware-api-session-id"


def _answer(request: Received) -> Reply:
    if request.method == "POST" and request.path == "/api/session":
        return 201, {"Content-Type": "application/json"}, json.dumps(TOKEN).encode()
    if request.method == "DELETE" and request.path == "/api/session":
        return 204, {}, b""
    if request.method == "PUT":
        return 200, {}, b""
    return 200, {"Content-Type": "application/octet-stream"}, b"0123456789"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def stub_api(ca: trustme.CA) -> Iterator[StubServer]:
    with StubServer(_answer, tls=_tls_context(ca)) as stub:
        yield stub


@pytest.fixture
def other_port(ca: trustme.CA) -> Iterator[StubServer]:
    with StubServer(_answer, tls=_tls_context(ca)) as stub:
        yield stub


@pytest.fixture
def api_client(
    stub_api: StubServer, ca: trustme.CA, tmp_path: Path
) -> Iterator[ContentLibraryClient]:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    c = ContentLibraryClient(
        stub_api.url, "admin", "secret", dialect="api", tls=TlsSettings(ca_file=str(ca_file))
    )
    c.login()
    yield c
    c.close()


def _transfer(api_client: ContentLibraryClient, kind: str, url: str) -> None:
    if kind == "upload":
        api_client.upload(url, io.BytesIO(b"abc"), 3)
    else:
        with api_client.open_download(url) as stream:
            assert b"".join(stream.chunks()) == b"0123456789"


def _data_requests(*stubs: StubServer) -> list[Received]:
    return [r for s in stubs for r in s.requests if r.path == "/data/file"]


@pytest.mark.parametrize("kind", ["upload", "download"])
def test_same_origin_data_url_gets_the_session_header(
    api_client: ContentLibraryClient, stub_api: StubServer, kind: str
) -> None:
    _transfer(api_client, kind, f"https://127.0.0.1:{stub_api.port}/data/file")
    (request,) = _data_requests(stub_api)
    assert request.scheme == "https"
    assert request.headers.get(HEADER) == TOKEN


@pytest.mark.parametrize("kind", ["upload", "download"])
@pytest.mark.parametrize("where", ["plain-http-same-port", "other-port", "other-host-name"])
def test_other_origin_never_gets_the_session_header(
    api_client: ContentLibraryClient,
    stub_api: StubServer,
    other_port: StubServer,
    kind: str,
    where: str,
) -> None:
    url = {
        "plain-http-same-port": f"http://127.0.0.1:{stub_api.port}/data/file",
        "other-port": f"https://127.0.0.1:{other_port.port}/data/file",
        "other-host-name": f"https://localhost:{stub_api.port}/data/file",
    }[where]
    _transfer(api_client, kind, url)
    (request,) = _data_requests(stub_api, other_port)  # it did reach the data host
    assert request.scheme == url.split(":", 1)[0]
    assert HEADER not in request.headers
    assert TOKEN not in json.dumps(request.headers)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://vc.example", "https://vc.example:443/x", True),
        ("https://VC.example:443", "https://vc.example/x", True),
        ("http://vc.example", "http://vc.example:80/x", True),
        ("https://vc.example", "http://vc.example/x", False),
        ("https://vc.example", "https://vc.example:8443/x", False),
        ("https://vc.example:443", "http://vc.example:443/x", False),
        ("https://vc.example", "https://other.example/x", False),
        ("https://vc.example", "https://vc.example.evil.test/x", False),
    ],
)
def test_default_ports_are_normalised(a: str, b: str, same: bool) -> None:
    from cl_desktop.api.transport import same_origin  # here, so the rest runs without it

    assert same_origin(a, b) is same
