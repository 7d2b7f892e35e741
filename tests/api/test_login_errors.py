"""Each way a login can fail ends as its own error, worded for a person: real peers on 127.0.0.1
(a closed port, a port that never accepts, plain web servers, the embedded service with refused
accounts, TLS servers whose certificates have one problem each) and a name that cannot resolve.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from cl_desktop.api import ContentLibraryClient, TlsSettings, errors, fetch_peer_certificate
from cl_desktop.api.errors import CertificateProblem
from cl_desktop.cli.errors import EXIT_AUTH, EXIT_FAILED, EXIT_TLS, exit_code_for
from cl_desktop.services.errors import ErrorInfo
from cl_desktop.simulator.errors import ACCOUNT_LOCKED_ID, PASSWORD_EXPIRED_ID
from cl_desktop.transfers.errors import describe
from tests.support.cli import cli
from tests.support.servers.simulator import SimulatorServer
from tests.support.servers.stub import Received, Reply, StubServer

USER, PASSWORD = "admin", "secret"
LOCKED, EXPIRED = "locked-user", "expired-user"


def _client(url: str, user: str = USER, password: str = PASSWORD, **kwargs: Any) -> Any:
    kwargs.setdefault("login_attempts", 1)
    return ContentLibraryClient(url, user, password, **kwargs)


def _login_error(client: ContentLibraryClient) -> errors.ContentLibraryError:
    with pytest.raises(errors.ContentLibraryError) as caught:
        client.login()
    assert not client.logged_in
    return caught.value


def _words(exc: BaseException) -> str:
    title, message = describe(exc)
    return f"{title}: {message}"


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def refusing_sim(tmp_path: Path) -> Iterator[Any]:
    """The embedded service (both dialects) with a locked account and an expired password."""
    users = {USER: PASSWORD, LOCKED: PASSWORD, EXPIRED: PASSWORD}
    with SimulatorServer(
        tmp_path / "sim", users=users, locked_users={LOCKED}, expired_password_users={EXPIRED}
    ) as service:
        yield service


# --- accounts --------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["api", "rest"])
def test_wrong_password_names_the_user_and_the_server(refusing_sim: Any, dialect: str) -> None:
    url = refusing_sim.base_url
    exc = _login_error(_client(url, password="not-it", dialect=dialect))
    assert isinstance(exc, errors.WrongCredentials) and isinstance(exc, errors.Unauthenticated)
    assert exc.title == "Wrong user name or password"
    assert f"'{USER}'" in exc.message and url in exc.message
    assert "not-it" not in _words(exc)
    assert exit_code_for(exc) == EXIT_AUTH


def test_an_unknown_user_is_a_wrong_user_name_or_password(refusing_sim: Any) -> None:
    exc = _login_error(_client(refusing_sim.base_url, user="nobody"))
    assert isinstance(exc, errors.WrongCredentials) and "'nobody'" in exc.message


@pytest.mark.parametrize("dialect", ["api", "rest", "auto"])
@pytest.mark.parametrize("password", [PASSWORD, "wrong"])
def test_a_locked_account_says_so_whatever_the_password(
    refusing_sim: Any, dialect: str, password: str
) -> None:
    exc = _login_error(_client(refusing_sim.base_url, LOCKED, password, dialect=dialect))
    assert isinstance(exc, errors.AccountLocked) and exc.title == "Account locked"
    assert f"'{LOCKED}'" in exc.message and "locked" in exc.detail
    assert [m.id for m in exc.messages] == [ACCOUNT_LOCKED_ID]
    assert "unlock" in exc.message  # what to do about it
    assert exit_code_for(exc) == EXIT_AUTH


@pytest.mark.parametrize("dialect", ["api", "rest"])
def test_an_expired_password_says_so(refusing_sim: Any, dialect: str) -> None:
    exc = _login_error(_client(refusing_sim.base_url, EXPIRED, dialect=dialect))
    assert isinstance(exc, errors.PasswordExpired) and exc.title == "Password expired"
    assert f"'{EXPIRED}'" in exc.message and "expired" in exc.detail
    assert [m.id for m in exc.messages] == [PASSWORD_EXPIRED_ID]
    assert "Change the password" in exc.message


def test_an_expired_password_is_only_told_to_who_knows_it(refusing_sim: Any) -> None:
    exc = _login_error(_client(refusing_sim.base_url, EXPIRED, "guess"))
    assert type(exc) is errors.WrongCredentials


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("User account is locked. Please contact your administrator.", errors.AccountLocked),
        ("The password has expired.", errors.PasswordExpired),
        ("Expired password for the user.", errors.PasswordExpired),
        ("Authentication required.", errors.WrongCredentials),
    ],
)
def test_login_refusals_are_told_apart_by_the_servers_words(
    said: str, expected: type[errors.VapiError]
) -> None:
    # vCenter's message ids for these are not documented: only their words are relied on.
    body = b'{"error_type":"UNAUTHENTICATED","messages":[{"id":"x","default_message":"%s"}]}'

    def reply(_request: Received) -> Reply:
        return 401, {"Content-Type": "application/json"}, body % said.encode()

    with StubServer(reply) as stub:
        exc = _login_error(_client(stub.url, dialect="api"))
    assert type(exc) is expected and said in exc.message


def test_a_503_at_login_is_the_vcenter_starting_and_stays_transient() -> None:
    def reply(_request: Received) -> Reply:
        return 503, {"Content-Type": "application/json"}, b'{"error_type":"SERVICE_UNAVAILABLE"}'

    with StubServer(reply) as stub:
        exc = _login_error(_client(stub.url, dialect="api"))
    assert isinstance(exc, errors.ServiceStarting) and isinstance(exc, errors.ServiceUnavailable)
    assert exc.title == "vCenter not ready" and "starting or restarting" in exc.message
    assert stub.url in exc.message
    assert ErrorInfo.from_exception(exc).transient  # the window offers to try again


# --- the way to the server -------------------------------------------------------------------


def test_a_closed_port_is_connection_refused_naming_host_and_port(closed_port: int) -> None:
    exc = _login_error(_client(f"http://127.0.0.1:{closed_port}"))
    assert isinstance(exc, errors.ConnectionRefused) and exc.title == "Connection refused"
    assert f"127.0.0.1:{closed_port}" in exc.message
    assert exit_code_for(exc) == EXIT_FAILED


def test_an_unresolvable_name_is_no_such_host() -> None:
    host = "no-such-vcenter.invalid"  # the reserved TLD never resolves
    exc = _login_error(_client(f"https://{host}"))
    assert isinstance(exc, errors.NoSuchHost) and exc.title == "No such host"
    assert f"the name {host} could not be resolved" in exc.message


def test_a_peer_that_never_accepts_is_a_connect_timeout() -> None:
    # A listener whose backlog is full: the kernel drops further connection attempts.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):  # more than the backlog holds; the rest are left pending
                filler = socket.socket()
                filler.setblocking(False)
                fillers.append(filler)
                filler.connect_ex(("127.0.0.1", port))
            exc = _login_error(_client(f"http://127.0.0.1:{port}", timeout=(0.5, 1.0)))
        finally:
            for filler in fillers:
                filler.close()
    assert isinstance(exc, errors.ConnectTimedOut) and exc.title == "Timed out connecting"
    assert f"127.0.0.1:{port}" in exc.message


def _page(status: int, body: bytes) -> Any:
    def reply(_request: Received) -> Reply:
        return status, {"Content-Type": "text/html"}, body

    return reply


PAGE = b"<html><body>It works</body></html>"


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (404, PAGE, "answered HTTP 404"),
        (200, PAGE, "with an HTML page"),
        (200, b'{"status": "ok"}', 'accepted the login but sent no session token ({"status"'),
    ],
    ids=["404", "html", "json-without-token"],
)
def test_a_plain_web_server_is_not_a_vcenter_after_trying_both_dialects(
    status: int, body: bytes, said: str
) -> None:
    with StubServer(_page(status, body)) as stub:
        exc = _login_error(_client(stub.url))
        assert len(stub.received("POST", "/api/session")) == 1
        assert len(stub.received("POST", "/rest/com/vmware/cis/session")) == 1
    assert isinstance(exc, errors.NotAVCenter) and exc.title == "Not a vCenter"
    assert isinstance(exc, errors.ProtocolError)
    assert f"{stub.url} answered, but not as a vCenter" in exc.message
    assert "/api/session" in exc.message and "/rest/com/vmware/cis/session" in exc.message
    assert said in exc.message and "both API dialects were tried" in exc.message


def test_a_web_server_asked_for_one_dialect_says_which() -> None:
    with StubServer(_page(404, b"Not Found")) as stub:
        exc = _login_error(_client(stub.url, dialect="rest"))
        assert not stub.received("POST", "/api/session")
    assert isinstance(exc, errors.NotAVCenter)
    assert "the rest dialect was asked for" in exc.message


def test_https_to_a_plain_http_port_says_it_does_not_speak_tls() -> None:
    with StubServer() as stub:
        https = stub.url.replace("http://", "https://")
        exc = _login_error(_client(https))
        with pytest.raises(errors.NotTls):
            fetch_peer_certificate(https)
    assert isinstance(exc, errors.NotTls) and exc.title == "Not a TLS port"
    assert exc.message == (
        f"log in: 127.0.0.1:{stub.port} answered plain HTTP, not HTTPS: use "
        f"http://127.0.0.1:{stub.port} if you mean it. Otherwise check the port: vCenter "
        "serves its API over https on 443."
    )


# --- certificates ----------------------------------------------------------------------------


NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_sim(folder: Path, cert: trustme.Blob, key: trustme.Blob) -> SimulatorServer:
    folder.mkdir(parents=True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert.write_to_path(str(cert_file))
    key.write_to_path(str(key_file))
    return SimulatorServer(folder / "data", tls_cert=cert_file, tls_key=key_file)


def _serve_leaf(
    folder: Path,
    ca: trustme.CA,
    *names: str,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> Any:
    leaf = ca.issue_cert(
        *(names or ("127.0.0.1", "localhost")), not_before=not_before, not_after=not_after
    )
    return _tls_sim(folder, leaf.cert_chain_pems[0], leaf.private_key_pem)


def _ca_file(folder: Path, ca: trustme.CA) -> str:
    path = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def _certificate_error(url: str, tls: TlsSettings) -> errors.TlsTrustError:
    exc = _login_error(_client(url, tls=tls))
    assert isinstance(exc, errors.TlsTrustError), _words(exc)
    assert exit_code_for(exc) == EXIT_TLS
    return exc


@pytest.mark.parametrize(
    ("validity", "expected", "reason", "said"),
    [
        (
            {"not_before": NOW - timedelta(days=30), "not_after": NOW - timedelta(days=1)},
            errors.CertificateExpired,
            CertificateProblem.EXPIRED,
            "has expired",
        ),
        (
            {"not_before": NOW + timedelta(days=1), "not_after": NOW + timedelta(days=30)},
            errors.CertificateNotYetValid,
            CertificateProblem.NOT_YET_VALID,
            "is not valid yet",
        ),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_a_certificate_outside_its_dates_is_named_so(
    tmp_path: Path,
    ca: trustme.CA,
    validity: dict[str, datetime],
    expected: type[errors.TlsTrustError],
    reason: CertificateProblem,
    said: str,
) -> None:
    with _serve_leaf(tmp_path / "served", ca, **validity) as service:
        port = service.port
        exc = _certificate_error(service.base_url, TlsSettings(ca_file=_ca_file(tmp_path, ca)))
    assert type(exc) is expected and exc.reason is reason and not exc.pinnable
    assert f"the certificate of 127.0.0.1:{port} {said}" in exc.message
    assert "pin" not in exc.hint  # trusting it as it is would not be an answer


def test_a_certificate_for_another_name_is_a_host_name_mismatch(
    tmp_path: Path, ca: trustme.CA
) -> None:
    with _serve_leaf(tmp_path / "served", ca, "127.0.0.1") as service:
        url = f"https://localhost:{service.port}"
        exc = _certificate_error(url, TlsSettings(ca_file=_ca_file(tmp_path, ca)))
    assert type(exc) is errors.HostnameMismatch and exc.title == "Certificate for another name"
    assert exc.reason is CertificateProblem.HOSTNAME_MISMATCH and not exc.pinnable
    assert "was issued for another name" in exc.message and "Hostname mismatch" in exc.message


def test_a_certificate_of_an_unknown_authority_is_untrusted(tmp_path: Path, ca: trustme.CA) -> None:
    with _serve_leaf(tmp_path / "served", ca) as service:
        exc = _certificate_error(service.base_url, TlsSettings())  # the system's CAs only
    assert type(exc) is errors.UntrustedCertificate and exc.title == "Untrusted certificate"
    assert exc.reason is CertificateProblem.UNTRUSTED_ISSUER and exc.pinnable
    assert "signed by an authority this computer does not trust" in exc.message
    assert "unable to get local issuer certificate" in exc.message


def test_a_self_signed_certificate_is_named_so(tmp_path: Path, ca: trustme.CA) -> None:
    # The CA's own certificate signed itself; served as the leaf it is "self-signed".
    with _tls_sim(tmp_path / "served", ca.cert_pem, ca.private_key_pem) as service:
        exc = _certificate_error(service.base_url, TlsSettings())
    assert type(exc) is errors.SelfSignedCertificate and exc.title == "Untrusted certificate"
    assert exc.reason is CertificateProblem.SELF_SIGNED and exc.pinnable
    assert "is self-signed" in exc.message


def test_a_certificate_other_than_the_pinned_one_is_a_pin_mismatch(
    tmp_path: Path, ca: trustme.CA
) -> None:
    with _serve_leaf(tmp_path / "served", ca) as service:
        exc = _certificate_error(service.base_url, TlsSettings(pin_sha256="ab" * 32))
    assert type(exc) is errors.PinMismatch
    assert exc.reason is CertificateProblem.PIN_MISMATCH and not exc.pinnable
    assert "does not match the pinned fingerprint" in exc.message


# --- through cl-transfer ---------------------------------------------------------------------


def test_cli_words_a_wrong_password_and_a_closed_port(refusing_sim: Any, closed_port: int) -> None:
    wrong = cli(refusing_sim.base_url, "libraries", password="not-it")
    assert wrong.returncode == EXIT_AUTH, wrong.stderr
    assert "Wrong user name or password" in wrong.stderr and f"'{USER}'" in wrong.stderr
    refused = cli(f"http://127.0.0.1:{closed_port}", "libraries")
    assert refused.returncode == EXIT_FAILED, refused.stderr
    assert "Connection refused" in refused.stderr and f"127.0.0.1:{closed_port}" in refused.stderr
    for run in (wrong, refused):
        assert "Traceback" not in run.stdout + run.stderr and "not-it" not in run.stderr


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        *((c, EXIT_AUTH) for c in (errors.WrongCredentials, errors.AccountLocked,
                                   errors.PasswordExpired)),
        *((c, EXIT_TLS) for c in (errors.UntrustedCertificate, errors.SelfSignedCertificate,
                                  errors.CertificateExpired, errors.CertificateNotYetValid,
                                  errors.HostnameMismatch, errors.PinMismatch,
                                  errors.TlsHandshakeFailed)),
        *((c, EXIT_FAILED) for c in (errors.NoSuchHost, errors.ConnectionRefused,
                                     errors.ConnectTimedOut, errors.NotTls, errors.NotAVCenter,
                                     errors.ServiceStarting)),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)  # fmt: skip
def test_every_login_error_has_its_exit_code(
    cls: type[errors.ContentLibraryError], code: int
) -> None:
    assert exit_code_for(cls("x", operation="log in")) == code
