"""The trust store: certificates the user chose to trust, pinned per server as SSH's known hosts.

One JSON file under the config dir, read by the window and the CLI alike. A pin is the SHA-256
fingerprint of the server's leaf certificate; `TlsSettings(pin_sha256=...)` enforces it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cl_desktop import paths
from cl_desktop.api.errors import ContentLibraryError, TlsTrustError
from cl_desktop.api.transport import (
    TlsSettings,
    colon_hex,
    fetch_peer_certificate,
    normalize_fingerprint,
    origin,
)

from ._jsonfile import read_json, write_json

TRUST_STORE_NAME = "trusted-certificates.json"


class CertificateChanged(TlsTrustError):
    """The server presents a certificate other than the one pinned for it.

    A TlsTrustError (a ContentLibraryError), not a LocalError: it is the server's answer that
    is wrong, and everything that already words untrusted certificates words this one too.
    """

    title = "Certificate changed"
    hint = (
        "This may be an attack, or the server's certificate was renewed. Check the new "
        "fingerprint with the server's administrator before trusting it instead."
    )

    def __init__(self, host: str, port: int, old_sha256: str, new_sha256: str) -> None:
        self.host, self.port = host, port
        self.old_sha256, self.new_sha256 = old_sha256, new_sha256
        super().__init__(
            f"the certificate of {host}:{port} has changed: trusted SHA-256 "
            f"{colon_hex(old_sha256)}, presented SHA-256 {colon_hex(new_sha256)}."
        )


@dataclass(frozen=True)
class Pin:
    host: str
    port: int
    sha256: str  # 64 lower-case hex digits
    subject: str
    trusted_at: str  # ISO 8601, UTC


def trust_store_path() -> Path:
    return paths.config_dir() / TRUST_STORE_NAME


def _key(host: str, port: int) -> str:
    return f"{host.lower()}:{port}"


def _load() -> dict[str, Pin]:
    raw = read_json(trust_store_path(), {"pins": []})
    return {_key(p["host"], p["port"]): Pin(**p) for p in raw.get("pins", [])}


def _save(pins: dict[str, Pin]) -> None:
    write_json(trust_store_path(), {"pins": [asdict(p) for p in pins.values()]})


def pin_for(host: str, port: int) -> Pin | None:
    return _load().get(_key(host, port))


def trust(host: str, port: int, sha256: str, subject: str) -> Pin:
    """Pin this certificate for host:port, replacing any earlier pin (a deliberate action)."""
    pin = Pin(
        host.lower(),
        port,
        normalize_fingerprint(sha256),
        subject,
        datetime.now(UTC).isoformat(timespec="seconds"),
    )
    pins = _load()
    pins[_key(host, port)] = pin
    _save(pins)
    return pin


def forget(host: str, port: int) -> bool:
    """Remove the pin of host:port; False if there was none."""
    pins = _load()
    if pins.pop(_key(host, port), None) is None:
        return False
    _save(pins)
    return True


def check(host: str, port: int, presented_sha256: str) -> Pin | None:
    """The pin the presented certificate matches (None if unpinned); CertificateChanged if not."""
    pin = pin_for(host, port)
    presented = normalize_fingerprint(presented_sha256)
    if pin is not None and pin.sha256 != presented:
        raise CertificateChanged(host, port, pin.sha256, presented)
    return pin


def https_origin(url: str) -> tuple[str, int] | None:
    """(host, port) of an https URL, None for any other (nothing to pin on plain http)."""
    scheme, host, port = origin(url)
    return (host, port) if scheme == "https" and host and port else None


def tls_for(url: str, explicit: TlsSettings) -> TlsSettings:
    """The given trust if it names a CA file or a pin, else the trust store's pin for the server."""
    if explicit.ca_file or explicit.pin_sha256:
        return explicit
    where = https_origin(url)
    pin = pin_for(*where) if where else None
    return TlsSettings(pin_sha256=pin.sha256) if pin else explicit


def check_server(url: str) -> None:
    """Read the server's certificate and raise CertificateChanged if it differs from its pin."""
    where = https_origin(url)
    if not where or not pin_for(*where):
        return
    try:
        presented = fetch_peer_certificate(url).sha256
    except ContentLibraryError:
        return  # unreachable now: the caller's own error says more than this one would
    check(*where, presented)
