"""Login and logout against the embedded service and against servers that misbehave on purpose
(tests/support/servers/stub.py): a 503 or a dropped connection is retried a few times, a
redirect or an answer without a token is a clear error, an unusable CA file is refused before
any call, and logout really ends the login on the server."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cl_desktop.api import ContentLibraryClient, Dialect, TlsSettings, errors
from tests.support.servers.stub import CLOSE, Received, Reply, StubServer

USER, PASSWORD = "admin", "secret"
LOGIN_PATHS = {"api": "/api/session", "rest": "/rest/com/vmware/cis/session"}


def _client(url: str, dialect: Any = "auto", **kwargs: Any) -> ContentLibraryClient:
    return ContentLibraryClient(url, USER, PASSWORD, dialect=dialect, login_backoff=0.05, **kwargs)


def _fail_first(count: int, path: str, answer: Reply | str) -> Any:
    """A responder that gives `answer` to the first `count` POSTs to `path`, then forwards."""
    left = [count]

    def reply(request: Received) -> Reply | str | None:
        if request.method == "POST" and request.path == path and left[0] > 0:
            left[0] -= 1
            return answer
        return None

    return reply


def _token_accepted(base_url: str, token: str) -> bool:
    response = requests.get(
        base_url + "/api/session", headers={"vmware-api-session-id": token}, timeout=30
    )
    assert response.status_code in (200, 401), response.status_code
    return response.status_code == 200


UNAVAILABLE: Reply = (
    503,
    {"Content-Type": "application/json"},
    b'{"error_type":"SERVICE_UNAVAILABLE"}',
)


@pytest.mark.parametrize("dialect", ["api", "rest"])
@pytest.mark.parametrize("fault", ["503", "connection dropped"])
def test_one_fault_on_login_is_retried(sim_service: Any, dialect: str, fault: str) -> None:
    answer = UNAVAILABLE if fault == "503" else CLOSE
    path = LOGIN_PATHS[dialect]
    with StubServer(_fail_first(1, path, answer), upstream=sim_service.base_url) as stub:
        client = _client(stub.url, dialect)
        client.login()
        assert client.dialect is Dialect(dialect)
        assert client.session_info().user == USER  # the token works upstream
        assert len(stub.received("POST", path)) == 2  # the failed try, then the good one
        client.close()


def test_login_keeps_failing_after_a_bounded_number_of_tries(sim_service: Any) -> None:
    path = LOGIN_PATHS["api"]
    with StubServer(_fail_first(100, path, UNAVAILABLE), upstream=sim_service.base_url) as stub:
        client = _client(stub.url, "api", login_attempts=3)
        with pytest.raises(errors.ServiceUnavailable):
            client.login()
        assert len(stub.received("POST", path)) == 3
        assert not client.logged_in


def test_wrong_password_is_not_retried(sim_service: Any) -> None:
    with StubServer(upstream=sim_service.base_url) as stub:
        client = ContentLibraryClient(stub.url, USER, "wrong", dialect="api")
        with pytest.raises(errors.Unauthenticated):
            client.login()
        assert len(stub.received("POST", "/api/session")) == 1


def test_a_redirected_login_is_an_error_naming_where_it_went() -> None:
    elsewhere = "https://vc.example/ui/"
    with StubServer(lambda _r: (302, {"Location": elsewhere}, b"")) as stub:
        client = _client(stub.url, "api")
        with pytest.raises(errors.ProtocolError) as caught:
            client.login()
    assert caught.value.detail == (
        f"the server redirected the login to {elsewhere}; check the server URL."
    )
    assert not client.logged_in


@pytest.mark.parametrize(
    ("dialect", "body"),
    [
        ("api", b""),
        ("api", b"null"),
        ("api", b'""'),
        ("api", b"42"),
        ("api", b'{"token":"x"}'),
        ("rest", b"{}"),
        ("rest", b'{"value":null}'),
        ("rest", b'{"value":""}'),
    ],
)
def test_a_login_answer_without_a_token_is_a_protocol_error(dialect: str, body: bytes) -> None:
    path = LOGIN_PATHS[dialect]

    def reply(request: Received) -> Reply:
        if request.path == path:
            return 200, {"Content-Type": "application/json"}, body
        return 404, {}, b""

    with StubServer(reply) as stub:
        client = _client(stub.url, dialect)
        with pytest.raises(errors.ProtocolError) as caught:
            client.login()
        assert len(stub.received("POST", path)) == 1
    assert "sent no session token" in caught.value.detail
    assert caught.value.operation == "log in"
    assert not client.logged_in


@pytest.fixture
def bad_ca_files(tmp_path: Path) -> Iterator[dict[str, str]]:
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    (tmp_path / "empty.pem").write_bytes(b"")
    (tmp_path / "folder.pem").mkdir()
    yield {
        "missing": str(tmp_path / "missing.pem"),
        "junk": str(tmp_path / "junk.pem"),
        "empty": str(tmp_path / "empty.pem"),
        "folder": str(tmp_path / "folder.pem"),
    }


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "does not exist"),
        ("junk", "holds no PEM certificate"),
        ("empty", "holds no PEM certificate"),
        ("folder", "is a folder, not a file"),
    ],
)
def test_an_unusable_ca_file_is_refused_when_the_client_is_built(
    bad_ca_files: dict[str, str], case: str, reason: str
) -> None:
    path = bad_ca_files[case]
    with pytest.raises(errors.CaFileError) as caught:
        ContentLibraryClient("https://127.0.0.1:9", USER, PASSWORD, tls=TlsSettings(ca_file=path))
    assert isinstance(caught.value, errors.ContentLibraryError)
    assert caught.value.detail == f"{path} {reason}"
    assert "PEM file of the CA" in caught.value.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_ca_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_text("x")
    path.chmod(0)
    with pytest.raises(errors.CaFileError, match="permission denied"):
        ContentLibraryClient(
            "https://127.0.0.1:9", USER, PASSWORD, tls=TlsSettings(ca_file=str(path))
        )


# --- logout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["api", "rest"])
def test_logout_ends_the_login_on_the_server(sim_service: Any, dialect: str) -> None:
    client = _client(sim_service.base_url, dialect)
    client.login()
    token = client._token
    assert token is not None and _token_accepted(sim_service.base_url, token)
    client.logout()
    assert not client.logged_in
    assert not _token_accepted(sim_service.base_url, token)
    client.logout()  # twice is harmless
    client.close()


def test_close_and_context_exit_log_out(sim_service: Any) -> None:
    with _client(sim_service.base_url, "api") as client:
        token = client._token
        assert token is not None and _token_accepted(sim_service.base_url, token)
    assert not _token_accepted(sim_service.base_url, token)
    client.close()  # closing again is harmless


def test_logout_when_never_logged_in_sends_nothing(sim_service: Any) -> None:
    with StubServer(upstream=sim_service.base_url) as stub:
        client = _client(stub.url, "api")
        client.logout()
        client.close()
        assert stub.requests == []


def test_logout_on_a_dead_server_does_not_raise(sim_service: Any) -> None:
    with StubServer(upstream=sim_service.base_url) as stub:
        client = _client(stub.url, "api")
        client.login()
    client.logout()  # the stub is gone: connection refused, logged, not raised
    assert not client.logged_in


def test_logout_on_a_server_that_stopped_answering_returns_soon(sim_service: Any) -> None:
    release = threading.Event()

    def reply(request: Received) -> Reply | None:
        if request.method == "DELETE":
            release.wait(120)  # answers only when the test ends: a frozen server
        return None

    with StubServer(reply, upstream=sim_service.base_url) as stub:
        client = _client(stub.url, "api")  # default timeouts: 60 s to read an answer
        client.login()
        started = time.monotonic()
        try:
            client.logout()
        finally:
            release.set()
        assert time.monotonic() - started < 30  # the end of a command is not held for a minute
        assert len(stub.received("DELETE", "/api/session")) == 1
    assert not client.logged_in
