"""cl-transfer's reconnect and stall settings reach the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cl_desktop.api import ContentLibraryClient
from tests.support.api import active_sessions
from tests.support.cli import cli
from tests.support.files import make_file


def test_a_transfer_slower_than_the_stall_settings_fails_with_the_reason(
    sim_service: Any, tmp_path: Path
) -> None:
    """10 kB/s is a stall when the settings ask for 1 MB a second: retried, then failed once
    it has stayed stalled for the limit, with the reason, no file and no session left."""
    url, db = sim_service.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "slow.iso", 2_000_000)
    up = cli(url, "--queue-db", db, "upload", "Local library/slow", str(source), "--create")
    assert up.returncode == 0, up.stderr
    sim_service.faults.throttle(10_000)
    dest = tmp_path / "out"
    down = cli(url, "--queue-db", db, "--stall-bytes", "1000000", "--stall-time", "1",
               "--stall-limit", "3", "download", "Local library/slow", str(dest))  # fmt: skip
    assert down.returncode == 1, (down.stdout, down.stderr)
    assert "the server stopped sending slow.iso" in down.stdout  # the job's result line
    assert "Traceback" not in down.stdout + down.stderr
    assert not (dest / "slow.iso").exists()
    with ContentLibraryClient(url, "admin", "secret") as client:
        assert active_sessions(client) == []


def test_stall_time_longer_than_the_limit_is_a_usage_error(sim_service: Any) -> None:
    result = cli(sim_service.base_url, "--stall-time", "60", "--stall-limit", "30", "libraries")
    assert result.returncode == 2
    assert "--stall-time must not be longer than --stall-limit" in result.stderr
