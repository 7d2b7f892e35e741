"""Hashing beside the transfer: a thread that digests the blocks while the next ones move.

hashlib releases the GIL for large updates, so on a multi-core machine the digest costs the
transfer almost nothing; memory stays bounded by the queue depth (at most `depth` blocks).
"""

from __future__ import annotations

import hashlib
import queue
import threading


class BackgroundHasher:
    """`update()` from the transfer thread, `hexdigest()` once the last block was given."""

    def __init__(self, algorithm: str, depth: int = 8) -> None:
        self.name = algorithm
        self._digest = hashlib.new(algorithm)
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name=f"hash-{algorithm}", daemon=True)
        self._thread.start()
        self._result: str | None = None

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            self._digest.update(block)

    def update(self, block: bytes) -> None:
        self._blocks.put(block)

    def hexdigest(self) -> str:
        if self._result is None:
            self._blocks.put(None)
            self._thread.join()
            self._result = self._digest.hexdigest()
        return self._result

    def close(self) -> None:
        """Stop the thread when the transfer is abandoned."""
        if self._result is None and self._thread.is_alive():
            self._blocks.put(None)
            self._thread.join()
            self._result = ""
