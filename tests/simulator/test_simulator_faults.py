"""Fault injection, in-process (``svc.faults``) and over HTTP (``/_sim/faults``)."""

from __future__ import annotations

import gc
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from cl_desktop.simulator import ContentLibraryService
from tests.support.simclient import RawClient, error_type, new_http
from tests.support.waiting import poll_until

BIG = os.urandom(2 << 20)


def _control(svc: ContentLibraryService, body: Any, as_user: str = "admin") -> requests.Response:
    """POST /_sim/faults with a login of its own (the control API needs one)."""
    return RawClient(svc, "api", user=as_user).call("POST", "/_sim/faults", json=body)


def _put_in_thread(uri: str, data: bytes) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(new_http().put(uri, data=data))
        except requests.RequestException as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


@pytest.mark.parametrize("how", ["in-process", "http"])
def test_drop_upload_after_bytes(raw_api: RawClient, sim: ContentLibraryService, how: str) -> None:
    if how == "http":
        r = _control(sim, {"drop_after_bytes": {"bytes": 100_000, "which": "upload"}})
        assert r.status_code == 200
        assert r.json()["faults"]["drop_after_bytes"] == {"bytes": 100_000, "which": "upload"}
    else:
        sim.faults.drop_after_bytes(100_000, which="upload")
    item_id = raw_api.create_item("drop-up")
    sid = raw_api.create_update_session(item_id)
    info = raw_api.add_file(sid, "a.bin")
    with pytest.raises(requests.ConnectionError):  # reset (RST), no answer at all
        new_http().put(info["upload_endpoint"]["uri"], data=BIG)
    f = raw_api.upload_file(sid, "a.bin")
    assert f["status"] == "ERROR"
    assert f["bytes_transferred"] == 100_000
    assert "dropped" in f["error_message"]["default_message"]
    # One-shot: a retry (adding the file again) goes through.
    info = raw_api.add_file(sid, "a.bin")
    assert new_http().put(info["upload_endpoint"]["uri"], data=BIG).status_code == 200
    assert raw_api.upload_file(sid, "a.bin")["status"] == "READY"


def test_drop_download_after_bytes(raw_api: RawClient, sim: ContentLibraryService) -> None:
    item_id = raw_api.create_item("drop-down")
    sim.faults.drop_after_bytes(1000, which="download")  # does not hit the upload below
    raw_api.upload(item_id, {"a.bin": BIG})
    _, uri = raw_api.prepared_uri(item_id, "a.bin")
    got = bytearray()
    with pytest.raises(requests.RequestException), new_http().get(uri, stream=True) as r:
        assert r.status_code == 200
        for chunk in r.iter_content(100):  # urllib3 drops a partial read on error
            got += chunk
    assert len(got) == 1000
    assert new_http().get(uri).content == BIG  # one-shot


def test_fail_next_answers_503(
    raw_api: RawClient, raw_rest: RawClient, sim: ContentLibraryService
) -> None:
    sim.faults.fail_next(2)
    for client, path in (
        (raw_api, "/api/content/library"),
        (raw_rest, "/rest/com/vmware/content/library"),
    ):
        r = client.call("GET", path)
        assert r.status_code == 503
        assert error_type(r, client.dialect) == "SERVICE_UNAVAILABLE"
    assert raw_api.call("GET", "/api/content/library").status_code == 200


def test_fail_next_with_path_filter_over_http(
    raw_api: RawClient, sim: ContentLibraryService
) -> None:
    item_id = raw_api.create_item("filtered")
    r = _control(sim, {"fail_next": {"count": 1, "path": "update-session"}})
    assert r.json()["faults"]["fail_next"] == {"count": 1, "path": "update-session"}
    assert raw_api.call("GET", "/api/content/library").status_code == 200
    r = raw_api.call("POST", raw_api.us_path(), json={"library_item_id": item_id})
    assert r.status_code == 503
    assert (
        raw_api.call("POST", raw_api.us_path(), json={"library_item_id": item_id}).status_code
        == 201
    )


@pytest.mark.parametrize("how", ["in-process", "http"])
def test_expire_session(raw_api: RawClient, sim: ContentLibraryService, how: str) -> None:
    item_id = raw_api.create_item("expire-now")
    sid = raw_api.create_update_session(item_id)
    did = raw_api.create_download_session(item_id)
    for session_id, path in ((sid, raw_api.us_path(sid)), (did, raw_api.ds_path(did))):
        if how == "http":
            r = _control(sim, {"expire_session": session_id})
            assert r.status_code == 200 and r.json()["expired_sessions"] == [session_id]
        else:
            assert sim.faults.expire_session(session_id) is True
        r = raw_api.call("GET", path)
        assert r.status_code == 404 and error_type(r) == "NOT_FOUND"
    assert sim.faults.expire_session("no-such-session") is False
    assert _control(sim, {"expire_session": "no-such-session"}).status_code == 404


@pytest.mark.parametrize("how", ["in-process", "http"])
def test_expire_logins(
    raw_api: RawClient, raw_rest: RawClient, sim: ContentLibraryService, how: str
) -> None:
    if how == "http":
        assert _control(sim, {"expire_logins": True}).json()["expired_logins"] == 3  # and its own
    else:
        assert sim.faults.expire_logins() == 2
    r = raw_api.call("GET", "/api/content/library")
    assert r.status_code == 401 and error_type(r) == "UNAUTHENTICATED"
    r = raw_rest.call("GET", "/rest/com/vmware/content/library")
    assert r.status_code == 401 and error_type(r, "rest") == "UNAUTHENTICATED"
    assert RawClient(sim, "api").call("GET", "/api/content/library").status_code == 200


def test_throttle_shows_live_progress_and_keep_alive_stays_fast(
    raw_api: RawClient, sim: ContentLibraryService
) -> None:
    item_id = raw_api.create_item("throttled")
    sid = raw_api.create_update_session(item_id)
    info = raw_api.add_file(sid, "a.bin", size=len(BIG))
    # 2 MiB at 100 kB/s takes 20 s: the keep-alive below must answer while bytes still move.
    assert _control(sim, {"throttle": 100_000}).json()["faults"]["throttle"] == 100_000
    thread, result = _put_in_thread(info["upload_endpoint"]["uri"], BIG)
    live = poll_until(
        lambda: (
            (f := raw_api.upload_file(sid, "a.bin"))["status"] == "TRANSFERRING"
            and 0 < f["bytes_transferred"] < len(BIG)
            and f
        )
    )
    assert live["bytes_transferred"] < len(BIG)
    # The state lock is not held during byte I/O: a control call is answered while the upload
    # is still running (shown by state, not by timing it).
    assert raw_api.us_action(sid, "keep-alive", {"client_progress": 10}).status_code == 204
    during = raw_api.upload_file(sid, "a.bin")
    assert during["status"] == "TRANSFERRING" and during["bytes_transferred"] < len(BIG)
    assert thread.is_alive() and not result
    sim.faults.throttle(None)
    thread.join(timeout=30)
    assert result and isinstance(result[0], requests.Response) and result[0].status_code == 200
    assert raw_api.upload_file(sid, "a.bin")["status"] == "READY"


def test_cancel_aborts_a_running_upload(raw_api: RawClient, sim: ContentLibraryService) -> None:
    item_id = raw_api.create_item("cancel-running")
    sid = raw_api.create_update_session(item_id)
    info = raw_api.add_file(sid, "a.bin")
    sim.faults.throttle(2_000_000)
    thread, result = _put_in_thread(info["upload_endpoint"]["uri"], BIG)
    poll_until(lambda: raw_api.upload_file(sid, "a.bin")["bytes_transferred"] > 0)
    assert raw_api.us_action(sid, "cancel").status_code == 204
    thread.join(timeout=30)
    assert result and not (
        isinstance(result[0], requests.Response) and result[0].status_code == 200
    )
    assert [p for p in (sim.data_dir / "tmp").iterdir()] == []


def test_prepare_delay_over_http(raw_api: RawClient, sim: ContentLibraryService) -> None:
    item_id = raw_api.create_item("slow-prepare")
    raw_api.upload(item_id, {"a.bin": b"x"})
    assert _control(sim, {"prepare_delay": 5}).json()["faults"]["prepare_delay"] == 5
    did = raw_api.create_download_session(item_id)
    raw_api.prepare(did, "a.bin")
    assert raw_api.download_file(did, "a.bin")["status"] == "PREPARE_REQUESTED"
    assert _control(sim, {"reset": True, "prepare_delay": 0.01}).status_code == 200
    did2 = raw_api.create_download_session(item_id)
    raw_api.prepare(did2, "a.bin")
    poll_until(lambda: raw_api.download_file(did2, "a.bin")["status"] == "PREPARED")


def test_reset_disarms_everything(raw_api: RawClient, sim: ContentLibraryService) -> None:
    sim.faults.fail_next(5)
    sim.faults.drop_after_bytes(1)
    sim.faults.throttle(1000)
    sim.faults.prepare_delay(9.0)
    sim.faults.corrupt_download(3)
    sim.faults.corrupt_upload(4)
    sim.faults.stall(10, "upload", 5.0)
    sim.faults.reset()
    snapshot = raw_api.call("GET", "/_sim/faults").json()["faults"]
    assert snapshot == {
        "drop_after_bytes": None,
        "fail_next": None,
        "throttle": None,
        "prepare_delay": 0.05,
        "corrupt_download": None,
        "corrupt_upload": None,
        "stall": None,
    }
    assert raw_api.call("GET", "/api/content/library").status_code == 200


def test_control_api_rejects_bad_requests(sim: ContentLibraryService) -> None:
    for body in (
        {"no_such_fault": 1},
        {"throttle": "fast"},
        {"drop_after_bytes": {"bytes": 1, "which": "x"}},
    ):
        r = _control(sim, body)
        assert r.status_code == 400, body
        assert error_type(r) == "INVALID_ARGUMENT"


def test_state_dump_shows_sessions(raw_api: RawClient, sim: ContentLibraryService) -> None:
    item_id = raw_api.create_item("dump")
    sid = raw_api.create_update_session(item_id)
    raw_api.add_file(sid, "a.bin")
    state = raw_api.sim_state()
    assert state["default_library_id"] == sim.default_library_id
    [session] = state["update_sessions"]
    assert session["id"] == sid and session["state"] == "ACTIVE" and session["user"] == "admin"
    assert session["files"][0]["status"] == "WAITING_FOR_TRANSFER"
    assert state["logins"] == [{"user": "admin", "readonly": False}]
    assert raw_api.token not in str(state)


def test_control_api_can_be_switched_off(sim_factory: Callable[..., ContentLibraryService]) -> None:
    svc = sim_factory(control_api=False)
    assert RawClient(svc, "api").call("GET", "/_sim/state").status_code == 404
    assert _control(svc, {"reset": True}).status_code == 404


# -- corrupt_upload ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["in-process", "http"])
def test_corrupt_upload_flips_a_byte_on_receipt(
    raw_api: RawClient, sim: ContentLibraryService, how: str
) -> None:
    data = os.urandom(300_000)
    at = 200_000
    if how == "http":
        r = _control(sim, {"corrupt_upload": at})
        assert r.status_code == 200 and r.json()["faults"]["corrupt_upload"] == at
    else:
        sim.faults.corrupt_upload(at)
    item_id = raw_api.create_item("bent-up")
    raw_api.upload(item_id, {"a.bin": data})  # the PUT and complete succeed: no checksum was given
    assert sim.faults.snapshot()["corrupt_upload"] is None  # one-shot
    bent = bytearray(data)
    bent[at] ^= 0xFF
    [stored] = raw_api.item_files(item_id)
    assert stored["checksum_info"]["checksum"] == hashlib.sha1(bytes(bent)).hexdigest()
    assert stored["size"] == len(data)
    _, uri = raw_api.prepared_uri(item_id, "a.bin")
    assert new_http().get(uri).content == bytes(bent)  # what was stored is the bent body


def test_corrupt_upload_is_caught_by_an_addspec_checksum(
    raw_api: RawClient, sim: ContentLibraryService
) -> None:
    data = os.urandom(5000)
    sim.faults.corrupt_upload(0)
    item_id = raw_api.create_item("bent-checked")
    sid = raw_api.create_update_session(item_id)
    checksum = {"algorithm": "SHA1", "checksum": hashlib.sha1(data).hexdigest()}
    info = raw_api.add_file(sid, "a.bin", size=len(data), checksum_info=checksum)
    assert raw_api.put(info["upload_endpoint"]["uri"], data).status_code == 200
    f = raw_api.upload_file(sid, "a.bin")
    assert f["status"] == "ERROR"
    assert "Checksum mismatch" in f["error_message"]["default_message"]


# -- stall ------------------------------------------------------------------------------------


def _raw_get(uri: str, want: int) -> tuple[socket.socket, bytes]:
    """GET ``uri`` on a raw socket; returns it after ``want`` body bytes arrived."""
    url = urlsplit(uri)
    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    sock.sendall(f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < want:
        chunk = sock.recv(65536)
        assert chunk, data[:200]
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 "), head
    return sock, body


def test_stalled_download_sends_nothing_more_and_ends_at_shutdown(
    raw_api: RawClient, sim: ContentLibraryService
) -> None:
    item_id = raw_api.create_item("stall-down")
    raw_api.upload(item_id, {"a.bin": BIG})
    _, uri = raw_api.prepared_uri(item_id, "a.bin")
    r = _control(sim, {"stall": {"after_bytes": 1000, "which": "download", "seconds": 120}})
    assert r.json()["faults"]["stall"] == {"after_bytes": 1000, "which": "download", "seconds": 120}
    sock, body = _raw_get(uri, 1000)
    with sock:
        assert body == BIG[:1000]
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # the stall holds for 120 s: nothing more comes
        # Other requests are served meanwhile, and a second download is whole.
        assert raw_api.call("GET", "/api/content/library").status_code == 200
        assert new_http().get(uri).content == BIG
        started = time.monotonic()
        sim.stop()
        assert time.monotonic() - started < 20  # not the 120 s of the stall
        sock.settimeout(30)
        rest = b""
        try:
            while chunk := sock.recv(65536):
                rest += chunk
        except ConnectionError:
            pass
        assert rest == b""  # closed without another body byte


def test_stalled_download_closes_after_its_seconds(
    raw_api: RawClient, sim: ContentLibraryService
) -> None:
    item_id = raw_api.create_item("stall-short")
    raw_api.upload(item_id, {"a.bin": BIG})
    _, uri = raw_api.prepared_uri(item_id, "a.bin")
    sim.faults.stall(500, which="download", seconds=0.3)
    got = bytearray()
    started = time.monotonic()
    with pytest.raises(requests.RequestException), new_http().get(uri, stream=True) as r:
        for chunk in r.iter_content(100):
            got += chunk
    assert time.monotonic() - started >= 0.3
    assert bytes(got) == BIG[:500]
    assert sim.faults.snapshot()["stall"] is None  # one-shot
    assert new_http().get(uri).content == BIG


def test_stalled_download_ends_when_the_client_closes(
    raw_api: RawClient, sim: ContentLibraryService
) -> None:
    item_id = raw_api.create_item("stall-gone")
    raw_api.upload(item_id, {"a.bin": BIG})
    _, uri = raw_api.prepared_uri(item_id, "a.bin")
    assert raw_api.call("GET", "/api/content/library").status_code == 200  # api's connection is up
    gc.collect()  # closes the connections of the PUT and GET helpers' sessions
    poll_until(lambda: sim.connection_count == 1, timeout=30)
    sim.faults.stall(2000, which="download", seconds=120)
    sock, body = _raw_get(uri, 2000)
    assert body == BIG[:2000] and sim.connection_count == 2
    sock.close()
    poll_until(lambda: sim.connection_count == 1, timeout=30)  # long before the 120 s


def test_stalled_upload_takes_nothing_more_then_fails_the_file(
    raw_api: RawClient, sim: ContentLibraryService
) -> None:
    item_id = raw_api.create_item("stall-up")
    sid = raw_api.create_update_session(item_id)
    info = raw_api.add_file(sid, "a.bin", size=len(BIG))
    sim.faults.stall(100_000, which="upload", seconds=1.0)
    started = time.monotonic()
    thread, result = _put_in_thread(info["upload_endpoint"]["uri"], BIG)
    thread.join(timeout=60)
    assert time.monotonic() - started >= 1.0
    assert result and isinstance(result[0], requests.ConnectionError), result
    f = raw_api.upload_file(sid, "a.bin")
    assert f["status"] == "ERROR" and f["bytes_transferred"] == 100_000
    assert "stalled" in f["error_message"]["default_message"]
    info = raw_api.add_file(sid, "a.bin", size=len(BIG))  # one-shot: the retry goes through
    assert raw_api.put(info["upload_endpoint"]["uri"], BIG).status_code == 200


def test_stall_rejects_bad_arguments(sim: ContentLibraryService) -> None:
    for body in (
        {"stall": 5},
        {"stall": {"after_bytes": -1}},
        {"stall": {"after_bytes": 1, "which": "sideways"}},
        {"corrupt_upload": "x"},
    ):
        assert _control(sim, body).status_code == 400, body
    assert sim.faults.snapshot()["stall"] is None
