"""The command line's grammar as a new user writes it: fanout's `--to-server B [--to-user V]
LIB/ITEM` groups in the README's order, and every parse error as the one documented line
"error: Usage: ..." with exit 2 (argparse's own usage dump is not that)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cl_desktop.api import ContentLibraryClient
from tests.support.cli import cl_transfer, cli
from tests.support.files import make_file
from tests.support.items import stored_checksum


def test_fanout_takes_to_user_after_to_server(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "big.iso", 300_000, seed=7)
    db = str(tmp_path / "q.sqlite")
    b = sim_service_b.base_url
    done = cli(sim_service.base_url, "--queue-db", db, "--json", "fanout", str(source),
               "Local library/x", "--to-server", b, "--to-user", "admin", "Local library/x",
               extra_env={"CL_TO_PASSWORD": "secret"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["state"] == "done"
    with ContentLibraryClient(b, "admin", "secret") as b_client:
        assert stored_checksum(b_client, sim_service_b.default_library_id, "x")
    # the --to-user after a --to-server is that server's: its login is the one refused, and
    # that target fails alone (the one on --server is sent: a failing target stops no other)
    refused = cli(sim_service.base_url, "--queue-db", db, "fanout", str(source),
                  "Local library/y", "--to-server", b, "--to-user", "nobody", "Local library/y",
                  extra_env={"CL_TO_PASSWORD": "wrong"})  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert f"nobody@{b.split('://')[1]}" in refused.stderr and "Wrong user name" in refused.stderr
    assert "Traceback" not in refused.stderr
    with ContentLibraryClient(sim_service.base_url, "admin", "secret") as a_client:
        assert stored_checksum(a_client, sim_service.default_library_id, "y")


def test_parse_errors_are_one_usage_line(sim_service: Any, tmp_path: Path) -> None:
    for args in (
        ["--server", sim_service.base_url, "--user", "admin", "fanout"],  # no FILE
        ["--server", sim_service.base_url, "--user", "admin", "items", "a", "b"],
        ["--parallel", "0", "jobs"],
        ["--json", "no-such-command"],
        [],
    ):
        result = cl_transfer(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "usage: cl-transfer" not in result.stderr, args  # argparse's dump
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: Usage: ") and "--help` shows the usage" in line, line
        if "--json" in args:
            assert json.loads(result.stdout)["error"] == "Usage"
    assert sim_service.backend.logins == {}
