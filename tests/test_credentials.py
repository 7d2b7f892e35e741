"""cl_desktop.credentials: the trust store the CLI honours, passwords in the keyring, profiles."""

from __future__ import annotations

import json
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import keyring.backends.null
import pytest
import trustme

from cl_desktop import paths
from cl_desktop.api import fetch_peer_certificate
from cl_desktop.api.errors import CertificateProblem
from cl_desktop.api.transport import origin
from cl_desktop.cli.errors import EXIT_LOCAL
from cl_desktop.credentials import profiles, trust
from cl_desktop.credentials.certificates import CertificateDetails, read_certificate
from cl_desktop.credentials.passwords import Passwords
from tests.support.accounts import MemoryKeyring
from tests.support.cli import cli
from tests.support.tls import ServedCert, issue_cert


def test_cli_honours_the_trusted_pin(tls_sim: tuple[Any, ServedCert]) -> None:
    service, _ = tls_sim
    url = service.base_url
    untrusted = cli(url, "libraries")
    assert untrusted.returncode == 5 and "Untrusted certificate" in untrusted.stderr
    peer = fetch_peer_certificate(url)
    _, host, port = origin(url)
    assert port is not None
    trust.trust(host, port, peer.sha256, "CN=127.0.0.1")
    trusted = cli(url, "libraries")  # no --pin-sha256: the trust store's pin is used
    assert trusted.returncode == 0, trusted.stderr
    assert trust.forget(host, port) and not trust.forget(host, port)
    assert cli(url, "libraries").returncode == 5


def test_changed_certificate_is_refused_with_both_fingerprints(
    tls_sim: tuple[Any, ServedCert], tmp_path: Path
) -> None:
    service, served = tls_sim
    presented = served.sha256
    earlier = issue_cert(trustme.CA(), tmp_path / "earlier").sha256  # the one the user trusted
    _, host, port = origin(service.base_url)
    assert port is not None
    trust.trust(host, port, earlier, "CN=127.0.0.1")
    refused = cli(service.base_url, "libraries")
    assert refused.returncode == 5, refused.stderr
    assert "Certificate changed" in refused.stderr
    shown = refused.stderr.replace(":", "").lower()
    assert earlier in shown and presented in shown
    with pytest.raises(trust.CertificateChanged) as caught:
        trust.check(host, port, presented)
    assert (caught.value.old_sha256, caught.value.new_sha256) == (earlier, presented)
    assert trust.pin_for(host, port).sha256 == earlier  # type: ignore[union-attr]  # untouched
    explicit = cli(service.base_url, "--pin-sha256", presented, "libraries")
    assert explicit.returncode == 0, explicit.stderr  # a pin on the command line wins


def test_trust_store_file_lives_in_the_config_dir() -> None:
    trust.trust("VC.local", 443, "AB:" * 31 + "AB", "CN=vc.local")
    stored = json.loads((paths.config_dir() / trust.TRUST_STORE_NAME).read_text())
    (pin,) = stored["pins"]
    assert pin["host"] == "vc.local" and pin["port"] == 443 and pin["sha256"] == "ab" * 32
    assert pin["subject"] == "CN=vc.local" and pin["trusted_at"]
    assert trust.pin_for("vc.local", 8443) is None
    assert trust.check("vc.local", 8443, "cd" * 32) is None  # unpinned: nothing to compare
    assert not list(paths.config_dir().glob("*.tmp"))  # the temporary file was renamed


def test_remember_lookup_forget_a_password(memory_keyring: MemoryKeyring) -> None:
    store = Passwords()
    assert store.persistent
    store.remember("vc.local", "admin", "s3cret")
    assert memory_keyring.passwords[(paths.KEYRING_SERVICE, "admin@vc.local")] == "s3cret"
    assert Passwords().lookup("vc.local", "admin") == "s3cret"  # another run finds it
    store.forget("vc.local", "admin")
    store.forget("vc.local", "admin")  # forgetting twice is fine
    assert Passwords().lookup("vc.local", "admin") is None


@pytest.mark.parametrize("backend", ["fail", "null"])  # null "stores" by dropping
def test_without_a_keyring_passwords_last_the_session(backend: str) -> None:
    keyring.set_keyring(
        keyring.backends.fail.Keyring() if backend == "fail" else keyring.backends.null.Keyring()
    )
    store = Passwords()
    assert not store.persistent
    store.remember("vc.local", "admin", "s3cret")
    assert store.lookup("vc.local", "admin") == "s3cret"
    assert Passwords().lookup("vc.local", "admin") is None  # not stored anywhere
    store.forget("vc.local", "admin")
    assert store.lookup("vc.local", "admin") is None


def test_profiles_round_trip_without_a_password() -> None:
    assert profiles.list_profiles() == [] and profiles.last_used() is None
    prod = profiles.Profile("prod", "vc.local:8443", "admin", "api", "/etc/ca.pem", True, True)
    lab = profiles.Profile("lab", "lab.local", "user")
    profiles.save(prod)
    profiles.save(lab)
    profiles.set_last_used("prod")
    assert profiles.list_profiles() == [prod, lab]
    assert profiles.last_used() == prod
    edited = profiles.Profile("prod", "vc.local", "root")
    profiles.save(edited)
    assert profiles.list_profiles() == [lab, edited]
    Passwords().remember("vc.local", "root", "s3cret")
    assert "s3cret" not in profiles.profiles_path().read_text()
    assert '"password"' not in profiles.profiles_path().read_text()
    assert profiles.remove("prod") and not profiles.remove("prod")
    assert profiles.last_used() is None and profiles.list_profiles() == [lab]


def test_a_damaged_trust_store_is_refused_not_read_as_empty(
    tls_sim: tuple[Any, ServedCert],
) -> None:
    service, _ = tls_sim
    path = trust.trust_store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    with pytest.raises(OSError, match="not a valid settings file"):
        trust.pin_for("127.0.0.1", 443)
    refused = cli(service.base_url, "libraries")
    assert refused.returncode == EXIT_LOCAL and str(path) in refused.stderr, refused.stderr


# --- what a certificate says ---------------------------------------------------------------------


def test_details_of_a_served_certificate(tls_sim: tuple[Any, ServedCert]) -> None:
    service, served = tls_sim
    details = read_certificate(service.base_url)
    assert details.sha256 == served.sha256 and details.sha1 == served.sha1
    assert (
        details.sha256_colons == ":".join(served.sha256[i : i + 2] for i in range(0, 64, 2)).upper()
    )
    assert len(details.sha1_colons) == 59 and details.sha1_colons.isupper()
    assert details.dns_names == ("localhost",) and details.ip_addresses == ("127.0.0.1",)
    assert details.subject_alt_names == ("localhost", "127.0.0.1")
    assert "trustme" in details.issuer and details.subject != details.issuer
    assert not details.self_signed  # signed by the test CA
    assert details.not_before < datetime.now(UTC) < details.not_after
    assert details.problems("127.0.0.1") == () and details.problems("LOCALHOST.") == ()
    assert CertificateDetails.from_pem(served.cert.read_text()) == details
    assert CertificateDetails.from_der(ssl.PEM_cert_to_DER_cert(details.pem)) == details


def test_a_ca_certificate_is_self_signed(tls_ca: trustme.CA) -> None:
    details = CertificateDetails.from_pem(tls_ca.cert_pem.bytes())
    assert details.self_signed and details.subject == details.issuer


def _problems(
    tls_ca: trustme.CA, folder: Path, host: str, *names: str, **validity: datetime
) -> set[CertificateProblem]:
    served = issue_cert(tls_ca, folder, *names, **validity)
    details = CertificateDetails.from_pem(served.cert.read_text())
    return {p.kind for p in details.problems(host)}


def test_expired_not_yet_valid_and_wrong_host_are_named(tls_ca: trustme.CA, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    day = timedelta(days=1)
    expired = _problems(tls_ca, tmp_path / "a", "vc.local", "vc.local",
                        not_before=now - 10 * day, not_after=now - day)  # fmt: skip
    assert expired == {CertificateProblem.EXPIRED}
    early = _problems(tls_ca, tmp_path / "b", "vc.local", "vc.local",
                      not_before=now + day, not_after=now + 10 * day)  # fmt: skip
    assert early == {CertificateProblem.NOT_YET_VALID}
    assert _problems(tls_ca, tmp_path / "c", "other.local", "vc.local") == {
        CertificateProblem.HOSTNAME_MISMATCH
    }
    served = issue_cert(tls_ca, tmp_path / "d", "vc.local", not_after=now - day,
                        not_before=now - 2 * day)  # fmt: skip
    (expiry, mismatch) = CertificateDetails.from_pem(served.cert.read_text()).problems("10.0.0.1")
    assert "expired on" in expiry.text and "not for 10.0.0.1" in mismatch.text
    assert "vc.local" in mismatch.text


@pytest.mark.parametrize(
    ("host", "names", "matches"),
    [
        ("vc.example.test", ("*.example.test",), True),
        ("example.test", ("*.example.test",), False),  # a wildcard is one whole label
        ("a.vc.example.test", ("*.example.test",), False),
        ("VC.Example.Test", ("vc.example.test",), True),
        ("10.0.0.5", ("10.0.0.5",), True),
        ("10.0.0.5", ("10.0.0.6", "vc.example.test"), False),
        ("[::1]", ("::1",), True),
        ("10.0.0.5", ("*.0.0.5",), False),  # an address never matches a DNS name
    ],
)
def test_host_names_are_matched_against_the_alternative_names(
    tls_ca: trustme.CA, tmp_path: Path, host: str, names: tuple[str, ...], matches: bool
) -> None:
    served = issue_cert(tls_ca, tmp_path / "cert", *names)
    assert CertificateDetails.from_pem(served.cert.read_text()).matches_host(host) is matches
