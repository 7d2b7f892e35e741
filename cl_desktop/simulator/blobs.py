"""Blob I/O for uploads: hashing while bytes arrive, and writing them past the page cache.

``HashPipe`` hashes each received buffer on helper threads (one per algorithm) while
the handler thread writes the same buffer to disk with ``BlockWriter``.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import queue
import threading
from pathlib import Path
from typing import Protocol

CHUNK = 1 << 20  # bytes per buffer: the unit of reading, hashing and writing
DIRECT_ALIGN = 4096  # O_DIRECT needs block-aligned lengths and offsets


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
        for mapping in self._maps:
            self._free.put(memoryview(mapping))
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
            buf, length = job
            hasher.update(buf[:length])
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

    def submit(self, buf: memoryview, length: int) -> None:
        """Hash ``buf[:length]``; the buffer returns to the free pool afterwards.

        The caller may keep *reading* ``buf`` (e.g. write it to disk) until it
        asks for its next buffer.
        """
        with self._lock:
            self._pending[id(buf)] = len(self._queues)
        for work in self._queues:
            work.put((buf, length))

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
        for mapping in self._maps:
            try:
                mapping.close()
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
            flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
            fcntl.fcntl(self.fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)

    def write(self, data: memoryview) -> None:
        if len(data) % DIRECT_ALIGN:
            self._buffered()
        while data:
            try:
                written = os.write(self.fd, data)
            except OSError as exc:
                if exc.errno == errno.EINVAL and self.direct:
                    self._buffered()
                    continue
                raise
            data = data[written:]
            if data:
                self._buffered()  # a partial direct write leaves an unaligned rest

    def close(self) -> None:
        os.close(self.fd)
