"""Connecting in the window as an admin does: trusting a vCenter's own certificate once, a
changed certificate refused, a wrong password asked again, a remembered password connecting on
start, and the servers queued jobs wait for asked about one at a time."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from pytestqt.qtbot import QtBot

from cl_desktop import paths
from cl_desktop.api.transport import origin
from cl_desktop.app import Application
from cl_desktop.credentials import profiles, trust
from cl_desktop.credentials.passwords import Passwords
from cl_desktop.credentials.profiles import Profile
from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.errors import ErrorInfo
from cl_desktop.transfers.jobs import Direction, JobSpec, JobState, Phase, Verification
from cl_desktop.transfers.store import JobStore
from cl_desktop.ui.queue_model import STATE
from tests.support.accounts import MemoryKeyring
from tests.support.files import make_file
from tests.support.gui import FakePrompts, build_app, close_app, jobs, wait_items_loaded
from tests.support.servers.simulator import SimulatorServer
from tests.support.tls import ServedCert, issue_cert, swap_certificate, tls_simulator


def _started(qtbot: QtBot, tmp_path: Path, prompts: FakePrompts, **config: Any) -> Application:
    app = build_app(tmp_path, prompts, **config)
    app.start()
    return app


def _wait_listed(qtbot: QtBot, app: Application) -> None:
    qtbot.waitUntil(lambda: app.window.library_id is not None, timeout=15000)
    wait_items_loaded(qtbot, app)


def _pin(url: str) -> str | None:
    _, host, port = origin(url)
    pin = trust.pin_for(host, port or 443)
    return pin.sha256 if pin else None


def test_a_new_certificate_is_trusted_once_then_a_changed_one_is_refused(
    qtbot: QtBot, tls_sim: tuple[Any, ServedCert], tmp_path: Path
) -> None:
    service, served = tls_sim
    url = service.base_url
    prompts = FakePrompts(login=LoginRequest(url, "admin", "secret"))
    app = _started(qtbot, tmp_path, prompts)
    try:
        _wait_listed(qtbot, app)  # trusted when asked (the canned answer), then listed
        [(asked_for, details)] = prompts.trust_questions
        assert asked_for.server == url and details.sha256 == served.sha256
        assert details.sha1 == served.sha1  # what vCenter's own pages show
        assert _pin(url) == served.sha256
    finally:
        close_app(app)

    # the next run of the app connects with no question about the certificate
    again = FakePrompts(login=LoginRequest(url, "admin", "secret"))
    app = _started(qtbot, tmp_path, again)
    try:
        _wait_listed(qtbot, app)
        assert again.trust_questions == [] and again.changes_shown == []
    finally:
        close_app(app)

    other = issue_cert(trustme.CA(), tmp_path / "other-cert")
    swap_certificate(service, other)
    changed = FakePrompts(login=LoginRequest(url, "admin", "secret"))  # keeps the old pin
    app = _started(qtbot, tmp_path, changed)
    try:
        qtbot.waitUntil(lambda: len(changed.changes_shown) == 1, timeout=15000)
        [(_, change)] = changed.changes_shown
        assert (change.old_sha256, change.new_sha256) == (served.sha256, other.sha256)
        assert change.presented is not None and change.presented.sha256 == other.sha256
        assert changed.trust_questions == []
        assert app.browser.servers == () and app.window.server is None
        assert "certificate changed" in app.window.status_label.text()
        assert _pin(url) == served.sha256  # refusing is the default: the pin stays
    finally:
        close_app(app)


@pytest.mark.parametrize(
    ("case", "title"),
    [
        ("expired", "Certificate expired"),
        ("not yet valid", "Certificate not yet valid"),
        ("another name", "Certificate for another name"),
    ],
)
def test_a_certificate_wrong_in_itself_is_named_and_never_offered_for_trust(
    qtbot: QtBot, tls_ca: trustme.CA, tmp_path: Path, case: str, title: str
) -> None:
    now, day = datetime.now(UTC), timedelta(days=1)
    validity = {
        "expired": {"not_before": now - 30 * day, "not_after": now - day},
        "not yet valid": {"not_before": now + day, "not_after": now + 30 * day},
        "another name": {},
    }[case]
    names = ("vc.example.test",) if case == "another name" else ("127.0.0.1",)
    served = issue_cert(tls_ca, tmp_path / "cert", *names, **validity)
    with tls_simulator(tmp_path / "sim", served) as service:
        prompts = FakePrompts(login=LoginRequest(service.base_url, "admin", "secret"))
        app = _started(qtbot, tmp_path, prompts)
        try:
            qtbot.waitUntil(lambda: prompts.logins_asked == 2, timeout=15000)
            _, error = prompts.login_questions[1]
            assert error is not None and error.title == title, error
            assert prompts.trust_questions == []
            assert _pin(service.base_url) is None and app.browser.servers == ()
        finally:
            close_app(app)


def test_a_wrong_password_is_asked_again_with_the_typed_password_kept(
    qtbot: QtBot, sim_service: Any, tmp_path: Path
) -> None:
    typed = LoginRequest(sim_service.base_url, "admin", "wrong")
    prompts = FakePrompts(login=typed)
    app = _started(qtbot, tmp_path, prompts)
    try:
        qtbot.waitUntil(lambda: prompts.logins_asked == 2, timeout=15000)
        initial, error = prompts.login_questions[1]
        assert initial is not None and (initial.server, initial.username, initial.password) == (
            typed.server,
            "admin",
            "wrong",  # the dialog shows what was typed, to correct it
        )
        assert error is not None and error.title == "Wrong user name or password"
        assert app.browser.servers == ()
    finally:
        close_app(app)


def test_a_remembered_password_connects_on_the_next_start_without_a_prompt(
    qtbot: QtBot, sim_service: Any, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    login = LoginRequest(sim_service.base_url, "admin", "secret",
                         remember_password=True, connect_on_start=True)  # fmt: skip
    first = FakePrompts(login=login)
    app = _started(qtbot, tmp_path, first)
    try:
        _wait_listed(qtbot, app)
    finally:
        close_app(app)
    key = (paths.KEYRING_SERVICE, paths.keyring_key(sim_service.base_url, "admin"))
    assert memory_keyring.passwords == {key: "secret"}
    assert [p.connect_on_start for p in profiles.list_profiles()] == [True]

    second = FakePrompts()  # no answer: a question would leave the window unconnected
    app = _started(qtbot, tmp_path, second)
    try:
        _wait_listed(qtbot, app)
        assert second.logins_asked == 0
        assert app.browser.servers == (login.ref,)
    finally:
        close_app(app)


def test_the_server_queued_jobs_wait_for_is_asked_about_and_its_job_then_runs(
    qtbot: QtBot, sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    payload = make_file(tmp_path / "queued.bin", 150_000)
    login_a = LoginRequest(sim_service.base_url, "admin", "secret")
    login_b = LoginRequest(sim_service_b.base_url, "admin", "secret")
    # A connects on start from the keyring; B has no stored password
    profiles.save(Profile("a", login_a.server, "admin", connect_on_start=True,
                          remember_password=True))  # fmt: skip
    Passwords().remember(login_a.server, "admin", "secret")
    (tmp_path / "app-data").mkdir()
    store = JobStore(tmp_path / "app-data" / "transfers.sqlite")
    for position, (login, service) in enumerate([(login_b, sim_service_b), (login_a, sim_service)]):
        spec = JobSpec(Direction.UPLOAD, login.ref, service.default_library_id,
                       item_name=f"for-{position}", paths=(str(payload),))  # fmt: skip
        store.insert(spec, position + 1, time.time())
    store.close()

    waiting_text = f"Waiting for login to {login_b.ref.label}"
    seen_while_asked: list[str] = []
    app: Application | None = None

    def answer(initial: LoginRequest | None, error: ErrorInfo | None) -> LoginRequest | None:
        # A modal dialog runs the event loop while the admin types: so does this wait.
        assert app is not None and initial is not None
        model = app.window.dock.queue_model
        qtbot.waitUntil(
            lambda: model.rowCount() == 2 and jobs(app)[1].state.finished, timeout=20000
        )
        seen_while_asked.append(str(model.index(0, STATE).data()))
        assert error is not None and login_b.ref.label in error.title
        return dataclasses.replace(initial, password="secret")

    prompts = FakePrompts(answer_login=answer)
    app = _started(qtbot, tmp_path, prompts, max_parallel=1)
    try:
        qtbot.waitUntil(lambda: len(jobs(app)) == 2 and jobs(app)[0].state.finished, timeout=30000)
        job_b, job_a = jobs(app)
        assert prompts.logins_asked == 1  # only B's: A came from the keyring
        [(asked, _)] = prompts.login_questions
        assert asked is not None and asked.ref == login_b.ref and asked.password == ""
        assert seen_while_asked == [waiting_text]  # B waited, A's job ran meanwhile
        assert job_a.state is JobState.DONE
        assert job_b.state is JobState.DONE and job_b.verification is Verification.VERIFIED
        assert job_b.phase is not Phase.WAITING_FOR_LOGIN
        assert set(app.browser.servers) == {login_a.ref, login_b.ref}
    finally:
        close_app(app)


def test_a_password_is_only_ever_in_the_keyring(
    qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    """Not in settings, profiles, recent servers, the trust store, the job store, nor the log."""
    password = "Pw-7c41e9-unusual"
    caplog.set_level("DEBUG")
    with SimulatorServer(tmp_path / "sim", users={"admin": password}) as service:
        login = LoginRequest(service.base_url, "admin", password, remember_password=True)
        app = _started(qtbot, tmp_path, FakePrompts(login=login))
        try:
            _wait_listed(qtbot, app)
            library_id = app.window.library_id
            assert library_id is not None
            spec = JobSpec(
                Direction.UPLOAD, login.ref, library_id, item_name="kept",
                paths=(str(make_file(tmp_path / "kept.bin", 4096)),),
            )  # fmt: skip
            [job_id] = [app.queue.add(spec)]
            assert app.queue.wait(job_id, timeout=30).state is JobState.DONE
        finally:
            close_app(app)
    assert list(memory_keyring.passwords.values()) == [password]  # remembered, where it belongs
    files = [
        p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(tmp_path / "sim")
    ]
    assert any(p.name == paths.JOB_STORE_NAME for p in files)  # the store was written
    assert any(p.name == profiles.PROFILES_NAME for p in files)
    holding = [p for p in files if password.encode() in p.read_bytes()]
    assert holding == []
    assert password not in caplog.text
