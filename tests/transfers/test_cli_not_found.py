"""A name the server does not have, on a command with two servers: the error says which side
and which server, reads as two sentences, and hints at a typo (where the names are listed),
not at a deletion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cl_desktop.transfers.errors import StalledError, describe
from tests.support.cli import cli
from tests.support.files import make_file

TO = {"CL_TO_PASSWORD": "secret"}


def error_line(result: Any) -> str:
    assert result.returncode == 4, result.stderr
    (line,) = [t for t in result.stderr.splitlines() if t.startswith("error: ")]
    assert "deleted or expired" not in line, line
    return line


def test_copy_and_compare_name_the_side_and_server_of_a_missing_name(
    sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    a, b, db = sim_service.base_url, sim_service_b.base_url, str(tmp_path / "q.sqlite")
    source = make_file(tmp_path / "small.iso", 10_000, seed=2)
    assert cli(a, "--queue-db", db, "upload", "Local library/small", str(source),
               "--create").returncode == 0  # fmt: skip
    target = error_line(cli(a, "--queue-db", db, "copy", "Local library/small",
                            "--to-server", b, "Nope", extra_env=TO))  # fmt: skip
    assert target == (
        f"error: Not found: on the target server {b}: no library named 'Nope'. Check the "
        f"name: `cl-transfer --server {b} --user admin libraries` lists them."
    )
    source_side = error_line(cli(a, "--queue-db", db, "copy", "Nope/small", "--to-server", b,
                                 "Local library", extra_env=TO))  # fmt: skip
    assert source_side == (
        f"error: Not found: on the source server {a}: no library named 'Nope'. Check the "
        "name: `cl-transfer libraries` lists them."
    )
    item = error_line(cli(a, "--queue-db", db, "copy", "Local library/nope", "--to-server", b,
                          "Local library", extra_env=TO))  # fmt: skip
    assert f"on the source server {a}: no item 'Local library/nope'. Check the name: " in item
    assert "`cl-transfer items 'Local library'` lists them." in item
    compared = error_line(cli(a, "compare", "Local library", "--to-server", b, "Nope",
                              extra_env=TO))  # fmt: skip
    assert f"on server B {b}: no library named 'Nope'. Check the name" in compared
    fanned = error_line(cli(a, "--queue-db", db, "fanout", str(source), "Local library/f",
                            "--to-server", b, "Nope/f", extra_env=TO))  # fmt: skip
    assert f"on the target server {b}: no library named 'Nope'. Check the name" in fanned


def test_a_hint_after_a_detail_without_a_full_stop_starts_a_sentence() -> None:
    stalled = StalledError("the server stopped receiving (timeout)")
    assert describe(stalled)[1] == (
        "the server stopped receiving (timeout). The server or the network is overloaded or "
        "stuck; retry the job later."
    )
    ends_so = StalledError("it stopped.")
    assert describe(ends_so)[1].startswith("it stopped. The server")
