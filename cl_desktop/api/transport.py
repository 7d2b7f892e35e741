"""HTTP plumbing for the client: TLS trust (CA file or a pinned certificate) and error mapping.

`trust_env` is always off so that variables such as REQUESTS_CA_BUNDLE never change what is
trusted. Pinning uses urllib3's `assert_fingerprint`: the connection is accepted exactly when the
server's leaf certificate has the given SHA-256 fingerprint.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import socket
import ssl
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from .errors import (
    CaFileError,
    CertificateExpired,
    CertificateNotYetValid,
    ConnectionRefused,
    ConnectTimedOut,
    ContentLibraryError,
    HostnameMismatch,
    NoSuchHost,
    NotTls,
    PinMismatch,
    ReadTimedOut,
    SelfSignedCertificate,
    TlsHandshakeFailed,
    TlsTrustError,
    TransportError,
    UntrustedCertificate,
)

DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds

_HEX = re.compile(r"[^0-9a-fA-F]")


def normalize_fingerprint(text: str) -> str:
    """'AA:bb:..' or 'aabb..' -> 64 lower-case hex digits; ValueError otherwise."""
    digits = _HEX.sub("", text).lower()
    if len(digits) != 64:
        raise ValueError(f"a SHA-256 fingerprint has 64 hex digits, got {len(digits)}")
    return digits


def sha1_thumbprint(text: str) -> str:
    """A SHA-1 certificate fingerprint in any usual spelling ('aa:bb..', 'AABB..', spaces) ->
    'AA:BB:..', the form vCenter expects in a PULL source's ssl_certificate_thumbprint;
    ValueError when it is not 40 hex digits."""
    digits = _HEX.sub("", text).lower()
    if len(digits) != 40 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"a SHA-1 thumbprint has 40 hex digits, got {text!r}")
    return colon_hex(digits)


def colon_hex(hex_digest: str) -> str:
    """ "ab12..." -> "AB:12:...", the form certificate viewers (and vCenter's UI) show."""
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port filled in from the scheme when absent."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def same_origin(a: str, b: str) -> bool:
    """Same scheme, host and port (https://h and https://h:443 are the same)."""
    return origin(a) == origin(b)


@dataclass(frozen=True)
class TlsSettings:
    """How to trust the server: the system CAs, a CA file, or one pinned certificate."""

    ca_file: str | None = None
    pin_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.ca_file and self.pin_sha256:
            raise ValueError("use either a CA file or a pinned fingerprint, not both")
        if self.pin_sha256:
            object.__setattr__(self, "pin_sha256", normalize_fingerprint(self.pin_sha256))


class _PinnedCertificateAdapter(HTTPAdapter):
    """Accept exactly the certificate with this SHA-256 fingerprint (CA checks replaced)."""

    def __init__(self, fingerprint: str, pool_size: int) -> None:
        self._fingerprint = fingerprint
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size)

    def build_connection_pool_key_attributes(
        self, request: Any, verify: Any, cert: Any = None
    ) -> Any:
        host_params, typed_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        pool_kwargs: dict[str, Any] = dict(typed_kwargs)
        for key in ("ssl_context", "ca_certs", "ca_cert_dir"):
            pool_kwargs.pop(key, None)
        # The pin replaces chain and host name checks, as in a browser's "trust this cert".
        pool_kwargs["cert_reqs"] = "CERT_NONE"
        pool_kwargs["assert_fingerprint"] = self._fingerprint
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        conn.cert_reqs = "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None
        conn.assert_fingerprint = self._fingerprint


def check_ca_file(path: str) -> None:
    """Raise CaFileError unless `path` is a readable file with at least one PEM certificate."""
    cause: Exception
    try:
        ssl.create_default_context(cafile=path)
        return
    except FileNotFoundError as exc:
        reason, cause = "does not exist", exc
    except IsADirectoryError as exc:
        reason, cause = "is a folder, not a file", exc
    except PermissionError as exc:
        reason, cause = "cannot be read (permission denied)", exc
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason, cause = "holds no PEM certificate", exc
    raise CaFileError(f"{path} {reason}", operation="read the CA file") from cause


# Kept-alive connections per server: the browser's 8 parallel item GETs plus the transfers'
# data connections, all to the same host (a full pool discards connections after use).
POOL_SIZE = 16


def make_session(tls: TlsSettings, pool_size: int = POOL_SIZE) -> requests.Session:
    """A requests session with our trust settings; never influenced by the environment.

    Raises CaFileError for an unusable CA file (requests would only fail at the first call,
    with an OSError)."""
    if tls.ca_file:
        check_ca_file(tls.ca_file)
    session = requests.Session()
    session.trust_env = False
    if tls.pin_sha256:
        adapter: HTTPAdapter = _PinnedCertificateAdapter(tls.pin_sha256, pool_size)
    else:
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        session.verify = tls.ca_file or True
    session.mount("https://", adapter)
    session.mount("http://", HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size))
    return session


@functools.lru_cache(maxsize=8)
def _timeout(connect: float, read: float) -> urllib3.Timeout:
    return urllib3.Timeout(connect=connect, read=read)


@dataclass(frozen=True)
class LeanResponse:
    status: int
    content: bytes
    location: str | None


def lean_get(
    session: requests.Session,
    base: str,
    target: str,
    headers: dict[str, str],
    timeout: tuple[float, float],
) -> LeanResponse:
    """GET `base` (scheme://host[:port]) + `target` (path and query) on `session`'s own
    connection pool (its keep-alive connections and its TLS settings: CA file, pin), skipping
    requests' per-request layers (preparing, hooks, cookies, the Response object): they cost
    as much again as urllib3's own work, which a library of 10,000 items pays 10,000 times.
    The same steps as requests' adapter (which also sends the pool only the target), through
    its public methods. Errors are urllib3's: call inside `translate_transport_errors`."""
    adapter, pool = _lean_pool(session, base)
    if pool is None:  # not requests' own adapter: no pool to share
        response = session.get(base + target, headers=headers, timeout=timeout,
                               allow_redirects=False)  # fmt: skip
        return LeanResponse(
            response.status_code, response.content, response.headers.get("Location")
        )
    answer = pool.urlopen(
        "GET",
        target,
        headers=headers,
        retries=adapter.max_retries,
        redirect=False,
        assert_same_host=False,
        timeout=_timeout(*timeout),
        preload_content=True,
        decode_content=True,
    )
    return LeanResponse(answer.status, answer.data, answer.headers.get("Location"))


_LEAN_POOLS: weakref.WeakKeyDictionary[requests.Session, dict[str, tuple[Any, Any]]] = (
    weakref.WeakKeyDictionary()
)
_LEAN_LOCK = threading.Lock()


def _lean_pool(session: requests.Session, base: str) -> tuple[Any, Any]:
    """(adapter, pool) for `base`, the pool as requests would pick and set it up for the
    session (trust settings included); looked up once per origin: preparing a request only
    to ask for the pool cost a third of an item GET. The pool is None for a foreign adapter."""
    with _LEAN_LOCK:
        found = _LEAN_POOLS.get(session, {}).get(base)
    if found is not None and (found[1] is None or found[1].pool is not None):  # not closed
        return found
    adapter = session.get_adapter(base + "/")
    pool = None
    if isinstance(adapter, HTTPAdapter):
        probe = requests.PreparedRequest()
        probe.prepare(method="GET", url=base + "/")
        pool = adapter.get_connection_with_tls_context(probe, session.verify)
        assert isinstance(pool, urllib3.HTTPConnectionPool)  # no proxies: trust_env is off
        adapter.cert_verify(pool, base + "/", session.verify, None)  # type: ignore[no-untyped-call]
    with _LEAN_LOCK:
        _LEAN_POOLS.setdefault(session, {})[base] = (adapter, pool)
    return adapter, pool


@contextlib.contextmanager
def translate_transport_errors(operation: str) -> Iterator[None]:
    """Turn requests/urllib3 exceptions into our hierarchy; ours pass through."""
    try:
        yield
    except ContentLibraryError:
        raise
    except requests.exceptions.SSLError as exc:
        raise ssl_error(exc, _where(exc), operation) from exc
    except requests.exceptions.ConnectTimeout as exc:
        where = _where(exc)
        raise ConnectTimedOut(
            f"timed out connecting to {where}." if where else "timed out connecting to the server.",
            operation=operation,
        ) from exc
    except requests.exceptions.ReadTimeout as exc:
        raise ReadTimedOut("the server stopped answering (timeout)", operation=operation) from exc
    except requests.exceptions.ConnectionError as exc:
        if "timed out" in str(exc):  # a send blocked for the whole timeout
            raise ReadTimedOut(
                "the server stopped receiving (timeout)", operation=operation
            ) from exc
        raise connection_error(exc, _where(exc), operation) from exc
    except requests.exceptions.ChunkedEncodingError as exc:
        raise TransportError("the connection broke mid-transfer", operation=operation) from exc
    except requests.exceptions.RequestException as exc:
        raise TransportError(str(exc) or type(exc).__name__, operation=operation) from exc
    except urllib3.exceptions.ReadTimeoutError as exc:  # raw body reads bypass requests
        raise ReadTimedOut("the server stopped sending (timeout)", operation=operation) from exc
    except urllib3.exceptions.MaxRetryError as exc:  # lean_get: urllib3's own, unwrapped
        reason = exc.reason or exc
        pool = exc.pool
        host = f"[{pool.host}]" if ":" in (pool.host or "") else pool.host
        where = f"{host}:{pool.port}" if pool.port else str(host or "")
        if isinstance(reason, urllib3.exceptions.SSLError):
            raise ssl_error(reason, where, operation) from exc
        if isinstance(reason, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            reason,
            urllib3.exceptions.NewConnectionError,  # its subclass, as requests knows
        ):
            text = f"timed out connecting to {where or 'the server'}."
            raise ConnectTimedOut(text, operation=operation) from exc
        raise connection_error(reason, where, operation) from exc
    except (urllib3.exceptions.HTTPError, ConnectionError) as exc:
        raise TransportError("the connection broke mid-transfer", operation=operation) from exc


def _where(exc: requests.exceptions.RequestException) -> str:
    """'host:port' of the request that failed, or '' when requests did not say."""
    url = getattr(exc.request, "url", None)
    if not url:
        return ""
    _, host, port = origin(str(url))
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what it wraps (requests and urllib3 nest the socket's error in
    args, `reason` and the cause chain)."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending += [getattr(item, "reason", None), item.__cause__, item.__context__, *item.args]


# The resolver's words for "this name does not resolve" (glibc, musl, macOS), for errors that
# arrive as text only.
_UNRESOLVED = (
    "Name or service not known",
    "Temporary failure in name resolution",
    "No address associated with hostname",
    "nodename nor servname",
    "Failed to resolve",
)
# OpenSSL's words when the peer answered with something that is not TLS (plain HTTP).
_NOT_TLS = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure")


def connection_error(exc: BaseException, where: str, operation: str) -> TransportError:
    """The error for a connection that could not be made (or broke), naming `where`."""
    causes = list(_causes(exc))
    text = " ".join(str(c) for c in causes)
    server = where or "the server"
    if any(isinstance(c, socket.gaierror) for c in causes) or any(u in text for u in _UNRESOLVED):
        host = where.rpartition(":")[0] if ":" in where else where
        return NoSuchHost(
            f"the name {host or 'of the server'} could not be resolved to an address.",
            operation=operation,
        )
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "Connection refused" in text:
        return ConnectionRefused(
            f"connection refused by {server} (nothing accepts connections on that port).",
            operation=operation,
        )
    if any(n in text for n in _NOT_TLS):
        return not_tls(server, operation)
    if any(isinstance(c, TimeoutError) for c in causes):
        return ConnectTimedOut(f"timed out connecting to {server}.", operation=operation)
    if "Connection reset" in text or "RemoteDisconnected" in text or "Connection aborted" in text:
        return TransportError("the server closed the connection", operation=operation)
    return TransportError(f"could not talk to {server} ({str(exc)[:160]})", operation=operation)


def not_tls(where: str, operation: str) -> NotTls:
    # the answer was not TLS: almost always a plain-HTTP server, reached with https (the
    # default when the address has no scheme)
    if not where or where == "the server":
        return NotTls("the server answered plain HTTP, not HTTPS.", operation=operation)
    return NotTls(
        f"{where} answered plain HTTP, not HTTPS: use http://{where} if you mean it.",
        operation=operation,
    )


_VERIFY_REASON = re.compile(r"certificate verify failed: ([^(]+)")


def ssl_error(exc: BaseException, where: str, operation: str) -> TransportError:
    """The error for a failed TLS handshake, naming the certificate's problem when known."""
    causes = list(_causes(exc))
    text = " ".join(str(c) for c in causes)
    server = where or "the server"
    if "Fingerprints did not match" in text or "fingerprint" in text.lower():
        return PinMismatch(
            f"the certificate of {server} does not match the pinned fingerprint.",
            operation=operation,
        )
    verify = next((c for c in causes if isinstance(c, ssl.SSLCertVerificationError)), None)
    said = (getattr(verify, "verify_message", None) or "").rstrip(".")
    if not said:
        match = _VERIFY_REASON.search(text)
        said = match.group(1).strip().rstrip(".") if match else ""
    if not said and "CERTIFICATE_VERIFY_FAILED" not in text:
        if any(n in text for n in _NOT_TLS):
            return not_tls(server, operation)
        return TlsHandshakeFailed(f"with {server}: {text[:160]}", operation=operation)
    lowered = said.lower()
    certificate = f"the certificate of {server}"
    if "expired" in lowered:
        return CertificateExpired(f"{certificate} has expired ({said}).", operation=operation)
    if "not yet valid" in lowered:
        return CertificateNotYetValid(
            f"{certificate} is not valid yet: its validity starts in the future ({said}).",
            operation=operation,
        )
    if "mismatch" in lowered:
        return HostnameMismatch(
            f"{certificate} was issued for another name ({said}).", operation=operation
        )
    if "self-signed certificate" in lowered.replace("self signed", "self-signed") and (
        "in certificate chain" not in lowered
    ):
        return SelfSignedCertificate(
            f"{certificate} is self-signed: no certificate authority vouches for it ({said}).",
            operation=operation,
        )
    return UntrustedCertificate(
        f"{certificate} is signed by an authority this computer does not trust "
        f"({said or 'verification failed'}).",
        operation=operation,
    )


@dataclass(frozen=True)
class PeerCertificate:
    """The certificate a TLS server presents, for showing to the user before trusting it."""

    pem: str
    sha256: str  # lower-case hex

    @property
    def sha256_colons(self) -> str:
        return colon_hex(self.sha256)


def fetch_peer_certificate(url: str, timeout: float = 10.0) -> PeerCertificate:
    """Read the server's leaf certificate without trusting it (for a pin/trust prompt)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we only read the certificate here; nothing is sent
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLError as exc:
        raise ssl_error(exc, f"{host}:{port}", "read certificate") from exc
    except OSError as exc:
        raise connection_error(exc, f"{host}:{port}", "read certificate") from exc
    if not der:
        raise TlsTrustError("the server sent no certificate", operation="read certificate")
    return PeerCertificate(ssl.DER_cert_to_PEM_cert(der), hashlib.sha256(der).hexdigest())
