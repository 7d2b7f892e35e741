"""No secret is written anywhere. After a whole session of the window and of cl-transfer at
DEBUG level (urllib3's too, and http.client's dump of every request's headers, where the
session id and the Basic credentials are on the wire), every file under the data, config, log
and cache dirs is read as bytes (SQLite files and their -wal included) and none holds the
password, a login token the server issued, or the Basic credentials. The last step proves the
search can fail: the same token, logged with the redactor off, is found."""

from __future__ import annotations

import base64
import http.client
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from cl_desktop import logs, paths
from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.transfers.jobs import JobState
from tests.support.cli import cli
from tests.support.files import make_file
from tests.support.gui import (
    FakePrompts,
    build_app,
    close_app,
    create_listed_item,
    drop_files,
    item_row_point,
    select_item,
    wait_items_loaded,
    wait_jobs,
)
from tests.support.servers import SimulatorServer

USER = "admin"
PASSWORD = "Pw-redact-0b7e4c19"  # distinctive: any occurrence in a file is a leak
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


# http.client prints each request it sends (headers included) when its debuglevel is set:
# sent to logging instead, as a developer chasing a protocol problem might.
WIRE_DUMP = """
import http.client, logging
def _wire(*args, **_kwargs):
    logging.getLogger("http.client").debug(" ".join(str(a) for a in args))
http.client.print = _wire
http.client.HTTPConnection.debuglevel = 1
"""


def files_under(*roots: Path) -> list[Path]:
    return sorted({p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()})


def secrets_in(files: list[Path], secrets: list[str]) -> list[tuple[str, str]]:
    """(file, secret) for each secret found in a file's bytes."""
    found = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:  # a -wal or -shm removed between the listing and the read
            continue
        for secret in secrets:
            if secret.encode() in data:
                found.append((str(path), secret))
    return found


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, list[str]]]:
    """The embedded service with a distinctive password, and every login token it issues."""
    tokens: list[str] = []
    data = tmp_path / "server-side"  # the server's own files are not the app's: not searched
    data.mkdir()
    with SimulatorServer(data, users={USER: PASSWORD}) as service:
        issue = service.backend.login

        def login(user: str, password: str) -> str:
            token: str = issue(user, password)
            tokens.append(token)
            return token

        monkeypatch.setattr(service.backend, "login", login)
        yield service, tokens


@pytest.fixture
def debug_logging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Handler]:
    """The window's logging as `cl-desktop --debug --data-dir` sets it up, urllib3 at DEBUG,
    the wire dump on; and the same dump in every cl-transfer the test starts."""
    handler = logs.setup_logging(
        logs.WINDOW_LOG, level=logging.DEBUG, directory=logs.log_dir(tmp_path / "app-data")
    )
    assert handler is not None
    exec(WIRE_DUMP, {})
    site = tmp_path / "wire-dump"
    site.mkdir()
    (site / "sitecustomize.py").write_text(WIRE_DUMP)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    third_party = [logging.getLogger(name) for name in ("urllib3", "http.client")]
    for logger in third_party:
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logs.remove_file_handler(handler)
        for other in logging.getLogger().handlers:  # pytest's own: as they were
            other.removeFilter(logs.REDACTOR)
        del http.client.print  # type: ignore[attr-defined]
        http.client.HTTPConnection.debuglevel = 0
        for logger in third_party:
            logger.setLevel(logging.NOTSET)
        logging.getLogger(logs.LOGGER_NAME).setLevel(logging.NOTSET)


def test_a_whole_session_leaves_no_password_token_or_credentials_in_any_file(
    qtbot: QtBot,
    tmp_path: Path,
    fake_prompts: FakePrompts,
    server: tuple[Any, list[str]],
    debug_logging: logging.Handler,
) -> None:
    service, tokens = server
    url = service.base_url
    # what the app writes: its data dir (store, cache, logs), settings, and the dirs the
    # profiles, trust store and cl-transfer use (CL_DESKTOP_DATA_DIR moves them all)
    searched = [tmp_path / "app-data", tmp_path / "settings.ini", paths.data_dir()]
    searched += [paths.config_dir(), paths.log_dir(), paths.cache_dir()]

    # --- the window: login (password remembered), upload, download, sessions, logout -------
    fake_prompts.login = LoginRequest(url, USER, PASSWORD, remember_password=True)
    app: Application = build_app(tmp_path, fake_prompts)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.window.library_id is not None, timeout=10000)
        wait_items_loaded(qtbot, app)
        with ContentLibraryClient(url, USER, PASSWORD) as client:
            create_listed_item(qtbot, app, client, service.default_library_id, "target")
        payload = make_file(tmp_path / "payload.bin", 300_000)
        assert drop_files(app.window.item_view, [payload], item_row_point(app, "target"))
        wait_jobs(qtbot, app, 1, JobState.DONE)
        select_item(qtbot, app, "target")
        app.window.download_action.trigger()
        wait_jobs(qtbot, app, 2, JobState.DONE)
        app.window.show_sessions()
        with qtbot.waitSignal(app.sessions.refreshed, timeout=10000):
            app.sessions.refresh()
        # while the stores are open: their -wal files hold the latest writes
        open_files = files_under(*searched)
        assert any(p.name.endswith("-wal") for p in open_files), open_files
        assert secrets_in(open_files, [PASSWORD, BASIC, *tokens]) == []
        server_ref = app.window.server
        app.window.disconnect_server(server_ref)
        qtbot.waitUntil(lambda: not app.browser.servers, timeout=10000)
    finally:
        close_app(app)
    window_tokens = len(tokens)
    assert window_tokens >= 2  # the window's own login and the test's client

    # --- cl-transfer: upload, download, sessions (both dialects), all at DEBUG --------------
    source = make_file(tmp_path / "cli-source.bin", 200_000, seed=2)
    dest = tmp_path / "cli-downloads"
    dest.mkdir()
    for args in (
        ["upload", "Local library/cli-item", str(source), "--create"],
        ["download", "Local library/cli-item", str(dest)],
        ["sessions"],
        ["--dialect", "rest", "sessions"],
    ):
        done = cli(url, "--verbose", *args, password=PASSWORD)
        assert done.returncode == 0, done.stderr
        assert PASSWORD not in done.stderr + done.stdout
        assert not any(t in done.stderr + done.stdout for t in tokens)
    assert len(tokens) >= window_tokens + 4  # each command logged in

    # --- every file, as bytes -----------------------------------------------------------------
    everything = files_under(*searched)
    names = {p.name for p in everything}
    assert {logs.WINDOW_LOG, logs.CLI_LOG, "transfers.sqlite", "items.sqlite"} <= names, names
    assert secrets_in(everything, [PASSWORD, BASIC, "Basic " + BASIC, *tokens]) == []
    # the logs did record the logins and the headers, at DEBUG, masked
    window_log = tmp_path / "app-data" / "logs" / logs.WINDOW_LOG
    cli_log = paths.log_dir() / logs.CLI_LOG
    for log_file in (window_log, cli_log):
        text = log_file.read_text()
        assert "DEBUG urllib3.connectionpool" in text and "/session" in text, log_file
        assert "Authorization: Basic ***" in text, log_file
        assert "vmware-api-session-id: ***" in text, log_file

    # --- the search can fail: a token logged with the redactor off is found -----------------
    handlers = [h for h in logging.getLogger().handlers if logs.REDACTOR in h.filters]
    for handler in handlers:
        handler.removeFilter(logs.REDACTOR)
    try:
        logging.getLogger("cl_desktop.selfcheck").debug("the token is %s", tokens[0])
    finally:
        for handler in handlers:
            handler.addFilter(logs.REDACTOR)
    debug_logging.flush()
    assert secrets_in(files_under(*searched), tokens) == [(str(window_log), tokens[0])]
