"""The client's contract, run against three real servers: the embedded service in /api, the
embedded service in /rest only (like vCenter before 7.0U2) and govmomi's vcsim (/rest).

Where vcsim deviates from vCenter, the test says so with `vcsim_deviation(...)`, naming a
difference listed in docs/PROTOCOL.md, and asserts what vcsim really does; the other servers keep
the full check.
"""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from cl_desktop.api import (
    AddSpec,
    ChecksumAlgorithm,
    ChecksumInfo,
    ContentLibraryClient,
    Dialect,
    DownloadSessionState,
    PrepareStatus,
    TlsSettings,
    UpdateSessionState,
    errors,
)
from tests.support.api import vcsim_deviation
from tests.support.servers import ServerTarget
from tests.support.waiting import wait_until


def make_client(target: ServerTarget, **kwargs: object) -> ContentLibraryClient:
    return ContentLibraryClient(
        target.base_url,
        str(kwargs.pop("username", target.username)),
        str(kwargs.pop("password", target.password)),
        tls=TlsSettings(ca_file=target.ca_file),
        **kwargs,  # type: ignore[arg-type]
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def api_client(server_target: ServerTarget) -> Iterator[ContentLibraryClient]:
    with make_client(server_target) as c:
        yield c


@pytest.fixture
def library_id(api_client: ContentLibraryClient, server_target: ServerTarget) -> Iterator[str]:
    datastore = server_target.datastore_id or api_client.datastores.list()[0].datastore
    lib = api_client.libraries.create_local(unique("lib"), datastore)
    yield lib
    api_client.libraries.delete_local(lib)


@pytest.fixture
def item_id(api_client: ContentLibraryClient, library_id: str) -> str:
    return api_client.items.create(library_id, unique("item"), type="file")


def upload(
    api_client: ContentLibraryClient, item: str, name: str, data: bytes, *, checksum: bool = True
) -> str:
    """One complete PUSH upload; returns the (finished) update session id."""
    sid = api_client.update_sessions.create(item)
    spec = AddSpec(
        name,
        size=len(data),
        checksum_info=ChecksumInfo(hashlib.sha256(data).hexdigest(), ChecksumAlgorithm.SHA256)
        if checksum
        else None,
    )
    info = api_client.update_session_files.add(sid, spec)
    assert info.upload_endpoint is not None
    api_client.upload(info.upload_endpoint.uri, io.BytesIO(data), len(data))
    api_client.update_sessions.complete(sid)
    return sid


# --- login and dialect ---------------------------------------------------------------------------


def test_login_detects_the_dialect(server_target: ServerTarget) -> None:
    with make_client(server_target) as c:
        assert c.dialect is Dialect(server_target.dialect)
        assert c.session_info().user.split("@")[0] == server_target.username.split("@")[0]


def test_bad_password_is_unauthenticated(server_target: ServerTarget) -> None:
    c = make_client(server_target, password="wrong-" + server_target.password)
    if vcsim_deviation(server_target, "credentials are not checked on /rest"):
        c.login()
        assert c.logged_in
        return
    with pytest.raises(errors.Unauthenticated) as caught:
        c.login()
    assert caught.value.title == "Wrong user name or password"
    assert "wrong-" not in str(caught.value)


def test_secrets_never_reach_logs_or_errors(
    server_target: ServerTarget, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client(server_target) as c:
        token = c._token
        c.libraries.list()
        with pytest.raises(errors.NotFound) as caught:
            c.items.get(str(uuid.uuid4()))
    assert token and token not in caplog.text and token not in str(caught.value)
    assert server_target.password not in caplog.text
    assert "***" in repr(c._credentials)


def test_expired_login_is_renewed_once(api_client: ContentLibraryClient, library_id: str) -> None:
    stale = str(uuid.uuid4())  # what the server sees after its login session expired
    api_client._token = stale
    seen: list[tuple[str, str, int]] = []  # the real HTTP exchanges, in order

    def record(response: requests.Response, *args: object, **kwargs: object) -> None:
        path = urlsplit(response.request.url or "").path
        seen.append((response.request.method or "", path, response.status_code))

    api_client.http.hooks["response"].append(record)
    assert library_id in api_client.libraries.list()
    logins = [s for s in seen if s[0] == "POST" and s[1].endswith("/session")]
    assert [s[2] for s in logins] == [201 if api_client.dialect is Dialect.API else 200], seen
    assert [s[2] for s in seen if s[2] == 401] == [401], seen  # one refusal, one new login
    assert seen[-1][2] == 200 and len(seen) == 3, seen
    assert api_client._token not in (None, stale)
    seen.clear()
    assert library_id in api_client.libraries.list()  # the new login is used as is
    assert [s[2] for s in seen] == [200], seen


# --- libraries, items, files, storage ------------------------------------------------------------


def test_library_lifecycle(api_client: ContentLibraryClient, library_id: str) -> None:
    assert library_id in api_client.libraries.list()
    model = api_client.libraries.get(library_id)
    assert model.id == library_id and model.type is not None and model.type.value == "LOCAL"
    assert model.storage_backings and model.storage_backings[0].datastore_id
    assert library_id in api_client.libraries.find(name=model.name)
    assert library_id in [m.id for m in api_client.libraries.list_models()]


def test_missing_objects_are_not_found(api_client: ContentLibraryClient) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(errors.NotFound):
        api_client.libraries.get(missing)
    with pytest.raises(errors.NotFound) as caught:
        api_client.items.get(missing)
    assert caught.value.message.startswith("get item: ")
    with pytest.raises(errors.NotFound):
        api_client.update_sessions.get(missing)


def test_item_lifecycle(api_client: ContentLibraryClient, library_id: str) -> None:
    name = unique("My ISO é")
    item = api_client.items.create(library_id, name, type="iso", description="first")
    assert item in api_client.items.list(library_id)
    model = api_client.items.get(item)
    assert (model.name, model.library_id, model.type) == (name, library_id, "iso")
    assert api_client.items.find(name=name, library_id=library_id) == (item,)
    with pytest.raises(errors.AlreadyExists) as caught:
        api_client.items.create(library_id, name, type="iso")
    assert caught.value.title == "Already exists"
    api_client.items.update(item, description="second")
    assert api_client.items.get(item).description == "second"
    api_client.items.delete(item)
    with pytest.raises(errors.NotFound):
        api_client.items.get(item)


def test_library_create_rename_describe_delete(
    api_client: ContentLibraryClient, library_id: str, server_target: ServerTarget
) -> None:
    datastore = api_client.libraries.get(library_id).storage_backings[0].datastore_id or ""
    name = unique("managed é")
    created = api_client.libraries.create_local(name, datastore, description="first")
    try:
        assert api_client.libraries.get(created).description == "first"
        if vcsim_deviation(server_target, "library names need not be unique"):
            api_client.libraries.delete_local(api_client.libraries.create_local(name, datastore))
        else:
            with pytest.raises(errors.AlreadyExists):
                api_client.libraries.create_local(name, datastore)
        renamed = unique("renamed")
        api_client.libraries.update(created, name=renamed)
        model = api_client.libraries.get(created)
        assert (model.name, model.description) == (renamed, "first")  # absent members kept
        api_client.libraries.update(created, description="second")
        assert api_client.libraries.get(created).name == renamed
        assert api_client.libraries.get(created).description == "second"
        taken = api_client.libraries.get(library_id).name
        if vcsim_deviation(server_target, "library names need not be unique"):
            api_client.libraries.update(created, name=taken)
            assert api_client.libraries.get(created).name == taken
        else:
            with pytest.raises(errors.AlreadyExists):
                api_client.libraries.update(created, name=taken)
        item = api_client.items.create(created, unique("inside"), type="file")
    finally:
        api_client.libraries.delete_local(created)  # with its item in it
    with pytest.raises(errors.NotFound):
        api_client.libraries.get(created)
    with pytest.raises(errors.NotFound):
        api_client.items.get(item)  # the server deleted the items with the library


def test_item_rename_describe_delete(
    api_client: ContentLibraryClient, library_id: str, server_target: ServerTarget
) -> None:
    first, second = unique("first"), unique("second")
    item = api_client.items.create(library_id, first, type="file", description="old")
    other = api_client.items.create(library_id, second, type="file")
    api_client.items.update(item, name=unique("renamed"))
    renamed = api_client.items.get(item)
    assert renamed.name.startswith("renamed-") and renamed.description == "old"
    if vcsim_deviation(server_target, "an item may be renamed to a taken name"):
        api_client.items.update(item, name=second)
        assert api_client.items.get(item).name == second
    else:
        with pytest.raises(errors.AlreadyExists):
            api_client.items.update(item, name=second)
    api_client.items.delete(item)
    api_client.items.delete(other)
    assert {item, other}.isdisjoint(api_client.items.list(library_id))
    with pytest.raises(errors.NotFound):
        api_client.items.delete(item)


def test_empty_lists_are_empty(
    api_client: ContentLibraryClient, library_id: str, item_id: str
) -> None:
    assert api_client.item_files.list(item_id) == ()
    other = api_client.libraries.create_local(
        unique("empty"), api_client.libraries.get(library_id).storage_backings[0].datastore_id or ""
    )
    try:
        assert api_client.items.list(other) == ()
    finally:
        api_client.libraries.delete_local(other)


def test_client_token_makes_create_idempotent(
    api_client: ContentLibraryClient, library_id: str, server_target: ServerTarget
) -> None:
    token = str(uuid.uuid4())
    first = api_client.items.create(library_id, unique("idem"), client_token=token)
    again = api_client.items.create(library_id, unique("idem2"), client_token=token)
    if vcsim_deviation(server_target, "client_token is ignored"):
        assert again != first
    else:
        assert again == first


# --- upload: UpdateSession ---------------------------------------------------------------------


def test_upload_round_trip(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    data = b"content library \x00\xff" * 40_000
    sent: list[int] = []
    sid = api_client.update_sessions.create(item_id)
    session = api_client.update_sessions.get(sid)
    assert session.state is UpdateSessionState.ACTIVE and session.library_item_id == item_id
    assert session.expiration_time is not None
    assert sid in api_client.update_sessions.list() and sid in api_client.update_sessions.list(
        item_id
    )
    info = api_client.update_session_files.add(
        sid,
        AddSpec(
            "disk 1 %.bin",
            size=len(data),
            checksum_info=ChecksumInfo(hashlib.sha1(data).hexdigest()),
        ),
    )
    assert info.name == "disk 1 %.bin" and info.upload_endpoint is not None
    api_client.update_sessions.keep_alive(sid, client_progress=10)
    api_client.upload(info.upload_endpoint.uri, io.BytesIO(data), len(data), progress=sent.append)
    assert sent[-1] == len(data)
    result = api_client.update_session_files.validate(sid)
    if vcsim_deviation(server_target, "validate returns an empty 200"):
        assert result is None
    else:
        assert result is not None and not result.has_errors and result.missing_files == ()
    files = api_client.update_session_files.list(sid)
    assert [f.name for f in files] == ["disk 1 %.bin"]
    api_client.update_sessions.complete(sid)
    assert api_client.update_sessions.get(sid).state is UpdateSessionState.DONE
    api_client.update_sessions.delete(sid)

    (stored,) = api_client.item_files.list(item_id)
    assert stored.name == "disk 1 %.bin" and stored.size == len(data)
    assert api_client.item_files.get(item_id, stored.name) == stored
    if vcsim_deviation(server_target, "no checksums anywhere"):
        assert stored.checksum_info is None
    else:
        assert stored.checksum_info is not None
        algorithm = stored.checksum_info.effective_algorithm
        expected = hashlib.new(algorithm.hashlib_name, data).hexdigest()
        assert stored.checksum_info.checksum.lower() == expected
        item = api_client.items.get(item_id)
        assert item.size == len(data) and item.cached and item.content_version


def test_changes_are_invisible_until_complete(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    data = b"x" * 1000
    sid = api_client.update_sessions.create(item_id)
    info = api_client.update_session_files.add(sid, AddSpec("a.bin", size=len(data)))
    assert info.upload_endpoint is not None
    api_client.upload(info.upload_endpoint.uri, io.BytesIO(data), len(data))
    visible = [f.name for f in api_client.item_files.list(item_id)]
    if vcsim_deviation(server_target, "files are committed on PUT, not on complete"):
        assert visible == ["a.bin"]
    else:
        assert visible == []
    api_client.update_sessions.cancel(sid)
    assert api_client.update_sessions.get(sid).state is UpdateSessionState.CANCELED
    if not vcsim_deviation(server_target, "cancel does not roll back"):
        assert api_client.item_files.list(item_id) == ()


def test_fail_records_the_client_message(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    sid = api_client.update_sessions.create(item_id)
    api_client.update_sessions.fail(sid, "disk read failed at byte 42")
    session = api_client.update_sessions.get(sid)
    assert session.state is UpdateSessionState.ERROR
    if not vcsim_deviation(server_target, "fail ignores the message"):
        assert session.error_message is not None
        assert "disk read failed at byte 42" in str(session.error_message)
        with pytest.raises(errors.NotAllowedInCurrentState):
            api_client.update_sessions.keep_alive(sid)
    api_client.update_sessions.delete(sid)


def test_one_active_update_session_per_item(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    sid = api_client.update_sessions.create(item_id)
    try:
        if vcsim_deviation(server_target, "no RESOURCE_BUSY"):
            other = api_client.update_sessions.create(item_id)
            api_client.update_sessions.cancel(other)
            return
        with pytest.raises(errors.ResourceBusy) as caught:
            api_client.update_sessions.create(item_id)
        assert sid in caught.value.message
        with pytest.raises(errors.NotAllowedInCurrentState):
            api_client.update_sessions.delete(sid)  # refused while ACTIVE
    finally:
        api_client.update_sessions.cancel(sid)
        api_client.update_sessions.delete(sid)


def test_update_session_file_get_and_remove(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    sid = api_client.update_sessions.create(item_id)
    api_client.update_session_files.add(sid, AddSpec("one.bin", size=3))
    api_client.update_session_files.add(sid, AddSpec("two.bin", size=3))
    if vcsim_deviation(server_target, "file get returns the session, remove deletes it"):
        assert {f.name for f in api_client.update_session_files.list(sid)} == {"one.bin", "two.bin"}
        api_client.update_sessions.cancel(sid)
        return
    assert api_client.update_session_files.get(sid, "one.bin").name == "one.bin"
    api_client.update_session_files.remove(sid, "one.bin")
    assert [f.name for f in api_client.update_session_files.list(sid)] == ["two.bin"]
    result = api_client.update_session_files.validate(sid)
    assert result is not None and result.has_errors and result.missing_files == ("two.bin",)
    with pytest.raises(errors.NotAllowedInCurrentState):
        api_client.update_sessions.complete(sid)
    api_client.update_sessions.cancel(sid)


# --- download: DownloadSession -----------------------------------------------------------------


def test_download_round_trip(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    data = bytes(range(256)) * 5000
    upload(api_client, item_id, "image.iso", data)
    did = api_client.download_sessions.create(item_id)
    session = api_client.download_sessions.get(did)
    assert session.state is DownloadSessionState.ACTIVE and session.library_item_id == item_id
    assert did in api_client.download_sessions.list(item_id)
    (listed,) = api_client.download_session_files.list(did)
    assert listed.name == "image.iso" and listed.status is PrepareStatus.UNPREPARED
    api_client.download_session_files.prepare(did, "image.iso")
    prepared = wait_until(
        lambda: (
            (info := api_client.download_session_files.get(did, "image.iso")).status
            is PrepareStatus.PREPARED
            and info
        ),
        what="PREPARED",
    )
    assert prepared.download_endpoint is not None
    api_client.download_sessions.keep_alive(did, progress=50)
    received = bytearray()
    with api_client.open_download(prepared.download_endpoint.uri) as stream:
        for chunk in stream.chunks():
            received += chunk
    assert received == data and stream.offset == 0
    assert stream.total_size in (len(data), None)  # None: no Content-Length (chunked)
    if not vcsim_deviation(server_target, "no checksums anywhere"):
        checksum = api_client.download_session_files.get(did, "image.iso").checksum_info
        assert checksum is not None
        assert (
            checksum.checksum
            == hashlib.new(checksum.effective_algorithm.hashlib_name, data).hexdigest()
        )
    api_client.download_sessions.delete(did)
    with pytest.raises(errors.NotFound):
        api_client.download_sessions.get(did)


def test_download_resumes_with_range(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    data = b"0123456789" * 10_000
    upload(api_client, item_id, "r.bin", data)
    did = api_client.download_sessions.create(item_id)
    api_client.download_session_files.prepare(did, "r.bin")
    info = wait_until(
        lambda: (
            (i := api_client.download_session_files.get(did, "r.bin")).status
            is PrepareStatus.PREPARED
            and i
        )
    )
    assert info.download_endpoint is not None
    with api_client.open_download(info.download_endpoint.uri, 12_345) as stream:
        received = b"".join(stream.chunks())
    if vcsim_deviation(server_target, "no Range on downloads"):
        assert stream.offset == 0 and received == data  # the whole file came again
    else:
        assert stream.offset == 12_345 and stream.total_size == len(data)
        assert received == data[12_345:]
    api_client.download_sessions.cancel(did)


def test_download_session_cancel_and_fail(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    first = api_client.download_sessions.create(item_id)
    api_client.download_sessions.cancel(first)
    second = api_client.download_sessions.create(item_id)
    api_client.download_sessions.fail(second, "no space left on the client")
    if vcsim_deviation(server_target, "cancel and fail delete the download session"):
        with pytest.raises(errors.NotFound):
            api_client.download_sessions.get(first)
        return
    assert api_client.download_sessions.get(first).state is DownloadSessionState.CANCELED
    failed = api_client.download_sessions.get(second)
    assert failed.state is DownloadSessionState.ERROR
    assert "no space left" in str(failed.error_message)
    with pytest.raises(errors.NotAllowedInCurrentState):
        api_client.download_sessions.keep_alive(first)
    api_client.download_sessions.delete(first)
    api_client.download_sessions.delete(second)


def test_storage_info(
    api_client: ContentLibraryClient, item_id: str, server_target: ServerTarget
) -> None:
    upload(api_client, item_id, "s.bin", b"s" * 100)
    if vcsim_deviation(server_target, "item/storage is not implemented"):
        with pytest.raises(errors.NotFound):
            api_client.storage.list(item_id)
        return
    (info,) = api_client.storage.list(item_id)
    assert info.name == "s.bin" and info.size == 100
    assert info.storage_backing is not None and info.storage_backing.datastore_id
    assert info.storage_uris and all(u.startswith("ds:///") for u in info.storage_uris)
    assert api_client.storage.get(item_id, "s.bin") == (info,)
