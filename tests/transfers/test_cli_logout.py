"""Every cl-transfer command ends its login, whichever way it ends; SIGTERM is handled as Ctrl-C:
the update session is ended on the server and the job stays resumable."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.api import ContentLibraryClient, TlsSettings
from tests.support.api import item_file_sizes
from tests.support.cli import cli, start_throttled_upload
from tests.support.files import make_file
from tests.support.uploads import sessions_of


def test_commands_end_their_logins(sim_service: Any, tmp_path: Path) -> None:
    for _ in range(5):
        listed = cli(sim_service.base_url, "libraries")
        assert listed.returncode == 0 and "Local library" in listed.stdout
    assert sim_service.backend.logins == {}
    missing = cli(sim_service.base_url, "files", "Local library/nothing-here")  # a failure
    assert missing.returncode == 4
    source = make_file(tmp_path / "a.bin", 10_000)
    up = cli(sim_service.base_url, "--queue-db", str(tmp_path / "q"), "upload",
             "Local library/a", str(source), "--create")  # fmt: skip
    assert up.returncode == 0, up.stderr
    assert sim_service.backend.logins == {}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_ends_the_session_and_the_job_resumes(
    sim_service: Any, tmp_path: Path, signum: signal.Signals
) -> None:
    url, db, lib = sim_service.base_url, str(tmp_path / "q.sqlite"), sim_service.default_library_id
    source = make_file(tmp_path / "term.iso", 8_000_000, seed=11)
    proc, session_id = start_throttled_upload(sim_service, db, "term", source)
    try:
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "error: Interrupted: `cl-transfer resume` continues" in err and "Traceback" not in err
    assert sessions_of(sim_service) == {}  # not left ACTIVE
    with sim_service.backend.lock:
        assert session_id not in sim_service.backend.update_sessions  # ended, then deleted
    assert sim_service.backend.logins == {}

    sim_service.faults.throttle(None)
    resumed = cli(url, "--queue-db", db, "resume")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert resumed.stdout.strip().startswith("job 1: upload term: done")
    with ContentLibraryClient(url, "admin", "secret", tls=TlsSettings()) as client:
        assert item_file_sizes(client, lib, "term") == [source.stat().st_size]
