"""The official vSphere Automation SDK for Python as a second, independent client of the contract.

Its bindings are generated from vCenter's own API metadata, so every answer the embedded service
gives here is decoded by the types the SDK declares (a missing required field, a wrong enum value
or a malformed date fails the decoding), and every request is sent in the form vCenter's own
clients use. It runs on /api over HTTPS only: the bindings' REST metadata describes /api's paths.

The SDK is a test extra (``pip install -e '.[test]'``), never a runtime dependency; without it
these tests skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import trustme

from tests.support.servers import SimulatorServer
from tests.support.servers.simulator import simulator_datastore_id
from tests.support.waiting import wait_until

pytest.importorskip(
    "com.vmware.content.library.item_client",
    reason="the official SDK (vmware-vcenter) is not installed: pip install -e '.[test]'",
)

from com.vmware.cis_client import Session
from com.vmware.content.library.item import downloadsession_client as download
from com.vmware.content.library.item import updatesession_client as update
from com.vmware.content.library.item_client import (
    DownloadSession,
    DownloadSessionModel,
    File,
    Storage,
    TransferStatus,
    UpdateSession,
    UpdateSessionModel,
)
from com.vmware.content.library_client import Item, ItemModel, StorageBacking
from com.vmware.content_client import Library, LibraryModel, LocalLibrary
from com.vmware.vapi.std.errors_client import Error as VapiError
from vmware.vapi.bindings.stub import StubConfiguration
from vmware.vapi.protocol.client.msg.generic_connector import GenericConnector
from vmware.vapi.protocol.client.msg.rest_connector import RestClientProvider
from vmware.vapi.protocol.client.rpc.requests_provider import RequestsRpcProvider
from vmware.vapi.security.user_password import (
    create_user_password_security_context,
)
from vmware.vapi.stdlib.client.factories import StubConfigurationFactory

pytestmark = pytest.mark.sdk

USER, PASSWORD = "admin", "secret"


class BareValueRestProvider(RestClientProvider):
    """The SDK's REST provider for /api, whose answers are bare values.

    Each generated stub asks its provider for the older {"value": ...} wrapping
    (``is_vapi_rest=True``); /api never wraps, so the provider keeps the bare format.
    """

    def set_rest_format(self, is_vapi_rest: bool) -> None:
        self._is_vapi_rest = False


@dataclass
class Sdk:
    """A logged-in SDK stub configuration, its HTTP session and what that session sent."""

    config: StubConfiguration
    http: requests.Session
    sent: list[tuple[str, str, Any]] = field(default_factory=list)

    def record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        url = urlsplit(str(request.url))
        target = url.path + (f"?{url.query}" if url.query else "")
        body = json.loads(request.body) if request.body else None
        self.sent.append((str(request.method), target, body))


def _issue_server_cert(ca: trustme.CA, tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued = ca.issue_cert("127.0.0.1", "localhost")
    issued.private_key_pem.write_to_path(str(key))
    for n, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(cert), append=n > 0)
    return cert, key


@pytest.fixture(params=[pytest.param("sim-api", id="sim-api")])
def https_service(tmp_path: Path) -> Iterator[Any]:
    """The embedded service on /api only, over HTTPS with a throwaway CA's certificate."""
    ca = trustme.CA()
    cert, key = _issue_server_cert(ca, tmp_path)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with SimulatorServer(
        tmp_path / "sim-data",
        dialects=("api",),
        users={USER: PASSWORD},
        tls_cert=cert,
        tls_key=key,
    ) as service:
        yield service


def sdk_login(service: Any, ca_file: Path) -> Sdk:
    """Log in with the SDK's own session service; the token then rides in the session header."""
    http = requests.Session()
    http.trust_env = False
    http.verify = str(ca_file)
    rpc = RequestsRpcProvider(http, service.base_url + "/api", None, 2)
    connector = GenericConnector(rpc, BareValueRestProvider(rpc, [], is_vapi_rest=False), None)
    config = StubConfigurationFactory.new_std_configuration(connector)
    connector.set_security_context(create_user_password_security_context(USER, PASSWORD))
    token = Session(config).create()
    connector.set_security_context(None)  # the SDK sends session tokens only in /rest's format
    http.headers["vmware-api-session-id"] = token
    sdk = Sdk(config, http)
    http.hooks["response"].append(sdk.record)
    return sdk


@pytest.fixture
def sdk(https_service: Any, tmp_path: Path) -> Iterator[Sdk]:
    sdk = sdk_login(https_service, tmp_path / "ca.pem")
    yield sdk
    sdk.http.close()


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def test_login_session_and_logout(sdk: Sdk, https_service: Any) -> None:
    info = Session(sdk.config).get()
    assert info.user == USER
    assert info.created_time <= info.last_accessed_time
    assert Library(sdk.config).list() == [https_service.default_library_id]
    Session(sdk.config).delete()
    with pytest.raises(VapiError) as raised:
        Session(sdk.config).get()
    assert raised.value.error_type == "UNAUTHENTICATED"


def test_round_trip_with_the_official_bindings(sdk: Sdk, https_service: Any) -> None:
    cfg = sdk.config
    datastore = simulator_datastore_id(https_service)
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    data = os.urandom(300_000)

    # library and item
    backing = StorageBacking(type=StorageBacking.Type.DATASTORE, datastore_id=datastore)
    library_id = LocalLibrary(cfg).create(
        create_spec=LibraryModel(
            name=name, type=LibraryModel.LibraryType.LOCAL, storage_backings=[backing]
        ),
    )
    library = LocalLibrary(cfg).get(library_id)
    assert (library.id, library.name, library.type) == (
        library_id,
        name,
        LibraryModel.LibraryType.LOCAL,
    )
    assert library.storage_backings == [backing]
    item_id = Item(cfg).create(
        create_spec=ItemModel(name="disk.iso", library_id=library_id, type="iso")
    )
    item = Item(cfg).get(item_id)
    assert (item.name, item.library_id, item.type, item.size) == ("disk.iso", library_id, "iso", 0)
    assert Item(cfg).list(library_id) == [item_id]

    # update session: add, PUT, validate, keep-alive, complete
    session_id = UpdateSession(cfg).create(create_spec=UpdateSessionModel(library_item_id=item_id))
    session = UpdateSession(cfg).get(session_id)
    assert (session.library_item_id, session.state, session.client_progress) == (
        item_id,
        UpdateSessionModel.State.ACTIVE,
        0,
    )
    added = update.File(cfg).add(
        session_id,
        update.File.AddSpec(name="a.bin", source_type=update.File.SourceType.PUSH, size=len(data)),
    )
    assert (added.name, added.status, added.bytes_transferred) == (
        "a.bin",
        TransferStatus.WAITING_FOR_TRANSFER,
        0,
    )
    upload_uri = added.upload_endpoint.uri
    assert upload_uri.startswith(https_service.base_url + "/")
    put = requests.Session()
    put.trust_env = False
    put.verify = sdk.http.verify
    assert put.put(upload_uri, data=data).status_code == 200
    received = update.File(cfg).get(session_id, "a.bin")
    assert (received.status, received.size, received.bytes_transferred) == (
        TransferStatus.READY,
        len(data),
        len(data),
    )
    assert received.checksum_info.checksum == _sha1(data)
    assert update.File(cfg).list(session_id) == [received]
    validation = update.File(cfg).validate(session_id)
    assert (validation.has_errors, validation.missing_files, validation.invalid_files) == (
        False,
        set(),
        [],
    )
    UpdateSession(cfg).keep_alive(session_id, client_progress=50)
    assert UpdateSession(cfg).get(session_id).client_progress == 50
    UpdateSession(cfg).complete(session_id)
    assert UpdateSession(cfg).get(session_id).state == UpdateSessionModel.State.DONE
    UpdateSession(cfg).delete(session_id)

    # the item's files and their storage
    item = Item(cfg).get(item_id)
    assert item.size == len(data) and item.cached is True
    stored = File(cfg).get(item_id, "a.bin")
    assert (stored.name, stored.size, stored.cached) == ("a.bin", len(data), True)
    assert stored.checksum_info.algorithm == File.ChecksumAlgorithm.SHA1
    assert stored.checksum_info.checksum == _sha1(data)
    assert File(cfg).list(item_id) == [stored]
    storage = Storage(cfg).get(item_id, "a.bin")
    assert Storage(cfg).list(item_id) == storage
    (entry,) = storage
    assert (entry.name, entry.size, entry.version) == ("a.bin", len(data), stored.version)
    assert entry.storage_backing == StorageBacking(
        type=StorageBacking.Type.DATASTORE, datastore_id=datastore
    )
    assert entry.storage_uris == [
        f"ds:///vmfs/volumes/{datastore}/contentlib-{library_id}/{item_id}/a.bin_{stored.version}"
    ]
    assert entry.checksum_info == stored.checksum_info

    # download session: list, prepare, wait for PREPARED, GET the bytes
    download_id = DownloadSession(cfg).create(
        create_spec=DownloadSessionModel(library_item_id=item_id)
    )
    down = DownloadSession(cfg).get(download_id)
    assert (down.library_item_id, down.library_item_content_version, down.state) == (
        item_id,
        item.content_version,
        DownloadSessionModel.State.ACTIVE,
    )
    (listed,) = download.File(cfg).list(download_id)
    assert (listed.name, listed.status, listed.bytes_transferred) == (
        "a.bin",
        download.File.PrepareStatus.UNPREPARED,
        0,
    )
    requested = download.File(cfg).prepare(
        download_id, "a.bin", endpoint_type=download.File.EndpointType.HTTPS
    )
    assert requested.status in (
        download.File.PrepareStatus.PREPARE_REQUESTED,
        download.File.PrepareStatus.PREPARING,
        download.File.PrepareStatus.PREPARED,
    )
    prepared = wait_until(
        lambda: (
            (f := download.File(cfg).get(download_id, "a.bin")).status
            == download.File.PrepareStatus.PREPARED
            and f
        ),
        what="a.bin to be PREPARED",
    )
    assert prepared.size == len(data)
    fetched = sdk.http.get(prepared.download_endpoint.uri)
    assert fetched.status_code == 200
    assert _sha1(fetched.content) == stored.checksum_info.checksum
    assert fetched.content == data
    DownloadSession(cfg).keep_alive(download_id, progress=100)
    assert DownloadSession(cfg).get(download_id).client_progress == 100
    DownloadSession(cfg).delete(download_id)
    with pytest.raises(VapiError) as raised:
        DownloadSession(cfg).get(download_id)
    assert raised.value.error_type == "NOT_FOUND"

    # the SDK sent the bare-key form the service must understand (its own client uses ?key=)
    bare = [(m, t, b) for m, t, b in sdk.sent if t.endswith(("?name", "?file_name", "?library_id"))]
    assert bare[:3] == [
        ("GET", "/api/content/library/item?library_id", {"library_id": library_id}),
        ("GET", f"/api/content/library/item/{item_id}/file?name", {"name": "a.bin"}),
        ("GET", f"/api/content/library/item/{item_id}/storage?file_name", {"file_name": "a.bin"}),
    ]
    download_file_get = (
        "GET",
        f"/api/content/library/item/download-session/{download_id}/file?file_name",
        {"file_name": "a.bin"},
    )
    assert bare[3:] and all(sent == download_file_get for sent in bare[3:])  # the polls


def test_errors_decode_as_the_sdk_declares(sdk: Sdk, https_service: Any) -> None:
    item_id = Item(sdk.config).create(
        create_spec=ItemModel(name="empty", library_id=https_service.default_library_id, type="iso")
    )
    with pytest.raises(VapiError) as raised:
        File(sdk.config).get(item_id, "nope.bin")
    assert raised.value.error_type == "NOT_FOUND"
    (msg,) = raised.value.messages
    assert msg.id == "com.vmware.vdcs.cls-main.file_not_found"
    assert msg.args == ["nope.bin", item_id]
    with pytest.raises(VapiError) as raised:
        File(sdk.config).get(item_id, "")
    assert raised.value.error_type == "INVALID_ARGUMENT"
    assert [m.default_message for m in raised.value.messages] == ["'name' is required."]


def test_a_signed_ovf_preview_decodes_with_the_sdk_types(sdk: Sdk, https_service: Any) -> None:
    """preview_info's certificate and warnings, and warning_behavior set through the SDK's own
    update call: what a vSphere client sees of a signed OVF package."""
    cfg = sdk.config
    backing = StorageBacking(
        type=StorageBacking.Type.DATASTORE, datastore_id=simulator_datastore_id(https_service)
    )
    library_id = LocalLibrary(cfg).create(
        create_spec=LibraryModel(
            name="signed", type=LibraryModel.LibraryType.LOCAL, storage_backings=[backing]
        ),
    )
    item_id = Item(cfg).create(
        create_spec=ItemModel(name="signed", library_id=library_id, type="ovf")
    )
    session_id = UpdateSession(cfg).create(create_spec=UpdateSessionModel(library_item_id=item_id))
    signer = trustme.CA(organization_name="Appliance Vendor")
    files = {
        "signed.cert": b"SHA256(signed.mf)= 00\n" + signer.cert_pem.bytes(),
        "signed.ovf": b'<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>',
    }
    put = requests.Session()
    put.trust_env = False
    put.verify = sdk.http.verify
    for name, data in files.items():
        added = update.File(cfg).add(
            session_id,
            update.File.AddSpec(name=name, source_type=update.File.SourceType.PUSH, size=len(data)),
        )
        assert put.put(added.upload_endpoint.uri, data=data).status_code == 200
    preview = UpdateSession(cfg).get(session_id).preview_info
    assert preview.state == update.PreviewInfo.State.AVAILABLE
    assert preview.certificate_info.self_signed is True
    assert "O=Appliance Vendor" in preview.certificate_info.subject
    (warning,) = preview.warnings
    assert (warning.type, warning.ignored) == (update.WarningType.SELF_SIGNED_CERTIFICATE, False)
    UpdateSession(cfg).update(
        session_id,
        UpdateSessionModel(
            warning_behavior=[
                update.WarningBehavior(
                    type=update.WarningType.SELF_SIGNED_CERTIFICATE, ignored=True
                )
            ]
        ),
    )
    assert UpdateSession(cfg).get(session_id).preview_info.warnings[0].ignored is True
    UpdateSession(cfg).complete(session_id)
    assert UpdateSession(cfg).get(session_id).state == UpdateSessionModel.State.DONE
    assert [f.name for f in File(cfg).list(item_id)] == ["signed.ovf"]
