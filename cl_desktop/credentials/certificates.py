"""What a server's certificate says, for the user deciding whether to trust it.

Subject, issuer, subject alternative names, validity and fingerprints of a leaf certificate, and
the problems a user should hear about by name: expired, not yet valid, issued for another host.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

from cl_desktop.api.errors import CertificateProblem
from cl_desktop.api.transport import colon_hex, fetch_peer_certificate


@dataclass(frozen=True)
class Problem:
    kind: CertificateProblem  # one of EXPIRED, NOT_YET_VALID, HOSTNAME_MISMATCH
    text: str  # a sentence for the trust dialog


@dataclass(frozen=True)
class CertificateDetails:
    subject: str  # RFC 4514, e.g. "CN=vc.example,O=VMware"
    issuer: str
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    not_before: datetime  # UTC
    not_after: datetime
    sha256: str  # lower-case hex of the DER encoding: what the trust store pins
    sha1: str  # lower-case hex; vCenter's own certificate pages show this one
    self_signed: bool
    pem: str

    @classmethod
    def from_der(cls, der: bytes) -> CertificateDetails:
        cert = x509.load_der_x509_certificate(der)
        return cls._from(cert, der)

    @classmethod
    def from_pem(cls, pem: str | bytes) -> CertificateDetails:
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        cert = x509.load_pem_x509_certificate(data)
        return cls._from(cert, cert.public_bytes(Encoding.DER))

    @classmethod
    def _from(cls, cert: x509.Certificate, der: bytes) -> CertificateDetails:
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            san = x509.SubjectAlternativeName([])
        dns = tuple(san.get_values_for_type(x509.DNSName))
        ips = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            dns_names=dns,
            ip_addresses=ips,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            sha256=hashlib.sha256(der).hexdigest(),
            sha1=hashlib.sha1(der).hexdigest(),  # shown, never trusted on
            self_signed=_self_signed(cert),
            pem=cert.public_bytes(Encoding.PEM).decode("ascii"),
        )

    @property
    def sha256_colons(self) -> str:
        return colon_hex(self.sha256)

    @property
    def sha1_colons(self) -> str:
        return colon_hex(self.sha1)

    @property
    def subject_alt_names(self) -> tuple[str, ...]:
        return (*self.dns_names, *self.ip_addresses)

    def matches_host(self, host: str) -> bool:
        """RFC 6125: an IP address against the IP SANs, a name against the DNS SANs (a
        wildcard stands for exactly one leftmost label). The subject's CN is not consulted,
        as browsers and Python's ssl no longer do."""
        host = host.strip("[]").rstrip(".").lower()
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return any(_dns_matches(name, host) for name in self.dns_names)
        return any(ipaddress.ip_address(ip) == address for ip in self.ip_addresses)

    def problems(self, host: str, now: datetime | None = None) -> tuple[Problem, ...]:
        now = now or datetime.now(UTC)
        found: list[Problem] = []
        if now > self.not_after:
            expired = f"The certificate expired on {_day(self.not_after)}."
            found.append(Problem(CertificateProblem.EXPIRED, expired))
        if now < self.not_before:
            found.append(
                Problem(
                    CertificateProblem.NOT_YET_VALID,
                    f"The certificate is not valid before {_day(self.not_before)} "
                    "(is this computer's clock right?).",
                )
            )
        if not self.matches_host(host):
            names = ", ".join(self.subject_alt_names) or "no host names at all"
            found.append(
                Problem(
                    CertificateProblem.HOSTNAME_MISMATCH,
                    f"The certificate is for {names}, not for {host.strip('[]')}.",
                )
            )
        return tuple(found)


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _dns_matches(pattern: str, host: str) -> bool:
    pattern = pattern.rstrip(".").lower()
    if not pattern.startswith("*."):
        return pattern == host
    first, _, rest = host.partition(".")
    # "*.example.com" matches "vc.example.com", not "example.com" nor "a.b.example.com"
    return bool(first) and rest == pattern[2:] and "." in rest


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def read_certificate(url: str, timeout: float = 10.0) -> CertificateDetails:
    """The certificate the server at `url` presents, read without trusting it."""
    return CertificateDetails.from_pem(fetch_peer_certificate(url, timeout).pem)
