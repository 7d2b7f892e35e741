"""Queue behaviour (order, bandwidth), a busy item, files over 4 GiB, and the CLI's password
sources (its session commands: tests/transfers/test_cli_sessions.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

import cl_desktop.cli as cli_module
from cl_desktop.api import ContentLibraryClient
from cl_desktop.transfers.jobs import JobSnapshot, JobState, ServerRef, Verification
from cl_desktop.transfers.queue import TransferQueue
from cl_desktop.transfers.store import JobStore
from tests.support.accounts import SIM_USER
from tests.support.files import make_file
from tests.support.jobs import upload_spec


def test_move_changes_which_job_runs_next(sim: Any, ref: ServerRef, tmp_path: Path) -> None:
    # Jobs are added and moved before the queue starts, so which one runs first depends on the
    # order alone, not on how fast the first upload happens to be.
    connect = lambda r: ContentLibraryClient(r.url, SIM_USER, "secret")  # noqa: E731
    queue = TransferQueue(JobStore(tmp_path / "held.sqlite"), connect, max_parallel=1)
    started: list[int] = []
    lock = threading.Lock()

    def watch(job: JobSnapshot) -> None:
        with lock:
            if job.state is JobState.RUNNING and job.id not in started:
                started.append(job.id)

    queue.add_listener(watch)
    a, b, c = (
        queue.add(upload_spec(ref, sim.default_library_id, make_file(tmp_path / f"{n}.bin", 2000)))
        for n in ("a", "b", "c")
    )
    queue.move(c, 0)
    queue.start()
    try:
        for job_id in (a, b, c):
            assert queue.wait(job_id, 60).state is JobState.DONE
    finally:
        queue.shutdown()
    assert started == [c, a, b]


def test_bandwidth_limit_holds_speed_down(
    sim: Any, queue: TransferQueue, ref: ServerRef, tmp_path: Path
) -> None:
    queue.bandwidth_limit = 4_000_000  # 4 MB/s
    job = queue.wait(
        queue.add(upload_spec(ref, sim.default_library_id,
                              make_file(tmp_path / "l.bin", 6_000_000))), 60)  # fmt: skip
    assert job.state is JobState.DONE
    assert job.started_at is not None and job.finished_at is not None
    # 6 MB at 4 MB/s cannot take less than ~1.5 s; without the limit it takes ~0.05 s here
    assert job.finished_at - job.started_at >= 1.2


def test_busy_item_names_the_session_that_holds_it(
    sim: Any, queue: TransferQueue, ref: ServerRef, sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    item = sim_api_client.items.create(sim.default_library_id, "held", type="file")
    holder = sim_api_client.update_sessions.create(item)
    job = queue.wait(
        queue.add(upload_spec(ref, sim.default_library_id, make_file(tmp_path / "h.bin", 10),
                              item_id=item)), 30)  # fmt: skip
    assert job.state is JobState.FAILED
    assert holder in job.error_message and "another update session" in job.error_message
    sim_api_client.update_sessions.cancel(holder)


def test_a_file_over_4_gib(
    sim: Any, queue: TransferQueue, ref: ServerRef, sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    big = tmp_path / "large.vmdk"
    with big.open("wb") as out:  # sparse: reading it is cheap, the size is what matters
        out.truncate((4 << 30) + 4097)
    job = queue.wait(queue.add(upload_spec(ref, sim.default_library_id, big)), 600)
    assert job.state is JobState.DONE, job.error_message
    assert job.verification is Verification.VERIFIED
    assert job.item_id is not None
    (stored,) = sim_api_client.item_files.list(job.item_id)
    assert stored.size == (4 << 30) + 4097
    sim_api_client.items.delete(job.item_id)  # give the disk space back at once


def test_password_sources(monkeypatch: pytest.MonkeyPatch, memory_keyring: Any) -> None:
    monkeypatch.setenv("CL_PASSWORD", "from-env")
    assert cli_module.password_for("https://vc", SIM_USER) == "from-env"
    monkeypatch.delenv("CL_PASSWORD")
    memory_keyring.set_password(cli_module.KEYRING_SERVICE, f"{SIM_USER}@vc", "stored")
    assert cli_module.password_for("https://vc", SIM_USER) == "stored"
    memory_keyring.passwords.clear()
    monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115 (not a terminal)
    with pytest.raises(cli_module.NoPassword, match="CL_PASSWORD"):  # exit 3
        cli_module.password_for("https://vc", SIM_USER)
