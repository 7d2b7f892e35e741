"""The log files (where, which level, rotation, an unwritable folder) and the redactor's rules.

The end-to-end proof that no secret reaches any file is tests/ui/test_redaction.py."""

from __future__ import annotations

import logging
import logging.handlers
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cl_desktop import logs, paths
from cl_desktop.api.addresses import normalize_server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """Undo what setup_logging does to the process's loggers."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in root.handlers:
        if handler not in before:
            logs.remove_file_handler(handler)
        handler.removeFilter(logs.REDACTOR)
    logging.getLogger(logs.LOGGER_NAME).setLevel(logging.NOTSET)


def test_the_window_log_is_in_the_data_dirs_logs_folder_at_info(
    tmp_path: Path, clean_logging: None
) -> None:
    handler = logs.setup_logging(logs.WINDOW_LOG, directory=logs.log_dir(tmp_path / "data"))
    path = tmp_path / "data" / "logs" / logs.WINDOW_LOG
    assert logs.log_file(handler) == path
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (logs.MAX_BYTES, logs.BACKUP_COUNT)
    assert handler.level == logging.NOTSET  # the logger's level decides, not the file's
    log = logging.getLogger("cl_desktop.test")
    log.info("an info line")
    log.debug("a debug line")
    # the log-level preference sets the package logger's level: the file follows it
    logging.getLogger(logs.LOGGER_NAME).setLevel(logging.DEBUG)
    log.debug("a debug line after the preference")
    handler.flush()
    text = path.read_text()
    assert "INFO cl_desktop.test [MainThread]: an info line" in text
    assert "a debug line\n" not in text
    assert "a debug line after the preference" in text
    handler.doRollover()
    assert (path.parent / (logs.WINDOW_LOG + ".1")).is_file()


def test_without_data_dir_the_logs_go_to_the_user_log_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "portable"))
    assert logs.log_dir() == paths.log_dir() == tmp_path / "portable" / "logs"
    assert logs.log_dir(tmp_path / "instance") == tmp_path / "instance" / "logs"


def test_an_unwritable_log_folder_warns_and_the_program_goes_on(
    tmp_path: Path, clean_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").write_text("a file where the folder should be")
    assert logs.setup_logging(logs.WINDOW_LOG, directory=tmp_path / "logs") is None
    assert "warning: not writing a log file" in capsys.readouterr().err
    logging.getLogger("cl_desktop.test").warning("still logging")  # no exception


def test_cl_transfer_keeps_its_terminal_quiet_and_writes_info_to_its_log(tmp_path: Path) -> None:
    """`history` logs "cl-transfer history" at INFO: in the file, not on the terminal."""
    env = {**os.environ, "CL_DESKTOP_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "cl_desktop.cli", "--server", "vc.test", "--user", "a", "history"],
        capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "INFO cl_desktop.cli [MainThread]: cl-transfer history" in (
        (tmp_path / "logs" / logs.CLI_LOG).read_text()
    )


# --- redaction ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("send: b'GET / HTTP/1.1\\r\\nvmware-api-session-id: 0a1b2c3d4e\\r\\n'", "\\r\\n"),
        ("{'vmware-api-session-id': 'f00dfeed77', 'Accept': 'application/json'}", "Accept"),
        ("Authorization: Basic YWRtaW46c2VjcmV0", "Authorization: Basic ***"),
        ("{'Authorization': 'Bearer abc.def.ghi'}", "Bearer ***"),
        ('{"username": "admin", "password": "hunter22"}', '"username": "admin"'),
        ("CL_PASSWORD=hunter22 cl-transfer", "cl-transfer"),
        ("https://admin:hunter22@vc.example/api", "https://admin:***@vc.example"),
    ],
)
def test_secret_bearing_forms_are_masked(line: str, kept: str) -> None:
    masked = logs.redact(line)
    assert logs.MASK in masked and kept in masked
    for secret in ("0a1b2c3d4e", "f00dfeed77", "YWRtaW46c2VjcmV0", "abc.def", "hunter22"):
        assert secret not in masked


def test_ordinary_words_are_left_alone() -> None:
    for line in (
        "Basic authentication is refused",
        "no password: set CL_PASSWORD, store one in the keyring",
        "log in again to admin@vc: the password was refused",
        "LoginRequest(server='vc', username='admin', password=***)",
    ):
        assert logs.redact(line) == line


def test_a_registered_secret_is_masked_anywhere_also_in_tracebacks(tmp_path: Path) -> None:
    token = "4f6c0ffee4b1d2a3e5"
    logs.add_secret(token)
    handler = logging.FileHandler(tmp_path / "t.log")
    handler.addFilter(logs.REDACTOR)
    log = logging.getLogger("cl_desktop.redaction-test")
    log.addHandler(handler)
    try:
        log.warning("value=%s in a message", token)
        try:
            raise RuntimeError(f"the server said {token}")
        except RuntimeError:
            log.exception("failed")
        log.warning("stack", stack_info=True, extra={"token": token})
    finally:
        log.removeHandler(handler)
        handler.close()
    text = (tmp_path / "t.log").read_text()
    assert token not in text
    assert "value=*** in a message" in text and "RuntimeError: the server said ***" in text


def test_the_filter_off_leaves_the_secret_in_the_file(tmp_path: Path) -> None:
    """The check above can fail: without the redactor the same line carries the token."""
    token = "4f6c0ffee4b1d2a3e6"
    logs.add_secret(token)
    handler = logging.FileHandler(tmp_path / "t.log")
    log = logging.getLogger("cl_desktop.redaction-test")
    log.addHandler(handler)
    try:
        log.warning("value=%s in a message", token)
    finally:
        log.removeHandler(handler)
        handler.close()
    assert token in (tmp_path / "t.log").read_text()


def test_a_password_in_the_server_address_is_refused_without_repeating_it() -> None:
    """Else it would be kept with the address: in profiles, the job store and the logs."""
    for address in ("https://admin:hunter22@vc.example", "admin@vc.example:443"):
        with pytest.raises(ValueError, match="user name or password") as caught:
            normalize_server(address)
        assert "hunter22" not in str(caught.value) and "admin" not in str(caught.value)
