"""Job specs and queues as the engine tests write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import Direction, JobSpec, JobState, ServerRef
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from tests.support.accounts import SIM_PASSWORD, SIM_USER


def upload_spec(ref: ServerRef, library_id: str, *paths: Path, item_id: str | None = None,
                **kw: object) -> JobSpec:  # fmt: skip
    return JobSpec(
        Direction.UPLOAD, ref, library_id, item_id=item_id, paths=tuple(str(p) for p in paths), **kw
    )  # type: ignore[arg-type]


def download_spec(ref: ServerRef, library_id: str, item_id: str, dest: Path,
                  *names: str) -> JobSpec:  # fmt: skip
    return JobSpec(Direction.DOWNLOAD, ref, library_id, item_id=item_id, dest_dir=str(dest),
                   file_names=names)  # fmt: skip


def started_queue(
    db: Path, user: str = SIM_USER, password: str = SIM_PASSWORD, **options: Any
) -> TransferQueue:
    """A started TransferQueue on the job store `db` whose jobs log in as `user` to the server
    their ServerRef names (the service, or a fault proxy in front of it); progress is
    published every 0.02 s. The caller shuts it down."""
    queue = TransferQueue(
        JobStore(db),
        lambda ref: ContentLibraryClient(ref.url, user, password),
        progress_interval=0.02,
        **options,
    )
    queue.start()
    return queue


def uploaded_item(queue: TransferQueue, ref: ServerRef, library_id: str, *paths: Path) -> str:
    """Upload `paths` into a new item of `library_id` and wait: the item's id (the job must
    succeed)."""
    job = queue.wait(queue.add(upload_spec(ref, library_id, *paths)), 60)
    assert job.state is JobState.DONE, job.error_message
    assert job.item_id
    return job.item_id
