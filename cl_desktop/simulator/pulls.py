"""PULL: the service fetches a session file from an http(s) URL itself, one thread per file.

The thread connects, checks the source's certificate (with a thumbprint: only the SHA-1 of its
DER counts, as vCenter does; without one: ordinary validation against the system's CAs), GETs
the URL into a temp file while hashing, and hands the outcome to the backend
(``begin_pull`` / ``upload_progress`` / ``finish_pull``), which owns the file's status. The state
lock is never held while bytes move. ``abort`` (session cancelled, failed, deleted, expired, the
file re-added or removed, the service stopping) shuts the socket so a read blocked on a silent
source returns at once.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urljoin, urlsplit

from .blobs import CHUNK

log = logging.getLogger(__name__)

SCHEMES = ("http", "https")
DESCRIPTOR_LIMIT = 16 << 20  # an OVF descriptor bigger than this is not parsed
USER_AGENT = "cl-desktop-simulator/1 (Content Library PULL)"


def normalize_thumbprint(value: str) -> str:
    """'AA:BB:..' (vCenter's form), 'aa bb ..' or 'aabb..' -> 'aabb..' (lower-case hex)."""
    return "".join(c for c in value.lower() if c in "0123456789abcdef")


def thumbprint_form(hex_digest: str) -> str:
    """'aabb..' -> 'AA:BB:..', how vCenter writes a SHA-1 thumbprint."""
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()


class PullFailed(Exception):
    """Why a pull ended without the file: the file's error message."""


@dataclass(frozen=True)
class Reference:
    """A file an OVF descriptor's References name, resolved against the descriptor's URL."""

    name: str
    uri: str
    size: int | None


class PullBackend(Protocol):
    """What a pull needs of the backend (``updates.UpdateOps``)."""

    def begin_pull(self, puller: Puller, length: int | None) -> Any: ...
    def upload_progress(self, ticket: Any, total: int) -> None: ...
    def upload_alive(self, ticket: Any) -> bool: ...
    def pull_failed(self, puller: Puller, message: str) -> None: ...
    def finish_pull(
        self,
        puller: Puller,
        ticket: Any,
        received: int,
        digests: dict[str, str],
        failure: str | None,
        references: list[Reference],
    ) -> None: ...

    @property
    def faults(self) -> Any: ...


class Puller:
    """One file's fetch: a daemon thread, stoppable from any thread with ``abort``."""

    def __init__(
        self,
        backend: PullBackend,
        session: Any,
        file: Any,
        generation: int,
        uri: str,
        thumbprint: str | None,
        idle_timeout: float,
    ) -> None:
        self.backend = backend
        self.session = session
        self.file = file
        self.generation = generation
        self.uri = uri
        self.thumbprint = thumbprint
        self.idle_timeout = idle_timeout
        self._aborted = threading.Event()
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"sim-pull-{file.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    @property
    def aborted(self) -> bool:
        return self._aborted.is_set()

    def abort(self) -> None:
        self._aborted.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked on a silent source
            except OSError:
                pass

    # -- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._pull()
        except PullFailed as exc:
            if not self.aborted:
                log.info("pull of %s failed: %s", self.uri, exc)
                self.backend.pull_failed(self, str(exc))
        except Exception as exc:  # a bug: the file must not stay TRANSFERRING for ever
            log.exception("pull of %s failed unexpectedly", self.uri)
            self.backend.pull_failed(self, f"The server could not pull {self.uri}: {exc}.")

    def _connect(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.uri)
        host, port = parts.hostname or "", parts.port
        where = f"{host}:{port or (443 if parts.scheme == 'https' else 80)}"
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            if self.thumbprint:
                # The thumbprint replaces validation (the SDK's ssl_certificate_thumbprint).
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context()
            conn = http.client.HTTPSConnection(
                host, port, timeout=self.idle_timeout, context=context
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.idle_timeout)
        try:
            conn.connect()
        except ssl.SSLCertVerificationError as exc:
            raise PullFailed(
                f"The certificate of {where} is not trusted ({exc.verify_message}); "
                "give its SHA-1 thumbprint to import from it."
            ) from exc
        except ssl.SSLError as exc:
            raise PullFailed(f"The TLS handshake with {where} failed ({exc.reason}).") from exc
        except ConnectionRefusedError as exc:
            raise PullFailed(f"Cannot connect to {where}: connection refused.") from exc
        except TimeoutError as exc:
            raise PullFailed(f"Cannot connect to {where}: timed out.") from exc
        except OSError as exc:
            raise PullFailed(f"Cannot connect to {where}: {exc.strerror or exc}.") from exc
        assert conn.sock is not None
        with self._lock:
            self._sock = conn.sock
        if self.aborted:
            conn.close()
            raise PullFailed("aborted")
        if parts.scheme == "https" and self.thumbprint:
            assert isinstance(conn.sock, ssl.SSLSocket)
            der = conn.sock.getpeercert(binary_form=True) or b""
            got = hashlib.sha1(der).hexdigest()
            want = normalize_thumbprint(self.thumbprint)
            if got != want:
                conn.close()
                raise PullFailed(
                    f"The SSL certificate of {where} does not match the thumbprint given: "
                    f"expected {thumbprint_form(want)}, the server presents "
                    f"{thumbprint_form(got)}."
                )
        return conn

    def _pull(self) -> None:
        parts = urlsplit(self.uri)
        conn = self._connect()
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            try:
                conn.request(
                    "GET",
                    target,
                    headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
                )
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise PullFailed(f"The source {self.uri} did not answer: {exc}.") from exc
            if response.status != 200:
                raise PullFailed(
                    f"The source answered HTTP {response.status} {response.reason} for {self.uri}."
                )
            length_header = response.getheader("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            ticket = self.backend.begin_pull(self, length)
            if ticket is None:
                return  # the file or its session went away meanwhile
            self._receive(response, ticket, length)
        finally:
            conn.close()
            with self._lock:
                self._sock = None

    def _receive(self, response: http.client.HTTPResponse, ticket: Any, length: int | None) -> None:
        faults = self.backend.faults
        drop_at = faults.take_drop("pull")
        stall = faults.take_stall("pull") if drop_at is None else None
        stop_at = stall.after_bytes if stall is not None else drop_at
        algorithms = ["SHA1"] if ticket.algorithm == "SHA1" else ["SHA1", ticket.algorithm]
        hashers = {alg: hashlib.new(alg.lower()) for alg in algorithms}
        received = 0
        failure: str | None = None
        start = time.monotonic()
        limit = ticket.file.expected_size
        try:
            with open(ticket.temp, "wb") as out:
                while True:
                    if self.aborted or not self.backend.upload_alive(ticket):
                        failure = "aborted"
                        break
                    bps = faults.throttle_bps
                    want = min(CHUNK, max(16 << 10, bps // 10)) if bps else CHUNK
                    if stop_at is not None:
                        if received >= stop_at:
                            if stall is not None:
                                self._aborted.wait(stall.seconds)
                                what = "stopped sending"
                            else:
                                what = "dropped the connection"
                            failure = f"The source {what} after {received} bytes (injected fault)."
                            break
                        want = min(want, stop_at - received)
                    if limit is not None:
                        if received > limit:
                            failure = (
                                f"The source sent more than the {limit} bytes "
                                f"declared for {ticket.file.name}."
                            )
                            break
                        want = min(want, limit + 1 - received)
                    try:
                        # read1: what has arrived (readinto would wait to fill the buffer)
                        chunk = response.read1(want)
                    except TimeoutError:
                        failure = (
                            f"The source {self.uri} sent nothing for {self.idle_timeout:g} s "
                            f"after {received} bytes."
                        )
                        break
                    except (OSError, http.client.HTTPException) as exc:
                        failure = (
                            f"The connection to the source failed after {received} bytes: {exc}."
                        )
                        break
                    count = len(chunk)
                    if not count:
                        break
                    for hasher in hashers.values():
                        hasher.update(chunk)
                    out.write(chunk)
                    received += count
                    self.backend.upload_progress(ticket, received)
                    if bps:
                        ahead = received / bps - (time.monotonic() - start)
                        if ahead > 0:
                            self._aborted.wait(ahead)
        except OSError as exc:
            failure = f"The server could not store the file: {exc.strerror or exc}."
        if failure is None and length is not None and received < length:
            failure = f"The source closed the connection after {received} of {length} bytes."
        references: list[Reference] = []
        if failure is None and ticket.file.name.lower().endswith(".ovf"):
            try:
                references = ovf_references(ticket.temp, self.uri)
            except PullFailed as exc:
                failure = str(exc)
        digests = {alg: hasher.hexdigest() for alg, hasher in hashers.items()}
        self.backend.finish_pull(self, ticket, received, digests, failure, references)


# -- OVF descriptors ---------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def ovf_references(path: Path, descriptor_uri: str) -> list[Reference]:
    """The files an OVF descriptor's References name, as URLs relative to the descriptor.

    Parsed with the standard library, so anything that could expand (a DOCTYPE, an entity) is
    refused before parsing; so are hrefs that leave the descriptor's folder or point at another
    host, and names a library item cannot hold.
    """
    with open(path, "rb") as f:
        data = f.read(DESCRIPTOR_LIMIT + 1)
    if len(data) > DESCRIPTOR_LIMIT:
        raise PullFailed("The OVF descriptor is too large to be read.")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise PullFailed("The OVF descriptor has a DOCTYPE or entities, which are refused.")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise PullFailed(f"The OVF descriptor is not well-formed XML ({exc}).") from exc
    base = urlsplit(descriptor_uri)
    folder = base.path.rsplit("/", 1)[0] + "/"
    found: list[Reference] = []
    for refs in root.iter():
        if _local(refs.tag) != "References":
            continue
        for entry in refs:
            if _local(entry.tag) != "File":
                continue
            attrs = {_local(k): v for k, v in entry.attrib.items()}
            href = attrs.get("href", "")
            size_text = attrs.get("size", "")
            found.append(_reference(href, size_text, descriptor_uri, base, folder))
    names = [r.name for r in found]
    if len(set(names)) != len(names):
        raise PullFailed("The OVF descriptor names the same file twice.")
    return found


def _reference(href: str, size_text: str, descriptor_uri: str, base: Any, folder: str) -> Reference:
    if not href:
        raise PullFailed("The OVF descriptor has a File without an href.")
    resolved = urlsplit(urljoin(descriptor_uri, href))
    same_origin = (resolved.scheme, resolved.netloc) == (base.scheme, base.netloc)
    if not same_origin:
        raise PullFailed(f"The OVF descriptor refers to {href}, on another server; refused.")
    if not resolved.path.startswith(folder) or ".." in unquote(href).split("/"):
        raise PullFailed(f"The OVF descriptor refers to {href}, outside its folder; refused.")
    name = unquote(resolved.path[len(folder) :])
    if not name or "/" in name or "\\" in name or len(name.encode("utf-8")) > 200:
        raise PullFailed(f"The OVF descriptor refers to {href}, which is not a plain file name.")
    size = int(size_text) if size_text.isdigit() else None
    return Reference(name, resolved.geturl(), size)
