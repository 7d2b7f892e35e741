"""cl_desktop.credentials: the trust store the CLI honours, passwords in the keyring, profiles."""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
import trustme

from cl_desktop import paths
from cl_desktop.api import fetch_peer_certificate
from cl_desktop.api.transport import origin
from cl_desktop.cli.errors import EXIT_LOCAL
from cl_desktop.credentials import profiles, trust
from cl_desktop.credentials.passwords import Passwords
from tests.support.accounts import MemoryKeyring
from tests.support.cli import cli
from tests.support.servers.simulator import SimulatorServer


def _write_cert(ca: trustme.CA, folder: Path) -> tuple[Path, Path, str]:
    """A server certificate for 127.0.0.1: (cert file, key file, its SHA-256)."""
    issued = ca.issue_cert("127.0.0.1", "localhost")
    folder.mkdir()
    cert, key = folder / "cert.pem", folder / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    der = ssl.PEM_cert_to_DER_cert(issued.cert_chain_pems[0].bytes().decode())
    return cert, key, hashlib.sha256(der).hexdigest()


@pytest.fixture
def tls_sim(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """A simulator on https with a certificate no CA of the system signed, and its SHA-256."""
    cert, key, sha256 = _write_cert(trustme.CA(), tmp_path / "served")
    with SimulatorServer(tmp_path / "sim", tls_cert=cert, tls_key=key) as service:
        yield service, sha256


def test_cli_honours_the_trusted_pin(tls_sim: tuple[Any, str]) -> None:
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
    tls_sim: tuple[Any, str], tmp_path: Path
) -> None:
    service, presented = tls_sim
    _, _, earlier = _write_cert(trustme.CA(), tmp_path / "earlier")  # the one the user trusted
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


def test_without_a_keyring_passwords_last_the_session() -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
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


def test_a_damaged_trust_store_is_refused_not_read_as_empty(tls_sim: tuple[Any, str]) -> None:
    service, _ = tls_sim
    path = trust.trust_store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    with pytest.raises(OSError, match="not a valid settings file"):
        trust.pin_for("127.0.0.1", 443)
    refused = cli(service.base_url, "libraries")
    assert refused.returncode == EXIT_LOCAL and str(path) in refused.stderr, refused.stderr
