"""The data endpoints: ``PUT`` (upload) and ``GET`` (download) at ``/cls/data/<token>/<name>``.

The URI carries its own token, as on vCenter, so no login header is needed
(``vmware-api-session-id`` is accepted and ignored).  Bodies stream in 1 MiB
chunks and are never held in memory; SHA-1 (plus the AddSpec's algorithm, if
another) is computed while the PUT streams.  Plain-HTTP downloads use
``os.sendfile``.  The state lock is never held during byte I/O.

``handler.py`` routes these paths here; the request is seen through the
``DataRequest`` protocol, so this module does not import the handler.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from email.message import Message
from io import BufferedIOBase, FileIO
from typing import Any, Protocol
from urllib.parse import unquote

from .backend import Backend, DownloadTicket, UploadTicket
from .blobs import CHUNK, BlockWriter, HashPipe
from .errors import ApiError, invalid_argument
from .faults import Stall
from .framing import BodyReader, LengthReader, body_reader, discard, parse_range

log = logging.getLogger(__name__)

DRAIN_LIMIT = 1 << 20  # rejected upload bodies up to this size are read and dropped
SENDFILE_CHUNK = 8 << 20  # bytes per os.sendfile call between progress updates
PREFIX = "/cls/data/"


class DataServer(Protocol):
    @property
    def backend(self) -> Backend: ...

    @property
    def tls(self) -> bool: ...


class DataRequest(Protocol):
    """What the data endpoints use of the HTTP handler."""

    close_connection: bool

    @property
    def server(self) -> DataServer: ...

    @property
    def headers(self) -> Message: ...

    @property
    def rfile(self) -> BufferedIOBase: ...

    @property
    def wfile(self) -> BufferedIOBase: ...

    @property
    def connection(self) -> Any: ...

    @property
    def expect_continue(self) -> bool: ...

    def send_continue(self) -> None: ...

    def send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        content_length: int | None = None,
    ) -> None: ...

    def send_api_error(
        self,
        err: ApiError,
        dialect: str = "api",
        status: int | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None: ...

    def drop_connection(self, reset: bool = True) -> None: ...

    def wait_stalled(self, seconds: float) -> None: ...


def _pace(start: float, done: int, bytes_per_second: int | None) -> None:
    if bytes_per_second:
        ahead = done / bytes_per_second - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)


def _chunk_size(bytes_per_second: int | None, limit: int) -> int:
    # Smaller pieces when throttled, so progress moves smoothly.
    return min(limit, max(16 << 10, bytes_per_second // 10)) if bytes_per_second else limit


def serve_data(request: DataRequest, method: str, path: str) -> None:
    """Answer a request for a data URI (``path`` starts with ``PREFIX``)."""
    parts = path[len(PREFIX) :].split("/", 1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        request.close_connection = True
        request.send_api_error(
            ApiError("NOT_FOUND", "There is no such transfer URI.", key="transfer_uri_not_found")
        )
        return
    token, name = parts[0], unquote(parts[1])
    if method in ("PUT", "POST"):
        _upload(request, token, name)
    elif method in ("GET", "HEAD"):
        _download(request, token, name, head=method == "HEAD")
    else:
        request.close_connection = True
        request.send_api_error(
            ApiError(
                "OPERATION_NOT_FOUND",
                f"{method} is not supported on a transfer URI; use PUT or GET.",
                key="method_not_allowed",
            ),
            status=405,
            headers=[("Allow", "GET, HEAD, PUT, POST")],
        )


# -- upload --------------------------------------------------------------------------------


def _upload(request: DataRequest, token: str, name: str) -> None:
    backend = request.server.backend
    reader = body_reader(request.headers, request.rfile)
    if reader is None:
        request.close_connection = True
        request.send_api_error(
            ApiError("INVALID_REQUEST", "A Content-Length is required.", key="length_required"),
            status=411,
        )
        return
    declared = reader.left if isinstance(reader, LengthReader) else None
    try:
        ticket = backend.begin_upload(token, name, declared)
    except ApiError as err:
        _discard_small_body(request, reader)
        request.send_api_error(err)
        return
    faults = backend.faults
    drop_at = faults.take_drop("upload")
    stall = faults.take_stall("upload") if drop_at is None else None
    stop_at = stall.after_bytes if stall is not None else drop_at
    request.send_continue()
    received, complete, failure, dropped, digests = _receive(
        request, ticket, reader, stop_at, faults.take_upload_corruption()
    )
    if dropped:
        if stall is not None:
            request.wait_stalled(stall.seconds)
        what = "stalled" if stall is not None else "dropped"
        backend.finish_upload(
            ticket,
            received,
            False,
            digests,
            f"The connection was {what} after {received} bytes (injected fault).",
        )
        request.drop_connection()
        return
    limit = ticket.file.expected_size
    if limit is not None and received > limit:
        # A chunked body longer than the AddSpec's size: refused, the rest left unread.
        message = f"The body of {name} is longer than its declared size of {limit} bytes."
        backend.finish_upload(ticket, received, False, digests, message)
        request.close_connection = True
        request.send_api_error(invalid_argument(message, name, key="body_too_long"))
        return
    owned = backend.finish_upload(ticket, received, complete, digests, failure)
    if not complete:
        request.close_connection = True  # the rest of the body is still on the wire
    if not owned:
        request.send_api_error(
            ApiError(
                "NOT_ALLOWED_IN_CURRENT_STATE",
                f"The upload of {name} was aborted: its session ended or the file was "
                "re-added or removed.",
                key="transfer_aborted",
                args=[name],
            )
        )
    elif failure is not None:
        request.send_api_error(ApiError("INTERNAL_SERVER_ERROR", failure, key="store_failed"))
    elif complete:
        request.send_bytes(200, b"")


def _discard_small_body(request: DataRequest, reader: BodyReader) -> None:
    """Read and drop a small rejected body so the connection stays usable and the
    client sees our answer rather than a reset; close the connection otherwise."""
    small = isinstance(reader, LengthReader) and reader.left <= DRAIN_LIMIT
    if request.expect_continue or not small or not isinstance(reader, LengthReader):
        # Not read (with Expect: 100-continue, not even sent): close after answering.
        request.close_connection = True
        return
    discard(reader)


def _receive(
    request: DataRequest,
    ticket: UploadTicket,
    reader: BodyReader,
    drop_at: int | None,
    corrupt_at: int | None = None,
) -> tuple[int, bool, str | None, bool, dict[str, str]]:
    """Stream the body into the ticket's temp file.

    Each buffer is filled completely (so disk writes stay aligned), handed to
    the hasher, and written while it is being hashed.  Reading stops one byte
    past the AddSpec's size, if it has one.  ``corrupt_at`` is a body offset
    whose byte is flipped on receipt (an injected fault).  Returns (bytes
    received, whole body read, store failure, stopped at ``drop_at``, digests).
    """
    limit = ticket.file.expected_size
    backend = request.server.backend
    faults = backend.faults
    algorithms = ["SHA1"] if ticket.algorithm == "SHA1" else ["SHA1", ticket.algorithm]
    pipe = HashPipe(algorithms)
    received = 0
    complete = dropped = False
    failure: str | None = None
    start = time.monotonic()
    buf = pipe.buffer()
    fill = 0
    try:
        writer = BlockWriter(ticket.temp)
        try:
            while True:
                if reader.eof:
                    complete = True
                    break
                bytes_per_second = faults.throttle_bps
                want = min(_chunk_size(bytes_per_second, CHUNK), CHUNK - fill)
                if drop_at is not None:
                    if received >= drop_at:
                        dropped = True
                        break
                    want = min(want, drop_at - received)
                if limit is not None:
                    if received > limit:
                        break
                    want = min(want, limit + 1 - received)
                try:
                    count = reader.readinto(buf[fill : fill + want])
                except (ConnectionError, TimeoutError) as exc:
                    log.info("upload connection failed: %s", exc)
                    break
                if not count:
                    complete = reader.eof
                    break
                if corrupt_at is not None and received <= corrupt_at < received + count:
                    buf[fill + corrupt_at - received] ^= 0xFF
                fill += count
                received += count
                backend.upload_progress(ticket, received)
                if fill == CHUNK:
                    pipe.submit(buf, fill)
                    writer.write(buf[:fill])  # overlaps the hashing of the same bytes
                    buf, fill = pipe.buffer(), 0
                if not backend.upload_alive(ticket):
                    break
                _pace(start, received, bytes_per_second)
            if fill:
                pipe.submit(buf, fill)
                writer.write(buf[:fill])
            else:
                pipe.release(buf)
        finally:
            writer.close()
    except OSError as exc:
        log.warning("cannot store upload: %s", exc)
        failure = f"The server could not store the file: {exc.strerror or exc}."
        complete = False
    return received, complete, failure, dropped, pipe.finish()


# -- download ------------------------------------------------------------------------------


def _download(request: DataRequest, token: str, name: str, head: bool) -> None:
    backend = request.server.backend
    try:
        ticket = backend.begin_download(token, name)
        content = open(ticket.path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except ApiError as err:
        request.send_api_error(err)
        return
    except FileNotFoundError:
        request.send_api_error(
            ApiError(
                "NOT_FOUND",
                f"The content of {name} is no longer available.",
                key="content_not_found",
            )
        )
        return
    with content:
        size = os.fstat(content.fileno()).st_size
        span = parse_range(str(request.headers.get("Range") or ""), size)
        headers = [("Accept-Ranges", "bytes"), ("Content-Type", "application/octet-stream")]
        if span == "unsatisfiable":
            headers.append(("Content-Range", f"bytes */{size}"))
            request.send_bytes(416, b"", headers=headers)
            return
        if isinstance(span, tuple):
            first, last = span
            status = 206
            headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
        else:
            first, last, status = 0, size - 1, 200
        length = last - first + 1
        request.send_bytes(status, b"", headers=headers, content_length=length)
        if head or length == 0:
            return
        drop_at = backend.faults.take_drop("download")
        stall = backend.faults.take_stall("download") if drop_at is None else None
        _send_body(request, ticket, content, first, length, drop_at, stall)


def _send_body(
    request: DataRequest,
    ticket: DownloadTicket,
    content: FileIO,
    offset: int,
    length: int,
    drop_at: int | None,
    stall: Stall | None = None,
) -> None:
    backend = request.server.backend
    faults = backend.faults
    corrupt_at = faults.take_corruption()
    # a corrupted body must pass through our buffer, so sendfile is off for it
    use_sendfile = not request.server.tls and hasattr(os, "sendfile") and corrupt_at is None
    sock_fd = request.connection.fileno() if use_sendfile else -1
    buf = memoryview(bytearray(CHUNK)) if not use_sendfile else None
    sent = 0
    start = time.monotonic()
    if stall is not None:
        drop_at = stall.after_bytes
    try:
        while sent < length:
            bytes_per_second = faults.throttle_bps
            piece = SENDFILE_CHUNK if use_sendfile else CHUNK
            want = min(length - sent, _chunk_size(bytes_per_second, piece))
            if drop_at is not None:
                if sent >= drop_at:
                    if stall is not None:
                        request.wait_stalled(stall.seconds)
                    request.drop_connection(reset=False)
                    return
                want = min(want, drop_at - sent)
            if buf is None:
                count = os.sendfile(sock_fd, content.fileno(), offset + sent, want)
            else:
                count = os.preadv(content.fileno(), [buf[:want]], offset + sent)
                if corrupt_at is not None and offset + sent <= corrupt_at < offset + sent + count:
                    buf[corrupt_at - offset - sent] ^= 0xFF
                if count:
                    request.wfile.write(buf[:count])
            if not count:
                break  # file shrank underneath us
            sent += count
            backend.note_download(ticket, count)
            if not backend.download_alive(ticket):
                break
            _pace(start, sent, bytes_per_second)
    except (ConnectionError, TimeoutError) as exc:
        log.info("download connection failed after %d bytes: %s", sent, exc)
    if sent < length:
        # The client must not mistake a short body for the file.
        request.drop_connection(reset=False)
