"""Byte streaming for the data endpoints: the upload body, the download stream, block sizing.

No session or dialect knowledge here: the client opens the request (with the headers and
timeouts it chooses) and hands the body or the response to these classes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

import requests

from .errors import ProtocolError
from .transport import translate_transport_errors

CHUNK_SIZE = 1 << 20  # 1 MiB: 16 KiB reads halved throughput with inline hashing (measured)

Progress = Callable[[int], None]  # cumulative bytes; may raise to abort the transfer
DataSink = Callable[[bytes], None]


class DownloadStream:
    """An open GET on a download endpoint."""

    def __init__(self, response: requests.Response, asked_offset: int, op: str) -> None:
        self.status = response.status_code
        self._response = response
        self._op = op
        self.offset = 0
        self.total_size: int | None = None
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
        sizer = BlockSizer(size)
        raw = self._response.raw
        with translate_transport_errors(self._op):
            while True:
                started = time.monotonic()
                block = bytearray()
                try:  # read1: what arrived is kept even when the next read times out
                    while len(block) < sizer.size:
                        piece = raw.read1(sizer.size - len(block), decode_content=True)
                        if not piece:
                            break
                        block += piece
                except Exception:
                    if block:  # the caller keeps these bytes (a resume starts after them)
                        yield bytes(block)
                    raise
                if not block:
                    return
                sizer.observe(len(block), time.monotonic() - started)
                yield bytes(block)


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
    BlockSizer), with callbacks."""

    def __init__(
        self, source: BinaryIO, size: int, progress: Progress | None, on_data: DataSink | None
    ) -> None:
        self._source = source
        self._size = size
        self._progress = progress
        self._on_data = on_data
        self.sent = 0
        self._sizer = BlockSizer()
        self._last_read: tuple[float, int] | None = None

    def __len__(self) -> int:  # requests sets Content-Length from this
        return self._size

    def read(self, _n: int = -1) -> bytes:
        now = time.monotonic()
        if self._last_read is not None:  # the previous block has been sent meanwhile
            started, nbytes = self._last_read
            self._sizer.observe(nbytes, now - started)
        left = self._size - self.sent
        if left <= 0:
            return b""
        chunk = self._source.read(min(self._sizer.size, left))
        if not chunk:
            return b""
        self.sent += len(chunk)
        if self._on_data is not None:
            self._on_data(chunk)
        if self._progress is not None:
            self._progress(self.sent)
        self._last_read = (time.monotonic(), len(chunk))
        return chunk
