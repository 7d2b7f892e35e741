"""Tools for the fault matrix (test_matrix.py): small tmpfs mounts, and the functions that check
what every cell must leave behind. Its fault proxy is tests/support/fault_proxy.py, its
simulator process tests/support/servers/process.py.

No pytest fixtures here; test_matrix.py builds its environment from these pieces.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import JobSnapshot, JobState
from tests.support.api import active_sessions

# --- small file systems ---------------------------------------------------------------------------


@contextmanager
def tmpfs(path: Path, size: int, read_only: bool = False) -> Iterator[Path | None]:
    """A tmpfs of `size` bytes at `path` (root only); None when it cannot be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = (
        shutil.which("mount") is not None
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True,
            timeout=30,
        ).returncode
        == 0
    )
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


# --- the invariants every cell checks ---------------------------------------------------------


@dataclass
class Leftovers:
    """What a cell's job may have touched, for `check_invariants`."""

    sources: dict[str, bytes]  # file name -> the bytes that must be on the other side
    library_id: str
    items_before: set[str]
    dest: Path | None = None  # downloads: the folder written into
    resumable: bool = False  # the job may be continued (paused/queued/failed-resumable)
    extra_ok: set[str] = field(default_factory=set)  # names a download may add (none by default)


_CLASS_NAME = re.compile(r"\b(?:[a-z_]+\.)+[A-Z]\w+|\b[A-Z][A-Za-z]*(?:Error|Exception)\b")


def check_message(job: JobSnapshot, reason: str) -> None:
    """A failed job's message is for a person: not empty, no traceback, no class names, and it
    names the reason (a regular expression)."""
    text = f"{job.error_title}: {job.error_message}"
    assert job.error_message.strip(), f"job {job.id} failed with an empty message"
    assert "Traceback" not in text and 'File "' not in text, text
    assert not _CLASS_NAME.search(job.error_message), f"a class name in {text!r}"
    assert job.error_title != "Internal error", f"an engine bug, not a reason: {text!r}"
    assert re.search(reason, text, re.IGNORECASE), f"{text!r} does not say /{reason}/"


def check_invariants(admin: ContentLibraryClient, job: JobSnapshot, left: Leftovers) -> None:
    """What no cell may leave behind, whatever its outcome."""
    # 1. no session of ours still ACTIVE on the server
    assert active_sessions(admin) == [], f"ACTIVE sessions left by job {job.id}"
    # 2. no empty item created by the job; an item the job filled holds only good bytes
    for item_id in set(admin.items.list(left.library_id)) - left.items_before:
        files = admin.item_files.list(item_id)
        assert files, f"job {job.id} left the empty item {item_id}"
        for f in files:
            if f.name in left.sources and f.checksum_info and f.checksum_info.checksum:
                algorithm = f.checksum_info.effective_algorithm.hashlib_name
                ours = hashlib.new(algorithm, left.sources[f.name]).hexdigest()
                assert f.checksum_info.checksum.lower() == ours, (
                    f"the server holds a corrupt {f.name} under its final name"
                )
    if left.dest is not None and left.dest.exists():
        for entry in os.listdir(left.dest):
            path = left.dest / entry
            if entry.endswith(".part"):
                # 3. a .part only with a job that will continue from it
                assert left.resumable and job.state is not JobState.DONE, (
                    f"{entry} left behind by job {job.id} ({job.state.value}), nothing resumes it"
                )
                continue
            # 4. a final name holds exactly the server's bytes
            assert entry in left.sources or entry in left.extra_ok, f"unexpected file {entry}"
            if entry in left.sources:
                assert path.read_bytes() == left.sources[entry], f"{entry} is corrupt or partial"
