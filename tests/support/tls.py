"""TLS for the tests: a throwaway CA (trustme) and embedded simulators serving https with it.

    served = issue_cert(tls_ca, tmp_path / "cert")          # files + fingerprints
    with tls_simulator(tmp_path / "sim", served) as service: # https://127.0.0.1:PORT
        swap_certificate(service, issue_cert(trustme.CA(), tmp_path / "other"))

No CA of the system signed these certificates, so a client trusts them only through the CA file
(`served.ca_file`), a pin, or the trust store.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.support.accounts import READONLY_USERS, USERS
from tests.support.servers.simulator import SimulatorServer


@dataclass(frozen=True)
class ServedCert:
    """A leaf certificate on disk, as a server presents it."""

    cert: Path
    key: Path
    ca_file: Path  # the PEM of the CA that signed it
    sha256: str  # lower-case hex of the leaf's DER
    sha1: str


def issue_cert(
    ca: trustme.CA,
    folder: Path,
    *names: str,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> ServedCert:
    """A certificate for `names` (default 127.0.0.1 and localhost) written under `folder`."""
    issued = ca.issue_cert(
        *(names or ("127.0.0.1", "localhost")), not_before=not_before, not_after=not_after
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert, key, ca_file = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    der = ssl.PEM_cert_to_DER_cert(issued.cert_chain_pems[0].bytes().decode())
    return ServedCert(
        cert, key, ca_file, hashlib.sha256(der).hexdigest(), hashlib.sha1(der).hexdigest()
    )


def tls_simulator(data_dir: Path, served: ServedCert, **options: Any) -> SimulatorServer:
    """The embedded service on https with `served`'s certificate (a context manager)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    options.setdefault("users", USERS)
    options.setdefault("readonly_users", READONLY_USERS)
    return SimulatorServer(data_dir, tls_cert=served.cert, tls_key=served.key, **options)


def swap_certificate(service: Any, served: ServedCert) -> None:
    """Restart a running service on the same port, presenting another certificate (its data
    stays): the server "whose certificate changed"."""
    port = service.port
    service.stop()
    service.config.port = port
    service.config.tls_cert, service.config.tls_key = served.cert, served.key
    service.start()


@pytest.fixture
def tls_ca() -> trustme.CA:
    """A CA no system trusts: certificates it signs are "untrusted" without its file."""
    return trustme.CA()


@pytest.fixture
def tls_sim(tmp_path: Path, tls_ca: trustme.CA) -> Iterator[tuple[Any, ServedCert]]:
    """A running https simulator (users admin/secret) and the certificate it presents."""
    served = issue_cert(tls_ca, tmp_path / "served-cert")
    with tls_simulator(tmp_path / "tls-sim", served) as service:
        yield service, served
