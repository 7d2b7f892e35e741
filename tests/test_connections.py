"""ConnectionService: trusting a certificate, refusing a changed one, passwords and profiles."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
import trustme
from pytestqt.qtbot import QtBot

from cl_desktop import paths
from cl_desktop.api.transport import origin
from cl_desktop.credentials import profiles, trust
from cl_desktop.credentials.passwords import Passwords
from cl_desktop.services.connection import Connector, LoginRequest
from cl_desktop.services.connections import ConnectionService, Profile
from cl_desktop.services.errors import ErrorKind
from cl_desktop.services.tasks import BackgroundTasks
from cl_desktop.transfers.jobs import ServerRef
from tests.support.accounts import SIM_PASSWORD, SIM_USER, MemoryKeyring
from tests.support.cli import cli
from tests.support.tls import ServedCert, issue_cert, swap_certificate

WAIT_MS = 30_000
NewRun = Callable[[], ConnectionService]


class Recorder:
    """Every signal the service emits, in order, as (name, args)."""

    NAMES = ("connected", "connection_failed", "trust_needed", "certificate_changed",
             "password_needed", "disconnected")  # fmt: skip

    def __init__(self, service: ConnectionService) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        for name in self.NAMES:
            getattr(service, name).connect(
                lambda *args, name=name: self.events.append((name, args))
            )

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


@pytest.fixture
def new_run() -> Iterator[NewRun]:
    """Makes a fresh service: a new app run (nothing logged in, nothing asked yet)."""
    made: list[tuple[Connector, BackgroundTasks]] = []

    def make() -> ConnectionService:
        connector, tasks = Connector(), BackgroundTasks()
        made.append((connector, tasks))
        return ConnectionService(connector, tasks)

    yield make
    for connector, tasks in made:
        tasks.shutdown()
        connector.close_all()


@pytest.fixture
def connections(new_run: NewRun) -> ConnectionService:
    return new_run()


def _pin_of(url: str) -> str | None:
    _, host, port = origin(url)
    assert port is not None
    pin = trust.pin_for(host, port)
    return pin.sha256 if pin else None


def test_untrusted_certificate_is_asked_about_then_trusted_for_good(
    qtbot: QtBot,
    connections: ConnectionService,
    new_run: NewRun,
    tls_sim: tuple[Any, ServedCert],
) -> None:
    service, served = tls_sim
    request = LoginRequest(service.base_url, SIM_USER, SIM_PASSWORD)
    with qtbot.waitSignal(connections.trust_needed, timeout=WAIT_MS) as asked:
        connections.connect_to(request)
    asked_request, details = asked.args
    assert asked_request is request
    assert (details.sha256, details.sha1) == (served.sha256, served.sha1)
    assert "127.0.0.1" in details.ip_addresses and details.problems("127.0.0.1") == ()
    assert _pin_of(service.base_url) is None  # nothing trusted before the user says so
    assert connections.servers() == ()

    with qtbot.waitSignal(connections.connected, timeout=WAIT_MS) as done:
        connections.trust_and_connect(request, details)
    (ref,) = done.args
    assert ref == request.ref and connections.servers() == (ref,)
    assert _pin_of(service.base_url) == served.sha256
    assert connections.last_used_profile() == Profile(ref.label, request.server, SIM_USER)
    assert [(r.server, r.user) for r in connections.recent_servers()] == [
        (request.server, SIM_USER)
    ]

    later = new_run()  # the next app run connects without a question
    events = Recorder(later)
    with qtbot.waitSignal(later.connected, timeout=WAIT_MS):
        later.connect_to(request)
    assert events.names() == ["connected"]

    # cl-transfer trusts what the window trusted: no --ca-file, no --pin-sha256
    listed = cli(service.base_url, "libraries")
    assert listed.returncode == 0, listed.stderr
    assert "Local library" in listed.stdout


def test_changed_certificate_is_refused_until_deliberately_replaced(
    qtbot: QtBot,
    connections: ConnectionService,
    new_run: NewRun,
    tls_sim: tuple[Any, ServedCert],
    tmp_path: Path,
) -> None:
    service, served = tls_sim
    request = LoginRequest(service.base_url, SIM_USER, SIM_PASSWORD)
    with qtbot.waitSignal(connections.trust_needed, timeout=WAIT_MS) as asked:
        connections.connect_to(request)
    with qtbot.waitSignal(connections.connected, timeout=WAIT_MS):
        connections.trust_and_connect(request, asked.args[1])

    other = issue_cert(trustme.CA(), tmp_path / "renewed")
    swap_certificate(service, other)
    later = new_run()
    events = Recorder(later)
    with qtbot.waitSignal(later.certificate_changed, timeout=WAIT_MS) as refused:
        later.connect_to(request)
    assert refused.args[0] is request
    change = refused.args[1]
    assert (change.old_sha256, change.new_sha256) == (served.sha256, other.sha256)
    assert change.presented.sha256 == other.sha256 and change.trusted_at
    assert change.old_sha256_colons.replace(":", "").lower() == served.sha256
    assert events.names() == ["certificate_changed"]  # no trust prompt, no login
    assert _pin_of(service.base_url) == served.sha256  # the pin is untouched
    assert later.servers() == ()
    assert cli(service.base_url, "libraries").returncode == 5  # nor does the CLI connect

    with qtbot.waitSignal(later.connected, timeout=WAIT_MS):
        later.replace_pin(request, change)
    assert _pin_of(service.base_url) == other.sha256


def test_a_ca_file_that_does_not_vouch_for_the_server_is_an_error_not_a_question(
    qtbot: QtBot, connections: ConnectionService, tls_sim: tuple[Any, ServedCert], tmp_path: Path
) -> None:
    service, served = tls_sim
    wrong_ca = issue_cert(trustme.CA(), tmp_path / "unrelated").ca_file
    events = Recorder(connections)
    wrong = LoginRequest(service.base_url, SIM_USER, SIM_PASSWORD, str(wrong_ca))
    with qtbot.waitSignal(connections.connection_failed, timeout=WAIT_MS) as failed:
        connections.connect_to(wrong)
    assert failed.args[0] is wrong and failed.args[1].kind is ErrorKind.TLS
    right = LoginRequest(service.base_url, SIM_USER, SIM_PASSWORD, str(served.ca_file))
    with qtbot.waitSignal(connections.connected, timeout=WAIT_MS):
        connections.connect_to(right)
    assert events.names() == ["connection_failed", "connected"]
    assert _pin_of(service.base_url) is None  # a CA file needs no pin


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_other_failures_are_reported_with_the_request(
    qtbot: QtBot, connections: ConnectionService, sim_service: Any
) -> None:
    closed = LoginRequest(f"127.0.0.1:{_closed_port()}", SIM_USER, SIM_PASSWORD)
    with qtbot.waitSignal(connections.connection_failed, timeout=WAIT_MS) as failed:
        connections.connect_to(closed)
    assert failed.args[0] is closed and failed.args[1].kind is ErrorKind.CONNECTION
    wrong = LoginRequest(sim_service.base_url, SIM_USER, "wrong")
    with qtbot.waitSignal(connections.connection_failed, timeout=WAIT_MS) as failed:
        connections.connect_to(wrong)
    assert failed.args[1].kind is ErrorKind.AUTH
    not_an_address = LoginRequest("ftp://vc.local", SIM_USER, SIM_PASSWORD)
    with qtbot.waitSignal(connections.connection_failed, timeout=WAIT_MS) as failed:
        connections.connect_to(not_an_address)
    assert failed.args[1].title == "Not a server address"
    assert profiles.list_profiles() == []  # nothing saved for a failed login


def test_remember_and_forget_a_password(
    qtbot: QtBot,
    connections: ConnectionService,
    new_run: NewRun,
    sim_service: Any,
    memory_keyring: MemoryKeyring,
) -> None:
    url = sim_service.base_url
    entry = (paths.KEYRING_SERVICE, paths.keyring_key(url, SIM_USER))
    assert connections.keyring_available
    remembered = LoginRequest(url, SIM_USER, SIM_PASSWORD, remember_password=True, profile="lab")
    with qtbot.waitSignal(connections.connected, timeout=WAIT_MS):
        connections.connect_to(remembered)
    assert memory_keyring.passwords[entry] == SIM_PASSWORD
    assert new_run().stored_password(url, SIM_USER) == SIM_PASSWORD
    (lab,) = connections.profiles()
    assert (lab.name, lab.remember_password) == ("lab", True)
    assert SIM_PASSWORD not in profiles.profiles_path().read_text()
    assert connections.request_from_profile(lab).password == SIM_PASSWORD

    connections.forget_password(url, SIM_USER)
    assert entry not in memory_keyring.passwords
    assert connections.request_from_profile(lab).password == ""

    with qtbot.waitSignal(connections.connected, timeout=WAIT_MS):
        connections.connect_to(remembered)
    unticked = LoginRequest(url, SIM_USER, SIM_PASSWORD, profile="lab")
    with qtbot.waitSignal(connections.connected, timeout=WAIT_MS):
        connections.connect_to(unticked)  # "remember" unticked: the stored one goes
    assert entry not in memory_keyring.passwords
    assert not connections.profiles()[0].remember_password

    with qtbot.waitSignal(connections.connected, timeout=WAIT_MS):
        connections.connect_to(remembered)
    connections.remove_profile("lab")  # a removed profile takes its password along
    assert connections.profiles() == [] and entry not in memory_keyring.passwords


def test_without_a_keyring_the_password_lasts_the_run(qtbot: QtBot, sim_service: Any) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    connector, tasks = Connector(), BackgroundTasks()
    headless = ConnectionService(connector, tasks, Passwords())
    assert not headless.keyring_available
    url = sim_service.base_url
    with qtbot.waitSignal(headless.connected, timeout=WAIT_MS):
        headless.connect_to(LoginRequest(url, SIM_USER, SIM_PASSWORD, remember_password=True))
    assert headless.stored_password(url, SIM_USER) == SIM_PASSWORD  # in this run's memory
    assert Passwords().lookup(url, SIM_USER) is None  # and nowhere else
    tasks.shutdown()
    connector.close_all()


def test_queued_jobs_ask_for_a_password_once_or_use_the_stored_one(
    qtbot: QtBot,
    connections: ConnectionService,
    new_run: NewRun,
    sim_service: Any,
) -> None:
    url = sim_service.base_url
    ref = ServerRef(url, SIM_USER)
    events = Recorder(connections)
    with qtbot.waitSignal(connections.password_needed, timeout=WAIT_MS) as needed:
        connections.ensure_connected(ref)
    assert needed.args == [ref]
    connections.ensure_connected(ref)  # asked once per run, not for every queued job
    assert events.names() == ["password_needed"]

    Passwords().remember(url, SIM_USER, SIM_PASSWORD)
    later = new_run()
    later_events = Recorder(later)
    with qtbot.waitSignal(later.connected, timeout=WAIT_MS):
        later.ensure_connected(ref)  # a stored password logs in without a question
    assert later_events.names() == ["connected"] and later.is_connected(ref)

    Passwords().remember(url, SIM_USER, "changed-since")
    third = new_run()
    third_events = Recorder(third)
    with qtbot.waitSignal(third.password_needed, timeout=WAIT_MS):
        third.ensure_connected(ref)  # the stored one is refused: ask, no error box
    assert third_events.names() == ["password_needed"]


def test_connect_on_start_profiles(
    qtbot: QtBot, connections: ConnectionService, sim_service: Any, tmp_path: Path
) -> None:
    url = sim_service.base_url
    profiles.save(Profile("lab", url, SIM_USER, "api", connect_on_start=True))
    profiles.save(Profile("other", url, SIM_USER + "2", connect_on_start=True))
    profiles.save(Profile("manual", url, "reader"))
    Passwords().remember(url, SIM_USER, SIM_PASSWORD)
    assert [p.name for p in connections.start_profiles()] == ["lab", "other"]
    events = Recorder(connections)
    with qtbot.waitSignals([connections.connected, connections.password_needed],
                           timeout=WAIT_MS):  # fmt: skip
        connections.connect_on_start()
    (connected,) = [args[0] for name, args in events.events if name == "connected"]
    assert connected.username == SIM_USER and connected.dialect == "api"
    (needed,) = [args[0] for name, args in events.events if name == "password_needed"]
    assert needed.username == SIM_USER + "2"
    assert connections.request_for(needed).profile == "other"

    with qtbot.waitSignal(connections.disconnected, timeout=WAIT_MS):
        connections.disconnect_server(connected)
    assert connections.servers() == ()
