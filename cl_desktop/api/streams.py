"""Byte streaming for the data endpoints: the upload body, the download stream, block sizing.

No session or dialect knowledge here: the client opens the request (with the headers and
timeouts it chooses) and hands the body or the response to these classes.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import requests
import urllib3

from .errors import ProtocolError
from .transport import translate_transport_errors

CHUNK_SIZE = 1 << 20  # 1 MiB: 16 KiB reads halved throughput with inline hashing (measured)

RING_BLOCKS = 6  # blocks in flight: one on the wire, the others queued for the hash and the disk

Progress = Callable[[int], None]  # cumulative bytes; may raise to abort the transfer


class Block:
    """One reusable buffer of a `BlockRing`, its filled part in `view`. Whoever keeps it past
    the call that handed it over `hold()`s it and `release()`s it when done; the last release
    gives it back to the ring. No block is allocated (or copied) per MiB moved."""

    __slots__ = ("_buffer", "_lock", "_ring", "_users", "view")

    def __init__(self, ring: BlockRing, size: int) -> None:
        self._ring = ring
        self._buffer = memoryview(bytearray(size))
        self._lock = threading.Lock()
        self._users = 0
        self.view = self._buffer

    def space(self, size: int) -> memoryview:
        return self._buffer[:size]

    def filled(self, nbytes: int) -> Block:
        self.view = self._buffer[:nbytes]
        return self

    def hold(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            free = self._users == 0
        if free:
            self._ring.give(self)

    def __len__(self) -> int:
        return len(self.view)

    def __bytes__(self) -> bytes:
        return bytes(self.view)


class BlockRing:
    """`count` blocks of `size` bytes, taken (held once by the taker) and given back; `take`
    waits while all are in use, which bounds memory and paces the producer."""

    def __init__(self, count: int = RING_BLOCKS, size: int = CHUNK_SIZE) -> None:
        self.size = size
        self._free: queue.SimpleQueue[Block] = queue.SimpleQueue()
        for _ in range(count):
            self._free.put(Block(self, size))

    def take(self) -> Block:
        block = self._free.get()
        block.hold()
        return block

    def give(self, block: Block) -> None:
        self._free.put(block)


DataSink = Callable[[Block], None]  # hold() the block to keep it past the call


class DownloadStream:
    """An open GET on a download endpoint."""

    def __init__(self, response: requests.Response, asked_offset: int, op: str) -> None:
        self.status = response.status_code
        self._response = response
        self._op = op
        self.offset = 0
        self.total_size: int | None = None
        self._reader: Callable[[memoryview], int] | None = None
        length = response.headers.get("Content-Length")
        if self.status == 206:
            start, total = parse_content_range(response.headers.get("Content-Range", ""))
            if start != asked_offset:
                raise ProtocolError(
                    f"asked for bytes from {asked_offset}, the server sent from {start}",
                    operation=op,
                )
            self.offset = start
            self.total_size = total
        elif length is not None and length.isdigit():
            self.total_size = int(length)

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The body in blocks of up to `size` bytes, smaller on slow links (see BlockSizer)."""
        for block in self.blocks(BlockRing(2, size)):
            try:
                yield bytes(block.view)
            finally:
                block.release()

    def blocks(self, ring: BlockRing) -> Iterator[Block]:
        """The body received straight into `ring`'s blocks (up to `ring.size` bytes each,
        smaller on slow links, see BlockSizer). Each block is held once for the consumer, who
        releases it (after handing it on to whoever holds it further)."""
        sizer = BlockSizer(ring.size)
        readinto = self._readinto()
        with translate_transport_errors(self._op):
            while True:
                started = time.monotonic()
                block = ring.take()
                filled = 0
                try:  # block by block: what arrived is kept even when the next read times out
                    while filled < sizer.size:
                        n = readinto(block.space(sizer.size)[filled:])
                        if not n:
                            break
                        filled += n
                except Exception:
                    if filled:  # the caller keeps these bytes (a resume starts after them)
                        yield block.filled(filled)
                    else:
                        block.release()
                    raise
                if not filled:
                    block.release()
                    return
                sizer.observe(filled, time.monotonic() - started)
                yield block.filled(filled)

    def readinto(self, space: memoryview) -> int:
        """One read of the body into the caller's buffer (0 at its end): for a consumer whose
        own blocks take the bytes (a copy's PUT body reads the source's GET into its ring)."""
        if self._reader is None:
            self._reader = self._readinto()
        with translate_transport_errors(self._op):
            return self._reader(space)

    def _readinto(self) -> Callable[[memoryview], int]:
        """One socket read into the caller's buffer: the buffered socket file under urllib3
        when the body is plain bytes (no chunked framing, no content coding), else urllib3's
        decoding read1 (one copy more)."""
        raw = self._response.raw
        fp: Any = getattr(getattr(raw, "_fp", None), "fp", None)
        plain = not raw.chunked and not self._response.headers.get("Content-Encoding")
        if plain and fp is not None and hasattr(fp, "readinto1"):
            left = [self.total_size - self.offset if self.total_size is not None else None]

            def direct(space: memoryview) -> int:
                if left[0] is not None:  # never read past the body (the connection's next bytes)
                    space = space[: left[0]]
                    if not space:
                        return 0
                try:
                    n: int = fp.readinto1(space)
                except TimeoutError as exc:
                    raise urllib3.exceptions.ReadTimeoutError(None, "", str(exc)) from exc  # type: ignore[arg-type]
                if left[0] is not None:
                    if not n:  # as urllib3 says it: the connection closed mid-body
                        raise urllib3.exceptions.ProtocolError(
                            f"Connection broken: IncompleteRead ({left[0]} bytes missing)"
                        )
                    left[0] -= n
                return n

            return direct

        def decoded(space: memoryview) -> int:
            piece = raw.read1(len(space), decode_content=True)
            space[: len(piece)] = piece
            return len(piece)

        return decoded


class BlockSizer:
    """The block size for a blocking read or send: `largest` on fast links (throughput, as
    measured here), shrinking on slow ones so that one block takes about `target` seconds.
    Cancel and pause are checked between blocks, so they stay prompt at any speed."""

    def __init__(self, largest: int = CHUNK_SIZE, target: float = 0.2) -> None:
        self.largest = largest
        self.smallest = min(largest, 64 << 10)
        self.target = target
        self.size = largest

    def observe(self, nbytes: int, seconds: float) -> None:
        if seconds <= 0:
            return
        fitting = int(nbytes / seconds * self.target) & ~0xFFFF  # whole 64 KiB blocks
        self.size = max(self.smallest, min(self.largest, fitting))


def parse_content_range(header: str) -> tuple[int, int | None]:
    # "bytes 100-199/1000" or "bytes 100-199/*"
    try:
        unit, _, rest = header.partition(" ")
        span, _, total = rest.partition("/")
        start = int(span.split("-")[0])
        if unit != "bytes":
            raise ValueError(unit)
        return start, (int(total) if total.isdigit() else None)
    except ValueError as exc:
        raise ProtocolError(f"unreadable Content-Range {header!r}") from exc


class UploadBody:
    """A file-like body for requests: blocks of up to 1 MiB whatever urllib3 asks (sized by
    BlockSizer), read into the reused blocks of a `BlockRing` and sent from there (no block
    allocated or copied in Python), with callbacks."""

    def __init__(
        self, source: BinaryIO, size: int, progress: Progress | None, on_data: DataSink | None
    ) -> None:
        self._source = source
        self._size = size
        self._progress = progress
        self._on_data = on_data
        self.sent = 0
        self._sizer = BlockSizer()
        self._ring = BlockRing()
        self._sending: Block | None = None  # on the wire until the next read
        self._last_read: tuple[float, int] | None = None

    def __len__(self) -> int:  # requests sets Content-Length from this
        return self._size

    def read(self, _n: int = -1) -> memoryview:
        now = time.monotonic()
        if self._last_read is not None:  # the previous block has been sent meanwhile
            started, nbytes = self._last_read
            self._sizer.observe(nbytes, now - started)
        self.close()
        left = self._size - self.sent
        if left <= 0:
            return memoryview(b"")
        block = self._ring.take()
        nbytes = _fill(self._source, block.space(min(self._sizer.size, left)))
        if not nbytes:
            block.release()
            return memoryview(b"")
        block.filled(nbytes)
        self._sending = block
        self.sent += nbytes
        if self._on_data is not None:
            self._on_data(block)
        if self._progress is not None:
            self._progress(self.sent)
        self._last_read = (time.monotonic(), nbytes)
        return block.view

    def close(self) -> None:
        """Give back the block on the wire (sent once urllib3 asks for the next one)."""
        block, self._sending = self._sending, None
        if block is not None:
            block.release()


def _fill(source: BinaryIO, space: memoryview) -> int:
    """Read into `space` (a short read only at the end of the source)."""
    readinto = getattr(source, "readinto", None)
    if readinto is None:
        piece = source.read(len(space))
        space[: len(piece)] = piece
        return len(piece)
    filled = 0
    while filled < len(space):
        n = readinto(space[filled:])
        if not n:
            break
        filled += n
    return filled
