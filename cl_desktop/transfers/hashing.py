"""Work beside the transfer: threads that hash and write the blocks while the next ones move.

hashlib releases the GIL for large updates, so on a multi-core machine the digest costs the
transfer almost nothing; memory stays bounded by the queue depth (at most `depth` blocks).
A `Block` (a reused buffer of the transfer's ring) is held while queued and released once
hashed or written, so the bytes are never copied for the hand-over.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from cl_desktop.api.streams import Block


class Digest(Protocol):
    def update(self, block: bytes, /) -> None: ...


def feed_file(path: Path, digest: Digest, length: int | None = None, offset: int = 0) -> None:
    """Give `digest` the first `length` bytes of `path` from `offset` (all of the rest if None),
    1 MiB at a time."""
    left = length
    with path.open("rb") as source:
        source.seek(offset)
        while left is None or left > 0:
            block = source.read(1 << 20 if left is None else min(1 << 20, left))
            if not block:
                return
            digest.update(block)
            if left is not None:
                left -= len(block)


def file_digest(path: Path, algorithm: str, length: int | None = None, offset: int = 0) -> str:
    """Hex digest of `path` (or of its `length` bytes from `offset`) in `algorithm` (hashlib
    name)."""
    digest = hashlib.new(algorithm)
    feed_file(path, digest, length, offset)
    return digest.hexdigest()


class BackgroundHasher:
    """`update()` from the transfer thread, `hexdigest()` once the last block was given."""

    def __init__(self, algorithm: str, depth: int = 8) -> None:
        self.name = algorithm
        self._digest = hashlib.new(algorithm)
        self._blocks: queue.Queue[bytes | Block | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name=f"hash-{algorithm}", daemon=True)
        self._thread.start()
        self._result: str | None = None

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            if isinstance(block, Block):
                self._digest.update(block.view)
                block.release()
            else:
                self._digest.update(block)

    def update(self, block: bytes | Block) -> None:
        if isinstance(block, Block):
            block.hold()
        self._blocks.put(block)

    def hexdigest(self) -> str:
        if self._result is None:
            self._blocks.put(None)
            self._thread.join()
            self._result = self._digest.hexdigest()
        return self._result


class BackgroundWriter:
    """Writes blocks to an open file on its own thread.

    The socket read, the disk write and the hash then overlap instead of taking turns. The
    kernel writes the pages back on its own; the one fsync is at the end (needed before the
    rename makes the file final). An fdatasync every 256 MiB, as this used to do, made a
    1 GiB download cost 1.8-4.1 CPU-seconds instead of 1.5 and take longer (measured);
    `flush_every` keeps it possible. A write error is raised on the next `write()` or on
    `finish()`, already translated by `translate`.
    """

    def __init__(
        self,
        sink: BinaryIO,
        translate: Callable[[OSError], Exception],
        depth: int = 8,
        flush_every: int | None = None,
    ) -> None:
        self._sink = sink
        self._translate = translate
        self._flush_every = flush_every
        self._blocks: queue.Queue[bytes | Block | None] = queue.Queue(maxsize=depth)
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="disk-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        unflushed = 0
        while (block := self._blocks.get()) is not None:
            try:
                if self._error is not None:
                    continue  # drain, so the producer never blocks on a dead writer
                self._sink.write(block.view if isinstance(block, Block) else block)
                unflushed += len(block)
                if self._flush_every is not None and unflushed >= self._flush_every:
                    self._sink.flush()
                    os.fdatasync(self._sink.fileno())
                    unflushed = 0
            except OSError as exc:
                self._error = self._translate(exc)
            finally:
                if isinstance(block, Block):
                    block.release()

    def write(self, block: bytes | Block) -> None:
        if self._error is not None:
            raise self._error
        if isinstance(block, Block):
            block.hold()
        self._blocks.put(block)

    def finish(self) -> None:
        """Wait for every block, then make the file durable (flush + fsync)."""
        self.close()
        if self._error is not None:
            raise self._error
        try:
            self._sink.flush()
            os.fsync(self._sink.fileno())
        except OSError as exc:
            raise self._translate(exc) from exc

    def close(self) -> None:
        if self._thread.is_alive():
            self._blocks.put(None)
            self._thread.join()
