"""HTTP/1.1 body framing and byte ranges, for every request the simulator reads.

Bodies are read through a reader that stops where the framing says the body ends
(``Content-Length`` or ``Transfer-Encoding: chunked``), so a handler never reads
into the next request of a keep-alive connection.  ``parse_range`` turns a
``Range`` header into the one span a download sends.
"""

from __future__ import annotations

import re
from email.message import Message
from io import BufferedIOBase

DISCARD_BUFFER = 64 << 10


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


BodyReader = ChunkedReader | LengthReader


def body_reader(headers: Message, rfile: BufferedIOBase) -> BodyReader | None:
    """A reader for the request body, or None when its length is unknown."""
    if "chunked" in str(headers.get("Transfer-Encoding", "")).lower():
        return ChunkedReader(rfile)
    length = headers.get("Content-Length")
    if length is None:
        return None
    try:
        size = int(length)
    except ValueError:
        return None
    return LengthReader(rfile, size) if size >= 0 else None


def discard(reader: LengthReader) -> None:
    """Read and drop the rest of a body the server will not use, so the connection can
    carry the next request (callers bound how much they are willing to read)."""
    buf = memoryview(bytearray(min(reader.left, DISCARD_BUFFER) or 1))
    while reader.readinto(buf):
        pass


# -- Range -----------------------------------------------------------------------------------

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
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None  # multi-range or malformed: answer with the whole file
    first_digits, last_digits = match.group(1), match.group(2)
    if not first_digits:
        suffix = _position(last_digits)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    first = _position(first_digits)
    last = _position(last_digits) if last_digits else size - 1
    if last_digits and last < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)
