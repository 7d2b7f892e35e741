"""Sessions belong to their creator: another user gets NOT_FOUND, a read-only user
UNAUTHORIZED for every write; lists show the caller's own sessions only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cl_desktop.simulator import ContentLibraryService
from tests.support.accounts import READONLY_USERS, USERS
from tests.support.simclient import RawClient, error_type

US = "/api/content/library/item/update-session"
DS = "/api/content/library/item/download-session"


@pytest.fixture
def two_users(sim_factory: Callable[..., ContentLibraryService]) -> ContentLibraryService:
    return sim_factory(users={**USERS, "other": "pw2"})


def _update_calls(sid: str) -> tuple[list[tuple[str, str, dict[str, Any]]], ...]:
    reads = [
        ("GET", f"{US}/{sid}", {}),
        ("GET", f"{US}/{sid}/file", {}),
        ("GET", f"{US}/{sid}/file/a.bin", {}),
        ("POST", f"{US}/{sid}/file", {"params": {"action": "validate"}}),
    ]
    writes = [
        ("PATCH", f"{US}/{sid}", {"json": {}}),
        ("POST", f"{US}/{sid}", {"params": {"action": "keep-alive"}}),
        ("POST", f"{US}/{sid}/file", {"json": {"name": "evil.bin", "source_type": "PUSH"}}),
        ("DELETE", f"{US}/{sid}/file/a.bin", {}),
        ("POST", f"{US}/{sid}", {"params": {"action": "complete"}}),
        ("POST", f"{US}/{sid}", {"params": {"action": "cancel"}}),
        (
            "POST",
            f"{US}/{sid}",
            {"params": {"action": "fail"}, "json": {"client_error_message": "x"}},
        ),
        ("DELETE", f"{US}/{sid}", {}),
    ]
    return reads, writes


def _download_calls(did: str) -> tuple[list[tuple[str, str, dict[str, Any]]], ...]:
    reads = [
        ("GET", f"{DS}/{did}", {}),
        ("GET", f"{DS}/{did}/file", {}),
        ("GET", f"{DS}/{did}/file", {"params": {"file_name": "a.bin"}}),
    ]
    writes = [
        (
            "POST",
            f"{DS}/{did}/file",
            {"params": {"action": "prepare"}, "json": {"file_name": "a.bin"}},
        ),
        ("POST", f"{DS}/{did}", {"params": {"action": "keep-alive"}}),
        ("POST", f"{DS}/{did}", {"params": {"action": "cancel"}}),
        (
            "POST",
            f"{DS}/{did}",
            {"params": {"action": "fail"}, "json": {"client_error_message": "x"}},
        ),
        ("DELETE", f"{DS}/{did}", {}),
    ]
    return reads, writes


@pytest.mark.parametrize("intruder", ["other", "reader"])
def test_another_users_sessions_are_invisible_and_untouchable(
    two_users: ContentLibraryService, intruder: str
) -> None:
    owner = RawClient(two_users, "api")
    item_id = owner.create_item("mine")
    done = owner.upload(item_id, {"a.bin": b"abc"})
    assert done
    sid = owner.create_update_session(item_id)
    owner.add_file(sid, "a.bin", size=3)
    did = owner.create_download_session(item_id)
    them = RawClient(
        two_users, "api", user=intruder, password="pw2" if intruder == "other" else None
    )

    for calls in (_update_calls(sid), _download_calls(did)):
        reads, writes = calls
        for method, path, kw in reads:
            r = them.call(method, path, **kw)
            assert (r.status_code, error_type(r)) == (404, "NOT_FOUND"), (method, path, r.text)
        for method, path, kw in writes:
            r = them.call(method, path, **kw)
            want = (404, "NOT_FOUND") if intruder == "other" else (403, "UNAUTHORIZED")
            assert (r.status_code, error_type(r)) == want, (method, path, r.text)
    assert them.ok("GET", US) == [] and them.ok("GET", DS) == []
    assert them.ok("GET", US, params={"library_item_id": item_id}) == []

    # The owner's sessions are exactly as they were.
    assert sid in owner.ok("GET", US) and owner.ok("GET", DS) == [did]
    assert owner.update_session(sid)["state"] == "ACTIVE"
    assert [(f["name"], f["status"]) for f in owner.session_files(sid)] == [
        ("a.bin", "WAITING_FOR_TRANSFER")
    ]
    assert owner.ok("GET", f"{DS}/{did}")["state"] == "ACTIVE"
    assert owner.download_file(did, "a.bin")["status"] == "UNPREPARED"


def test_rest_dialect_checks_the_owner_too(two_users: ContentLibraryService) -> None:
    owner = RawClient(two_users, "rest")
    item_id = owner.create_item("mine-rest")
    sid = owner.create_update_session(item_id)
    did = owner.create_download_session(item_id)
    other = RawClient(two_users, "rest", user="other", password="pw2")
    reader = RawClient(two_users, "rest", user="reader")
    r = other.us_action(sid, "complete")
    assert (r.status_code, error_type(r, "rest")) == (404, "NOT_FOUND")
    r = reader.call("POST", other.ds_path(did), params=reader.action("cancel"))
    assert (r.status_code, error_type(r, "rest")) == (403, "UNAUTHORIZED")
    assert owner.update_session(sid)["state"] == "ACTIVE"
    assert owner.ok("GET", owner.ds_path(did))["state"] == "ACTIVE"
    assert set(READONLY_USERS) == {"reader"}
