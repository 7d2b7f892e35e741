"""cl-transfer reports every problem as one line and a documented exit code; only a bug prints a
traceback, and then says it is one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import cl_desktop.cli as cli_module
from cl_desktop.api import errors
from cl_desktop.cli.errors import EXIT_PIPE
from cl_desktop.transfers import queue as queue_module
from cl_desktop.transfers.jobs import HistoryRecord
from cl_desktop.transfers.store import JobStore
from tests.support.cli import cli
from tests.support.files import make_file


def assert_clean_error(result: Any, code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    (line,) = [text for text in result.stderr.splitlines() if text.startswith("error: ")]
    for fragment in fragments:
        assert fragment in line, line


def test_missing_ca_file_is_a_usage_error(sim_service: Any, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-ca.pem")
    result = cli(sim_service.base_url, "libraries", ca_file=missing)
    assert_clean_error(result, 2, "error: Usage: --ca-file", missing, "no such file")
    assert sim_service.backend.logins == {}  # refused before any login


def test_history_export_into_a_missing_folder(sim_service: Any, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "audit.csv"
    result = cli(sim_service.base_url, "--queue-db", str(tmp_path / "q"), "history",
                 "--export", str(target))  # fmt: skip
    assert_clean_error(result, 7, "Local file problem", str(target), "No such file or directory")


def test_queue_database_that_is_a_folder_or_garbage(sim_service: Any, tmp_path: Path) -> None:
    folder = tmp_path / "db-folder"
    folder.mkdir()
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database, it only says so" * 100)
    for path, reason in ((folder, "is a folder"), (garbage, "file is not a database")):
        for command in ("jobs", "resume"):
            result = cli(sim_service.base_url, "--queue-db", str(path), command)
            assert_clean_error(result, 7, "error: Queue database problem", str(path), reason,
                               "--queue-db")  # fmt: skip
    assert sim_service.backend.logins == {}  # `resume` logged in, and out again


def test_data_folder_that_cannot_be_written(sim_service: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "data-home"
    blocker.write_text("a file where the data folder should be")  # root can write anywhere else
    result = cli(sim_service.base_url, "jobs", extra_env={"CL_DESKTOP_DATA_DIR": str(blocker)})
    assert_clean_error(result, 7, "Queue database problem", str(blocker))


# (--limit 0 is "no limit", over the preferences' limit: tests/test_preferences.py)
@pytest.mark.parametrize(
    ("option", "value"), [("--parallel", "0"), ("--parallel", "-1"), ("--limit", "-5"),
                          ("--limit", "nan"), ("--limit", "inf")]
)  # fmt: skip
def test_parallel_and_limit_must_be_positive(
    sim_service: Any, tmp_path: Path, option: str, value: str
) -> None:
    source = make_file(tmp_path / "a.bin", 1000)
    result = cli(sim_service.base_url, "--queue-db", str(tmp_path / "q"), option, value,
                 "upload", "Local library/a", str(source), "--create")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert f"argument {option}: must be above 0" in result.stderr
    assert "Traceback" not in result.stderr
    assert sim_service.backend.logins == {}  # refused before anything else


def test_a_bad_server_address_or_pin_is_a_usage_error(tmp_path: Path) -> None:
    for args in (["--server", "ftp://x"], ["--server", "https://vc", "--pin-sha256", "12"]):
        result = cli_in_process(tmp_path, *args, "libraries")
        assert result[0] == 2
        assert result[2].startswith("error: Usage: ") and "Traceback" not in result[2]


def test_one_503_on_login_is_retried(sim_service: Any) -> None:
    sim_service.faults.fail_next(1, path="session")
    result = cli(sim_service.base_url, "libraries")
    assert result.returncode == 0, result.stderr
    assert "Local library" in result.stdout


# --- in-process: errors a real server cannot be made to raise ---------------------------------


def cli_in_process(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_module.main(["--user", "admin", "--queue-db", str(tmp_path / "q"), *args])
    return code, out.getvalue(), err.getvalue()


def test_any_engine_error_is_one_line_with_its_exit_code(
    sim_service: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CL_PASSWORD", "secret")

    def refuse(self: Any) -> None:
        raise errors.InternalServerError("the library service fell over", operation="list")

    monkeypatch.setattr(cli_module.Cli, "cmd_libraries", refuse)
    code, out, err = cli_in_process(tmp_path, "--server", sim_service.base_url, "libraries")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "error: Internal server error: list: the library service fell over. Try again; if it "
        "persists, check the vCenter Content Library service logs."
    ]
    assert sim_service.backend.logins == {}


def test_a_bug_says_it_is_one_with_its_traceback(
    sim_service: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CL_PASSWORD", "secret")

    def broken(self: Any) -> None:
        raise ZeroDivisionError("a slip")

    monkeypatch.setattr(cli_module.Cli, "cmd_libraries", broken)
    code, _, err = cli_in_process(tmp_path, "--server", sim_service.base_url, "libraries")
    assert code == cli_module.EXIT_INTERNAL == 70
    assert err.startswith("cl-transfer: internal error (this is a bug in cl_desktop, please report")
    assert "Traceback" in err and "ZeroDivisionError: a slip" in err
    assert sim_service.backend.logins == {}  # a bug still ends the login


def test_a_job_that_fails_on_a_bug_exits_70(
    sim_service: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CL_PASSWORD", "secret")

    def broken(ctx: Any) -> None:
        raise KeyError("slip")

    monkeypatch.setattr(queue_module, "run_upload", broken)
    source = make_file(tmp_path / "a.bin", 1000)
    code, out, err = cli_in_process(tmp_path, "--server", sim_service.base_url, "upload",
                                    "Local library/a", str(source), "--create")  # fmt: skip
    assert code == 70
    assert "job 1: upload a: failed: Internal error" in out
    assert "internal error (this is a bug in cl_desktop" in err


def test_exit_codes_follow_the_error_type_not_its_title() -> None:
    from cl_desktop.api.errors import TlsTrustError
    from cl_desktop.cli.errors import exit_code_for
    from cl_desktop.transfers.errors import (
        DiskFullError,
        IntegrityError,
        LocalError,
        PreflightError,
        UnsafeNameError,
    )
    from cl_desktop.transfers.queue import JobClaimed

    class Renamed(DiskFullError):
        title = "Integrity"  # a title must not decide the code

    cases: list[tuple[BaseException, int]] = [
        (TlsTrustError("pin"), 5),
        (errors.Unauthenticated("no"), 3),
        (errors.NotFound("gone"), 4),
        (IntegrityError("bits"), 6),
        (cli_module.UsageError("bad"), 2),
        (JobClaimed(3), 8),
        (DiskFullError("full"), 7),
        (Renamed("full"), 7),
        (UnsafeNameError(".."), 7),
        (PreflightError("unreadable"), 7),
        (FileNotFoundError(2, "No such file", "/x"), 7),
        (errors.ServiceUnavailable("503"), 1),
    ]
    assert [exit_code_for(exc) for exc, _ in cases] == [code for _, code in cases]
    assert not isinstance(LocalError("x"), errors.ContentLibraryError)


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_a_reader_closing_stdout_is_no_traceback(tmp_path: Path, as_json: bool) -> None:
    """`cl-transfer history | head -1`: the reader reads one line and leaves; the rest of the
    output (far more than a pipe holds) has nowhere to go. Exit 141, as a command SIGPIPE
    killed, and nothing on stderr."""
    db = tmp_path / "q.sqlite"
    store = JobStore(db)
    for n in range(3000):
        store.add_history(HistoryRecord(
            n, "https://vc.example", "admin", "upload", "lib", f"item-{n}", f"item {n}", "s",
            "f.iso", n, "c" * 40, "verified", "2026-12-07T16:00:00", 1.0, "done"))  # fmt: skip
    store.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cl_desktop.cli", "--queue-db", str(db),
         *(["--json"] if as_json else []), "history"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_PIPE, err
    assert err == ""
