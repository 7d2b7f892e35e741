"""The one generator of local test files: deterministic content, any size, written in blocks."""

from __future__ import annotations

import hashlib
from pathlib import Path

PATTERN_SIZE = 64 * 1024


def make_file(path: Path, size: int, seed: int = 1) -> Path:
    """Write `size` bytes to `path`: a 64 KiB pattern from `seed`, so files of different seeds
    differ and a rerun writes the same bytes."""
    block = hashlib.sha256(str(seed).encode()).digest() * (PATTERN_SIZE // 32)
    with path.open("wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)
    return path
