"""An upload corrupted in transit (the simulator flips one byte on receipt) fails the job as a
checksum mismatch: never "verified", no ACTIVE session and no empty item left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.errors import IntegrityError
from cl_desktop.transfers.jobs import FailureKind, JobState, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from tests.support.api import active_sessions
from tests.support.files import make_file
from tests.support.jobs import upload_spec


def test_upload_corrupted_in_transit_fails_as_checksum_mismatch(
    sim: Any,
    queue: TransferQueue,
    ref: ServerRef,
    sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:
    source = make_file(tmp_path / "bent.iso", 300_000, seed=21)
    sim.faults.corrupt_upload(123_456)
    seen: list[Verification | None] = []
    queue.add_listener(lambda job: seen.append(job.verification))
    job = queue.wait(queue.add(upload_spec(ref, sim.default_library_id, source)), 60)

    assert job.state is JobState.FAILED, (job.state, job.error_message)
    assert job.error_title == IntegrityError.title == "Checksum mismatch"
    assert job.failure is FailureKind.INTEGRITY
    assert "bent.iso" in job.error_message and "SHA1" in job.error_message, job.error_message
    assert job.verification is not Verification.VERIFIED
    assert Verification.VERIFIED not in seen  # not even for a moment
    assert sim.faults.snapshot()["corrupt_upload"] is None  # the fault did fire
    assert active_sessions(sim_api_client) == []
    for item in sim_api_client.items.find(name="bent", library_id=sim.default_library_id):
        assert sim_api_client.item_files.list(item), "the job left an empty item behind"
