"""The service defends its port as vCenter does: a login before any body is read, bounded
bodies, a deadline for request headers, a cap on connections, no 500 for hostile input, and
a control API that is off unless asked for, needs a login and never shows a token."""

from __future__ import annotations

import resource
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from cl_desktop.simulator import ContentLibraryService, SimulatorConfig
from tests.support.simclient import RawClient, error_type, new_http
from tests.support.waiting import poll_until

WAIT = 30.0  # generous: the machine is loaded; a correct server answers at once


def _connect(svc: ContentLibraryService) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", svc.port), timeout=WAIT)
    return sock


def _head(sock: socket.socket) -> bytes:
    """Read until the end of a response head (or EOF)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed: EOF or a reset, whatever is still in flight."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionError:
        pass
    return True


def _request(svc: ContentLibraryService, head: str) -> bytes:
    """Send a request head; return the whole answer (its body may come in a later segment)."""
    with _connect(svc) as sock:
        sock.sendall(head.encode("latin-1"))
        data = _head(sock)
        length = 0
        for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = len(data.split(b"\r\n\r\n", 1)[-1])
        while body < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data, body = data + chunk, body + len(chunk)
        return data


# -- control API --------------------------------------------------------------------------


def test_control_api_is_off_by_default(tmp_path: Path) -> None:
    cfg = SimulatorConfig(data_dir=tmp_path / "d", users={"admin": "secret"})
    assert cfg.control_api is False
    with ContentLibraryService(cfg) as svc:
        api = RawClient(svc, "api")
        assert api.call("GET", "/_sim/state").status_code == 404
        assert api.call("POST", "/_sim/faults", json={"fail_next": 1}).status_code == 404
        assert svc.faults.snapshot()["fail_next"] is None
        assert api.call("GET", "/api/content/library").status_code == 200


def test_control_api_needs_a_login_and_never_shows_tokens(sim: ContentLibraryService) -> None:
    anonymous = new_http()
    for method, path in (("GET", "/_sim/state"), ("GET", "/_sim/faults")):
        r = anonymous.request(method, sim.base_url + path)
        assert (r.status_code, error_type(r)) == (401, "UNAUTHENTICATED"), path
    r = anonymous.post(sim.base_url + "/_sim/faults", json={"fail_next": 5})
    assert r.status_code == 401
    r = RawClient(sim, "api", user="reader").call("POST", "/_sim/faults", json={"fail_next": 5})
    assert (r.status_code, error_type(r)) == (403, "UNAUTHORIZED")
    assert sim.faults.snapshot()["fail_next"] is None

    api = RawClient(sim, "api")
    item_id = api.create_item("secrets")
    api.upload(item_id, {"a.bin": b"abc"})
    sid = api.create_update_session(item_id)
    upload_uri = api.add_file(sid, "b.bin")["upload_endpoint"]["uri"]
    _, download_uri = api.prepared_uri(item_id, "a.bin")
    state = api.sim_state()
    text = str(state)
    assert [s["id"] for s in state["update_sessions"] if s["state"] == "ACTIVE"] == [sid]
    assert "/cls/data/" not in text and "endpoint" not in text
    for uri in (upload_uri, download_uri):
        assert uri.split("/")[-2] not in text  # the data token
    assert api.token not in text


# -- bodies ---------------------------------------------------------------------------------


def _post_head(svc: ContentLibraryService, path: str, length: int, token: str = "") -> str:
    auth = f"vmware-api-session-id: {token}\r\n" if token else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{svc.port}\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )


def test_unauthenticated_bodies_are_refused_unread(sim: ContentLibraryService) -> None:
    size = 16 << 20
    body = bytes(size)  # shared by every sender: the client side costs nothing extra
    answers: list[bytes] = []
    lock = threading.Lock()
    head = _post_head(sim, "/api/content/library/item", size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB

    def post() -> None:
        with _connect(sim) as sock:
            sock.sendall(head.encode())
            answer = _head(sock)  # arrives before a byte of the body was sent
            try:
                sock.sendall(body)
            except OSError:
                pass  # the server closed: it does not want the body
            assert _closed(sock)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=post) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert len(answers) == 40
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b"Connection: close" in answer
    assert grown_mib < 160, f"peak memory grew by {grown_mib:.0f} MiB"  # 40 x 16 MiB = 640
    assert RawClient(sim, "api").call("GET", "/api/content/library").status_code == 200


def test_api_bodies_are_bounded(raw_api: RawClient, sim: ContentLibraryService) -> None:
    answer = _request(sim, _post_head(sim, "/api/content/library/item", 2 << 20, raw_api.token))
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"body_too_large" in answer or b"too large" in answer


def test_data_put_longer_than_the_declared_size_is_refused(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("bounded")
    sid = raw_api.create_update_session(item_id)
    uri = raw_api.add_file(sid, "a.bin", size=10)["upload_endpoint"]["uri"]
    path = uri.split(raw_api.base, 1)[1]
    head = f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {100 << 20}\r\n\r\n"
    answer = _request(raw_api.service, head)  # answered without the body being sent
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"longer than its declared size" in answer

    def chunks() -> object:
        for _ in range(50):
            yield b"x" * 1000

    r = new_http().put(uri, data=chunks())  # chunked: cut off past the declared size
    assert r.status_code == 400 and error_type(r) == "INVALID_ARGUMENT", r.text
    info = raw_api.upload_file(sid, "a.bin")
    assert info["status"] == "ERROR" and info["bytes_transferred"] == 11
    assert raw_api.put(uri, b"0123456789").status_code == 200
    assert raw_api.upload_file(sid, "a.bin")["status"] == "READY"


@pytest.mark.parametrize(
    "lengths",
    [
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: " + "9" * 40 + "\r\n",
    ],
)
def test_ambiguous_body_lengths_are_refused(sim: ContentLibraryService, lengths: str) -> None:
    head = "POST /api/session HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\n"
    with _connect(sim) as sock:
        sock.sendall((head + lengths + "\r\n").encode() + b"hello")
        answer = _head(sock)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert b"Connection: close" in answer
        assert _closed(sock)


def test_deeply_nested_json_is_a_bad_request(raw_api: RawClient) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    r = raw_api.call("POST", "/api/content/library/item", data=nested)
    assert (r.status_code, error_type(r)) == (400, "INVALID_ARGUMENT"), r.text
    assert "nested too deeply" in r.text
    r = raw_api.call("POST", "/_sim/faults", data=nested)
    assert r.status_code == 400


def test_a_huge_range_is_unsatisfiable_not_an_error(raw_api: RawClient) -> None:
    item_id = raw_api.create_item("ranges")
    raw_api.upload(item_id, {"r.bin": b"0123456789"})
    _, uri = raw_api.prepared_uri(item_id, "r.bin")
    http = new_http()
    r = http.get(uri, headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == "bytes */10"
    r = http.get(uri, headers={"Range": "bytes=2-" + "9" * 5000})
    assert r.status_code == 206 and r.content == b"23456789"
    r = http.get(uri, headers={"Range": "bytes=-" + "9" * 5000})
    assert r.status_code == 206 and r.content == b"0123456789"


# -- connections ----------------------------------------------------------------------------


def test_slow_headers_are_cut_after_the_header_timeout(
    sim_factory: Callable[..., ContentLibraryService],
) -> None:
    svc = sim_factory(header_timeout=1.0)
    stop = threading.Event()
    sent = [0]

    def trickle(sock: socket.socket) -> None:
        # A byte every 0.2 s: each read gets data, only the whole-header deadline stops it.
        for byte in b"GET /api/content/library HTTP/1.1\r\nX-Slow: " + b"a" * 300:
            if stop.wait(0.2):
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                return
            sent[0] += 1

    with _connect(svc) as sock:
        feeder = threading.Thread(target=trickle, args=(sock,))
        feeder.start()
        assert _closed(sock)  # within WAIT, else recv raises TimeoutError
        stop.set()
        feeder.join(timeout=WAIT)
    assert sent[0] < 300, "the server waited for the whole slow header"
    # An ordinary client on a fresh connection is served.
    assert RawClient(svc, "api").call("GET", "/api/content/library").status_code == 200


def test_connections_are_capped(sim_factory: Callable[..., ContentLibraryService]) -> None:
    svc = sim_factory(max_connections=3)
    http = new_http()
    token = http.post(svc.base_url + "/api/session", auth=("admin", "secret")).json()
    http.close()
    idle = [_connect(svc) for _ in range(3)]
    # The service takes its connections in order: wait until the three hold every slot.
    refused = poll_until(lambda: (a := _request(svc, "GET / HTTP/1.1\r\n\r\n")).startswith(
        b"HTTP/1.1 503") and a)  # fmt: skip
    assert b"Connection: close" in refused
    threads_before = threading.active_count()
    for _ in range(20):
        assert _request(svc, "GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 503 ")
    assert threading.active_count() <= threads_before + 1  # no thread per refused connection
    for sock in idle:
        sock.close()
    listing = f"GET /api/content/library HTTP/1.1\r\nvmware-api-session-id: {token}\r\n\r\n"
    assert poll_until(lambda: _request(svc, listing).startswith(b"HTTP/1.1 200 "))
