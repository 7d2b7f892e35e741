"""The data endpoints: ``PUT`` (upload) and ``GET`` (download) at ``/cls/data/<token>/<name>``.

The URI carries its own token, as on vCenter, so no login header is needed
(``vmware-api-session-id`` is accepted and ignored).  Bodies stream in 1 MiB
chunks and are never held in memory; SHA-1 (plus the AddSpec's algorithm, if
another) is computed while the PUT streams.  Plain-HTTP downloads use
``os.sendfile``.  The state lock is never held during byte I/O.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import mmap
import os
import queue
import re
import threading
import time
from io import BufferedIOBase, FileIO
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote

from .backend import DownloadTicket, UploadTicket
from .errors import ApiError, invalid_argument
from .faults import Stall

if TYPE_CHECKING:
    from .handler import Handler

log = logging.getLogger(__name__)

CHUNK = 1 << 20
DRAIN_LIMIT = 1 << 20  # rejected bodies up to this size are read and dropped
DIRECT_ALIGN = 4096  # O_DIRECT needs block-aligned lengths and offsets
SENDFILE_CHUNK = 8 << 20  # bytes per os.sendfile call between progress updates
PREFIX = "/cls/data/"


class ChunkedReader:
    """Decodes a ``Transfer-Encoding: chunked`` body from a buffered stream."""

    def __init__(self, rfile: BufferedIOBase) -> None:
        self.rfile = rfile
        self.left = 0
        self.eof = False

    def readinto(self, buf: memoryview) -> int:
        if self.eof:
            return 0
        if self.left == 0:
            line = self.rfile.readline(1024)
            if not line:
                return 0
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ConnectionError("malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.eof = True
                return 0
            self.left = size
        n = self.rfile.readinto(buf[: min(len(buf), self.left)])
        if not n:
            return 0
        self.left -= n
        if self.left == 0:
            self.rfile.readline(3)  # the CRLF after the chunk
        return n


class LengthReader:
    """Reads at most ``length`` bytes of a body."""

    def __init__(self, rfile: BufferedIOBase, length: int) -> None:
        self.rfile = rfile
        self.left = length

    @property
    def eof(self) -> bool:
        return self.left == 0

    def readinto(self, buf: memoryview) -> int:
        if self.left == 0:
            return 0
        n = self.rfile.readinto(buf[: min(len(buf), self.left)])
        self.left -= n or 0
        return n or 0


def body_reader(h: Handler) -> ChunkedReader | LengthReader | None:
    """A reader for the request body, or None when its length is unknown."""
    if "chunked" in str(h.headers.get("Transfer-Encoding", "")).lower():
        return ChunkedReader(h.rfile)
    length = h.headers.get("Content-Length")
    if length is None:
        return None
    try:
        n = int(length)
    except ValueError:
        return None
    return LengthReader(h.rfile, n) if n >= 0 else None


def _pace(start: float, done: int, bps: int | None) -> None:
    if bps:
        ahead = done / bps - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)


def _chunk_size(bps: int | None, limit: int) -> int:
    # Smaller pieces when throttled, so progress moves smoothly.
    return min(limit, max(16 << 10, bps // 10)) if bps else limit


def handle(h: Handler, method: str, path: str) -> None:
    parts = path[len(PREFIX) :].split("/", 1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        h.close_connection = True
        h.send_api_error(
            ApiError("NOT_FOUND", "There is no such transfer URI.", key="transfer_uri_not_found")
        )
        return
    token, name = parts[0], unquote(parts[1])
    if method in ("PUT", "POST"):
        _upload(h, token, name)
    elif method in ("GET", "HEAD"):
        _download(h, token, name, head=method == "HEAD")
    else:
        h.close_connection = True
        h.send_api_error(
            ApiError(
                "OPERATION_NOT_FOUND",
                f"{method} is not supported on a transfer URI; use PUT or GET.",
                key="method_not_allowed",
            ),
            status=405,
            headers=[("Allow", "GET, HEAD, PUT, POST")],
        )


# -- upload --------------------------------------------------------------------------------


def _upload(h: Handler, token: str, name: str) -> None:
    backend = h.server.backend
    reader = body_reader(h)
    if reader is None:
        h.close_connection = True
        h.send_api_error(
            ApiError("INVALID_REQUEST", "A Content-Length is required.", key="length_required"),
            status=411,
        )
        return
    declared = reader.left if isinstance(reader, LengthReader) else None
    try:
        ticket = backend.begin_upload(token, name, declared)
    except ApiError as err:
        _discard_small_body(h, reader)
        h.send_api_error(err)
        return
    faults = backend.faults
    drop_at = faults.take_drop("upload")
    stall = faults.take_stall("upload") if drop_at is None else None
    stop_at = stall.after_bytes if stall is not None else drop_at
    h.send_continue()
    received, complete, failure, dropped, digests = _receive(
        h, ticket, reader, stop_at, faults.take_upload_corruption()
    )
    if dropped:
        if stall is not None:
            h.wait_stalled(stall.seconds)
        what = "stalled" if stall is not None else "dropped"
        backend.finish_upload(
            ticket,
            received,
            False,
            digests,
            f"The connection was {what} after {received} bytes (injected fault).",
        )
        h.drop_connection()
        return
    limit = ticket.file.expected_size
    if limit is not None and received > limit:
        # A chunked body longer than the AddSpec's size: refused, the rest left unread.
        message = f"The body of {name} is longer than its declared size of {limit} bytes."
        backend.finish_upload(ticket, received, False, digests, message)
        h.close_connection = True
        h.send_api_error(invalid_argument(message, name, key="body_too_long"))
        return
    owned = backend.finish_upload(ticket, received, complete, digests, failure)
    if not complete:
        h.close_connection = True  # the rest of the body is still on the wire
    if not owned:
        h.send_api_error(
            ApiError(
                "NOT_ALLOWED_IN_CURRENT_STATE",
                f"The upload of {name} was aborted: its session ended or the file was "
                "re-added or removed.",
                key="transfer_aborted",
                args=[name],
            )
        )
    elif failure is not None:
        h.send_api_error(ApiError("INTERNAL_SERVER_ERROR", failure, key="store_failed"))
    elif complete:
        h.send_bytes(200, b"")


class Hasher(Protocol):
    def update(self, data: memoryview, /) -> None: ...

    def hexdigest(self) -> str: ...


class HashPipe:
    """Hashes chunks on helper threads while the handler receives and writes.

    hashlib releases the GIL for large updates, so on a CPU without SHA
    instructions (SHA-1 at ~0.5-0.7 GB/s per core) hashing runs beside the
    socket reads and disk writes instead of adding to them, and a second
    algorithm (an AddSpec asking for SHA-256) gets its own thread and core.
    Buffers circulate: one goes back to the free pool once every hasher is
    done with it.  Each byte is read from the socket once.  Buffers are
    page-aligned (anonymous mmap) so they can be written with O_DIRECT.
    """

    DEPTH = 4

    def __init__(self, algorithms: list[str]) -> None:
        self._free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
        self._maps = [mmap.mmap(-1, CHUNK) for _ in range(self.DEPTH)]
        for m in self._maps:
            self._free.put(memoryview(m))
        self._lock = threading.Lock()
        self._pending: dict[int, int] = {}  # id(buffer) -> hashers still reading it
        self._hashers: dict[str, Hasher] = {alg: hashlib.new(alg.lower()) for alg in algorithms}
        self._queues: list[queue.SimpleQueue[tuple[memoryview, int] | None]] = []
        self._threads: list[threading.Thread] = []
        for alg, hasher in self._hashers.items():
            work: queue.SimpleQueue[tuple[memoryview, int] | None] = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._run, args=(hasher, work), name=f"cl-simulator-{alg}", daemon=True
            )
            self._queues.append(work)
            self._threads.append(thread)
            thread.start()

    def _run(self, hasher: Hasher, work: queue.SimpleQueue[tuple[memoryview, int] | None]) -> None:
        while (job := work.get()) is not None:
            buf, n = job
            hasher.update(buf[:n])
            with self._lock:
                left = self._pending[id(buf)] - 1
                if left:
                    self._pending[id(buf)] = left
                    continue
                del self._pending[id(buf)]
            self._free.put(buf)

    def buffer(self) -> memoryview:
        """A free buffer to fill (waits while the hashers are behind)."""
        return self._free.get()

    def submit(self, buf: memoryview, n: int) -> None:
        """Hash ``buf[:n]``; the buffer returns to the free pool afterwards.

        The caller may keep *reading* ``buf`` (e.g. write it to disk) until it
        asks for its next buffer.
        """
        with self._lock:
            self._pending[id(buf)] = len(self._queues)
        for work in self._queues:
            work.put((buf, n))

    def release(self, buf: memoryview) -> None:
        """Return a buffer that was not submitted."""
        self._free.put(buf)

    def finish(self) -> dict[str, str]:
        for work in self._queues:
            work.put(None)
        for thread in self._threads:
            thread.join()
        while not self._free.empty():
            self._free.get().release()
        for m in self._maps:
            try:
                m.close()
            except BufferError:
                pass  # a view is still referenced (error path); freed with it
        return {alg: hasher.hexdigest() for alg, hasher in self._hashers.items()}


class BlockWriter:
    """Writes an upload to a file, bypassing the page cache where it can.

    Whole aligned chunks go out with O_DIRECT: no copy into the page cache and
    no later writeback, which on a 2-core box frees a third of a core for
    hashing.  The first short write (the tail) switches to ordinary buffered
    writes; so does a file system that refuses O_DIRECT (tmpfs).
    """

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        self.direct = False
        direct = getattr(os, "O_DIRECT", 0)
        if direct:
            try:
                self.fd = os.open(path, flags | direct, 0o600)
                self.direct = True
                return
            except OSError:
                pass
        self.fd = os.open(path, flags, 0o600)

    def _buffered(self) -> None:
        if self.direct:
            self.direct = False
            fl = fcntl.fcntl(self.fd, fcntl.F_GETFL)
            fcntl.fcntl(self.fd, fcntl.F_SETFL, fl & ~os.O_DIRECT)

    def write(self, data: memoryview) -> None:
        if len(data) % DIRECT_ALIGN:
            self._buffered()
        while data:
            try:
                n = os.write(self.fd, data)
            except OSError as exc:
                if exc.errno == errno.EINVAL and self.direct:
                    self._buffered()
                    continue
                raise
            data = data[n:]
            if data:
                self._buffered()  # a partial direct write leaves an unaligned rest

    def close(self) -> None:
        os.close(self.fd)


def _discard_small_body(h: Handler, reader: ChunkedReader | LengthReader) -> None:
    """Read and drop a small rejected body so the connection stays usable and the
    client sees our answer rather than a reset; close the connection otherwise."""
    small = isinstance(reader, LengthReader) and reader.left <= DRAIN_LIMIT
    if h.expect_continue or not small:
        # Not read (with Expect: 100-continue, not even sent): close after answering.
        h.close_connection = True
        return
    buf = memoryview(bytearray(min(reader.left, CHUNK) or 1))
    while reader.readinto(buf):
        pass


def _receive(
    h: Handler,
    ticket: UploadTicket,
    reader: ChunkedReader | LengthReader,
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
    backend = h.server.backend
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
                bps = faults.throttle_bps
                want = min(_chunk_size(bps, CHUNK), CHUNK - fill)
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
                    n = reader.readinto(buf[fill : fill + want])
                except (ConnectionError, TimeoutError) as exc:
                    log.info("upload connection failed: %s", exc)
                    break
                if not n:
                    complete = reader.eof
                    break
                if corrupt_at is not None and received <= corrupt_at < received + n:
                    buf[fill + corrupt_at - received] ^= 0xFF
                fill += n
                received += n
                backend.upload_progress(ticket, received)
                if fill == CHUNK:
                    pipe.submit(buf, fill)
                    writer.write(buf[:fill])  # overlaps the hashing of the same bytes
                    buf, fill = pipe.buffer(), 0
                if not backend.upload_alive(ticket):
                    break
                _pace(start, received, bps)
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

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_HUGE = 1 << 63  # any position with more digits than this is past every file


def _position(digits: str) -> int:
    # int() refuses strings of thousands of digits; such a position is simply huge.
    return _HUGE if len(digits.lstrip("0")) > 18 else int(digits)


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(first, last) for a satisfiable single range, None to send everything,
    "unsatisfiable" for a 416."""
    if not header:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None  # multi-range or malformed: answer with the whole file
    first_s, last_s = m.group(1), m.group(2)
    if not first_s:
        suffix = _position(last_s)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    first = _position(first_s)
    last = _position(last_s) if last_s else size - 1
    if last_s and last < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


def _download(h: Handler, token: str, name: str, head: bool) -> None:
    backend = h.server.backend
    try:
        ticket = backend.begin_download(token, name)
        f = open(ticket.path, "rb", buffering=0)  # noqa: SIM115 - closed below
    except ApiError as err:
        h.send_api_error(err)
        return
    except FileNotFoundError:
        h.send_api_error(
            ApiError(
                "NOT_FOUND",
                f"The content of {name} is no longer available.",
                key="content_not_found",
            )
        )
        return
    with f:
        size = os.fstat(f.fileno()).st_size
        rng = parse_range(str(h.headers.get("Range") or ""), size)
        headers = [("Accept-Ranges", "bytes"), ("Content-Type", "application/octet-stream")]
        if rng == "unsatisfiable":
            headers.append(("Content-Range", f"bytes */{size}"))
            h.send_bytes(416, b"", headers=headers)
            return
        if isinstance(rng, tuple):
            first, last = rng
            status = 206
            headers.append(("Content-Range", f"bytes {first}-{last}/{size}"))
        else:
            first, last, status = 0, size - 1, 200
        length = last - first + 1
        h.send_bytes(status, b"", headers=headers, content_length=length)
        if head or length == 0:
            return
        drop_at = backend.faults.take_drop("download")
        stall = backend.faults.take_stall("download") if drop_at is None else None
        _send_body(h, ticket, f, first, length, drop_at, stall)


def _send_body(
    h: Handler,
    ticket: DownloadTicket,
    f: FileIO,
    offset: int,
    length: int,
    drop_at: int | None,
    stall: Stall | None = None,
) -> None:
    backend = h.server.backend
    faults = backend.faults
    corrupt_at = faults.take_corruption()
    # a corrupted body must pass through our buffer, so sendfile is off for it
    use_sendfile = not h.server.tls and hasattr(os, "sendfile") and corrupt_at is None
    sock_fd = h.connection.fileno() if use_sendfile else -1
    buf = memoryview(bytearray(CHUNK)) if not use_sendfile else None
    sent = 0
    start = time.monotonic()
    if stall is not None:
        drop_at = stall.after_bytes
    try:
        while sent < length:
            bps = faults.throttle_bps
            want = min(length - sent, _chunk_size(bps, SENDFILE_CHUNK if use_sendfile else CHUNK))
            if drop_at is not None:
                if sent >= drop_at:
                    if stall is not None:
                        h.wait_stalled(stall.seconds)
                    h.drop_connection(reset=False)
                    return
                want = min(want, drop_at - sent)
            if buf is None:
                n = os.sendfile(sock_fd, f.fileno(), offset + sent, want)
            else:
                n = os.preadv(f.fileno(), [buf[:want]], offset + sent)
                if corrupt_at is not None and offset + sent <= corrupt_at < offset + sent + n:
                    buf[corrupt_at - offset - sent] ^= 0xFF
                if n:
                    h.wfile.write(buf[:n])
            if not n:
                break  # file shrank underneath us
            sent += n
            backend.note_download(ticket, n)
            if not backend.download_alive(ticket):
                break
            _pace(start, sent, bps)
    except (ConnectionError, TimeoutError) as exc:
        log.info("download connection failed after %d bytes: %s", sent, exc)
    if sent < length:
        # The client must not mistake a short body for the file.
        h.drop_connection(reset=False)
