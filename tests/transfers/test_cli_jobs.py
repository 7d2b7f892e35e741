"""cl-transfer jobs have one owner: two real processes on one queue database, then kill -9 and
`resume`; and the `jobs`, `retry` and `remove` commands, checked on the server's state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient
from tests.support.api import item_file_sizes
from tests.support.cli import cli, start_throttled_upload
from tests.support.files import make_file
from tests.support.uploads import bytes_received, sessions_of
from tests.support.waiting import wait_until


def jobs_json(url: str, db: str) -> list[dict[str, Any]]:
    listed = cli(url, "--queue-db", db, "--json", "jobs")
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    return rows


def kill_hard(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


@pytest.fixture
def running_upload(
    sim_service: Any, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """A throttled `cl-transfer upload` under way in a process (job 1), with its session id."""
    source = make_file(tmp_path / "first.iso", 8_000_000, seed=3)
    proc, session_id = start_throttled_upload(
        sim_service, str(tmp_path / "q.sqlite"), "first", source
    )
    try:
        yield proc, session_id, source
    finally:
        if proc.poll() is None:
            kill_hard(proc)


def test_a_second_process_never_touches_a_running_job(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path,
    running_upload: tuple[subprocess.Popen[str], str, Path],
) -> None:  # fmt: skip
    url, db, lib = sim_service.base_url, str(tmp_path / "q.sqlite"), sim_service.default_library_id
    first, first_session, source = running_upload

    # A second upload on the same queue database runs its own job only.
    other = make_file(tmp_path / "second.bin", 20_000, seed=4)
    second = cli(url, "--queue-db", db, "upload", "Local library/second", str(other), "--create")
    assert second.returncode == 0, second.stderr + second.stdout
    assert second.stdout.strip().splitlines() == [
        "job 2: upload second: done (20,000 bytes, verified)"
    ]
    assert item_file_sizes(sim_api_client, lib, "second") == [20_000]

    # `resume`, `retry` and `remove` leave the running job alone, and say why.
    resumed = cli(url, "--queue-db", db, "resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "nothing to resume"
    assert "in use by another process: job 1" in resumed.stderr
    for command in ("retry", "remove"):
        refused = cli(url, "--queue-db", db, command, "1")
        assert refused.returncode == 8, refused.stderr
        assert "error: Job in use: job 1 is in use by another running" in refused.stderr
    (listed_1, listed_2) = jobs_json(url, db)
    assert (listed_1["job"], listed_1["state"], listed_1["in_use"]) == (1, "running", True)
    assert (listed_2["job"], listed_2["state"], listed_2["in_use"]) == (2, "done", False)

    # The first upload kept its session all along and is still moving bytes.
    assert first.poll() is None
    assert first_session in sessions_of(sim_service)
    moved = bytes_received(sim_service, first_session)
    wait_until(lambda: bytes_received(sim_service, first_session) > moved, 60, "more bytes")

    # Killed, it loses its claim: `resume` takes the job over and finishes it.
    kill_hard(first)
    (listed_1, _) = jobs_json(url, db)
    assert (listed_1["state"], listed_1["in_use"]) == ("running", False)
    sim_service.faults.throttle(None)
    taken = cli(url, "--queue-db", db, "resume")
    assert taken.returncode == 0, taken.stderr + taken.stdout
    assert "resuming job 1: upload first" in taken.stderr
    assert taken.stdout.strip().startswith("job 1: upload first: done")
    assert item_file_sizes(sim_api_client, lib, "first") == [source.stat().st_size]
    assert sessions_of(sim_service) == {}  # the killed run's session was ended, not left ACTIVE
    assert [j["state"] for j in jobs_json(url, db)] == ["done", "done"]


def test_upload_does_not_resume_unrelated_jobs(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path,
    running_upload: tuple[subprocess.Popen[str], str, Path],
) -> None:  # fmt: skip
    url, db, lib = sim_service.base_url, str(tmp_path / "q.sqlite"), sim_service.default_library_id
    first, first_session, _ = running_upload
    kill_hard(first)  # job 1 is now unfinished and unclaimed
    sim_service.faults.throttle(None)
    other = make_file(tmp_path / "other.bin", 5_000)
    up = cli(url, "--queue-db", db, "upload", "Local library/other", str(other), "--create")
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip().splitlines() == ["job 2: upload other: done (5,000 bytes, verified)"]
    assert first_session in sessions_of(sim_service)  # job 1 was not run (nor cleaned) by it
    assert item_file_sizes(sim_api_client, lib, "first") == []
    assert [j["state"] for j in jobs_json(url, db)] == ["running", "done"]


def test_remove_ends_what_a_killed_run_left_and_forgets_the_job(
    sim_service: Any, tmp_path: Path, running_upload: tuple[subprocess.Popen[str], str, Path],
) -> None:  # fmt: skip
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    first, first_session, _ = running_upload
    kill_hard(first)
    removed = cli(url, "--queue-db", db, "remove", "1")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == "removed job 1: upload first"
    assert sessions_of(sim_service) == {}
    with sim_service.backend.lock:
        assert first_session not in sim_service.backend.update_sessions  # cancelled and deleted
    assert jobs_json(url, db) == []
    again = cli(url, "--queue-db", db, "remove", "1")
    assert again.returncode == 4 and "error: No such job: no job 1 in" in again.stderr


def test_retry_runs_a_failed_job_to_its_end(
    sim_service: Any, sim_api_client: ContentLibraryClient, tmp_path: Path
) -> None:
    url, db, lib = sim_service.base_url, str(tmp_path / "q.sqlite"), sim_service.default_library_id
    item = sim_api_client.items.create(lib, "held", type="file")
    holder = sim_api_client.update_sessions.create(
        item
    )  # the server allows one update session per item
    source = make_file(tmp_path / "held.bin", 30_000, seed=5)
    failed = cli(url, "--queue-db", db, "upload", "Local library/held", str(source))
    assert failed.returncode == 1
    assert "job 1: upload held: failed" in failed.stdout and holder in failed.stdout
    (row,) = jobs_json(url, db)
    assert row["state"] == "failed" and holder in row["error"]
    assert item_file_sizes(sim_api_client, lib, "held") == []

    sim_api_client.update_sessions.cancel(holder)
    retried = cli(url, "--queue-db", db, "retry", "1")
    assert retried.returncode == 0, retried.stderr + retried.stdout
    assert "retrying job 1: upload held" in retried.stderr
    assert retried.stdout.strip() == "job 1: upload held: done (30,000 bytes, verified)"
    assert item_file_sizes(sim_api_client, lib, "held") == [30_000]
    (row,) = jobs_json(url, db)
    assert (row["state"], row["error"]) == ("done", None)

    done = cli(url, "--queue-db", db, "retry", "1")
    assert done.returncode == 2 and "error: Usage: job 1 is done" in done.stderr
    missing = cli(url, "--queue-db", db, "retry", "7")
    assert missing.returncode == 4 and "no job 7" in missing.stderr


def test_jobs_lists_progress_and_errors_as_text(sim_service: Any, tmp_path: Path) -> None:
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    assert cli(url, "--queue-db", db, "jobs").stdout.strip() == "no jobs"
    pipe = tmp_path / "pipe.bin"  # refused by the job's pre-flight (a folder is uploaded now)
    os.mkfifo(pipe)
    failed = cli(url, "--queue-db", db, "upload", "Local library/x", str(pipe), "--create")
    assert failed.returncode == 1
    (line,) = cli(url, "--queue-db", db, "jobs", password="not-needed").stdout.splitlines()
    assert line.split()[:3] == ["1", "upload", "failed"]
    assert "Files not ready" in line and "is not a regular file" in line


def test_a_fanouts_history_rows_name_each_targets_server_and_library(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    """Each target's row of a fan-out's history is that target's server and library, not the
    first target's for all."""
    db = str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "f.iso", 200_000, seed=21)
    done = cli(sim_service.base_url, "--queue-db", db, "fanout", str(source), "Local library/f",
               "--to-server", sim_service_b.base_url, "Local library/f",
               extra_env={"CL_TO_PASSWORD": "secret"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    history = cli(sim_service.base_url, "--queue-db", db, "--json", "history")
    rows = [r for r in json.loads(history.stdout) if r["outcome"] == "done"]
    assert sorted((r["server"], r["library_id"], r["item_name"]) for r in rows) == sorted([
        (sim_service.base_url, sim_service.default_library_id, "f"),
        (sim_service_b.base_url, sim_service_b.default_library_id, "f"),
    ])  # fmt: skip
