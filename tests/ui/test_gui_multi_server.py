"""Several servers in one window: a tree root each, drops that land on their library's server,
jobs of every server shown from the start, a Server column, sessions of both, disconnecting."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.transfers.jobs import (
    Direction,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
)
from cl_desktop.transfers.store import JobStore
from cl_desktop.ui.queue_model import SERVER, STATE
from cl_desktop.ui.sessions_view import SERVER as SESSION_SERVER
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.files import make_file
from tests.support.gui import FakePrompts, build_app, close_app, drop_files, jobs, wait_jobs
from tests.support.multi import library_row, tree_roots, wait_servers
from tests.support.uploads import sessions_of


def test_a_server_is_named_user_at_host_with_the_port_only_when_not_443() -> None:
    cases = {
        "https://vc.example": "admin@vc.example",
        "https://vc.example:443/": "admin@vc.example",
        "https://vc.example:8443": "admin@vc.example:8443",
        "http://127.0.0.1:8080": "admin@127.0.0.1:8080",
        "https://[::1]:9443": "admin@[::1]:9443",
    }
    assert {url: ServerRef(url, "admin").label for url in cases} == cases


def login_to(service: Any) -> LoginRequest:
    return LoginRequest(service.base_url, SIM_USER, SIM_PASSWORD)


@pytest.fixture
def logins(
    qtbot: QtBot, gui: Application, sim_service: Any, sim_service_b: Any
) -> tuple[LoginRequest, LoginRequest]:
    """`gui` connected to `sim_service_b` too: the logins to A and to B."""
    login_b = login_to(sim_service_b)
    gui.connect_to(login_b)
    wait_servers(qtbot, gui, 2)
    return login_to(sim_service), login_b


def select_library_of(qtbot: QtBot, app: Application, login: LoginRequest, library: str) -> None:
    app.window.library_tree.setCurrentIndex(library_row(app, login.ref, library))
    qtbot.waitUntil(lambda: app.window.server == login.ref, timeout=5000)


def drop_on_tree_library(
    qtbot: QtBot, app: Application, login: LoginRequest, library: str, path: Path
) -> None:
    tree = app.window.library_tree
    assert drop_files(tree, [path], tree.visualRect(library_row(app, login.ref, library)).center())


def test_two_servers_each_a_root_and_a_drop_lands_on_its_librarys_server(
    qtbot: QtBot,
    gui: Application,
    sim_service: Any,
    sim_service_b: Any,
    sim_api_client: ContentLibraryClient,
    logins: tuple[LoginRequest, LoginRequest],
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    login_a, login_b = logins
    window = gui.window
    with ContentLibraryClient(sim_service_b.base_url, SIM_USER, SIM_PASSWORD) as client_b:
        names_a = sorted(lib.name or "" for lib in sim_api_client.libraries.list_models())
        names_b = sorted(lib.name or "" for lib in client_b.libraries.list_models())
        roots = tree_roots(gui)
        assert [(text, server) for text, server, _ in roots] == [
            (login_a.ref.label, login_a.ref),
            (login_b.ref.label, login_b.ref),
        ]
        assert login_b.ref.label == f"admin@127.0.0.1:{sim_service_b.base_url.rsplit(':', 1)[1]}"
        assert [sorted(names) for *_, names in roots] == [names_a, names_b]
        assert window.status_label.text() == "Connected to 2 servers"
        # the newly connected server took the selection; going back to A's library is A again
        assert window.server == login_b.ref
        select_library_of(qtbot, gui, login_a, sim_service.default_library_id)
        assert login_a.ref.label in window.windowTitle()
        assert window.library_id == sim_service.default_library_id

        # a drop on B's library while A's is current: new items on B, nothing on A
        payload = make_file(tmp_path / "to-b.iso", 300_000)
        drop_on_tree_library(qtbot, gui, login_b, sim_service_b.default_library_id, payload)
        qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=10000)
        [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
        assert job.spec.server == login_b.ref and job.verification is Verification.VERIFIED
        assert window.dock.queue_model.index(0, SERVER).data() == login_b.ref.label
        [item] = client_b.items.list_models(sim_service_b.default_library_id)
        assert (item.id, item.name) == (job.item_id, "to-b")
        [info] = client_b.item_files.list(item.id or "")
        assert (info.name, info.size) == ("to-b.iso", payload.stat().st_size)
        assert sim_api_client.items.list(sim_service.default_library_id) == ()
        assert window.server == login_a.ref  # the drop did not move the selection


def test_jobs_of_every_server_show_from_start_and_each_runs_once_its_server_is_connected(
    qtbot: QtBot, sim_service: Any, sim_service_b: Any, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    login_a, login_b = login_to(sim_service), login_to(sim_service_b)
    payload = make_file(tmp_path / "both.bin", 200_000)
    (tmp_path / "app-data").mkdir()
    store = JobStore(tmp_path / "app-data" / "transfers.sqlite")
    for position, (login, service) in enumerate(((login_a, sim_service), (login_b, sim_service_b))):
        spec = JobSpec(Direction.UPLOAD, login.ref, service.default_library_id,
                       item_name=f"for-{position}", paths=(str(payload),))  # fmt: skip
        store.insert(spec, position + 1, time.time())
    store.close()
    app = build_app(tmp_path, fake_prompts)  # no login given: the window starts unconnected
    try:
        app.start()
        model = app.window.dock.queue_model

        def states() -> list[str]:
            return [model.index(row, STATE).data() for row in range(model.rowCount())]

        waiting = [f"Waiting for login to {login.ref.label}" for login in (login_a, login_b)]
        qtbot.waitUntil(lambda: states() == waiting, timeout=10000)
        assert [model.index(row, SERVER).data() for row in range(2)] == [
            login_a.ref.label,
            login_b.ref.label,
        ]

        app.connect_to(login_a)
        qtbot.waitUntil(lambda: jobs(app)[0].state is JobState.DONE, timeout=20000)
        assert states()[1] == waiting[1] and jobs(app)[1].attempts == 0

        app.connect_to(login_b)
        qtbot.waitUntil(lambda: jobs(app)[1].state.finished, timeout=20000)
        job_b = jobs(app)[1]
        assert job_b.state is JobState.DONE and job_b.verification is Verification.VERIFIED
        wait_servers(qtbot, app, 2)
        with ContentLibraryClient(sim_service_b.base_url, SIM_USER, SIM_PASSWORD) as client_b:
            [item] = client_b.items.list_models(sim_service_b.default_library_id)
            assert (item.id, item.name) == (job_b.item_id, "for-1")
    finally:
        close_app(app)


def test_sessions_of_both_servers_listed_and_a_disconnect_pauses_its_jobs_until_login(
    qtbot: QtBot,
    gui: Application,
    sim_service: Any,
    sim_service_b: Any,
    logins: tuple[LoginRequest, LoginRequest],
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    login_a, login_b = logins
    window = gui.window
    payload = make_file(tmp_path / "slow.bin", 16 * 1024 * 1024)
    for service in (sim_service, sim_service_b):
        service.faults.throttle(512 * 1024)
    for login, service in ((login_a, sim_service), (login_b, sim_service_b)):
        drop_on_tree_library(qtbot, gui, login, service.default_library_id, payload)
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 2, timeout=10000)
    qtbot.waitUntil(
        lambda: len(jobs(gui)) == 2 and all(job.session_id for job in jobs(gui)), timeout=20000
    )
    by_server = {job.spec.server: job for job in jobs(gui)}

    # the Sessions view lists the upload session of each server, with its server
    window.show_sessions()
    dock = window.sessions_dock
    assert dock is not None
    qtbot.waitUntil(lambda: gui.sessions.active, timeout=5000)
    qtbot.waitUntil(lambda: dock.model.rowCount() == 2, timeout=15000)
    listed = {
        dock.model.index(row, SESSION_SERVER).data(): dock.model.session(row) for row in range(2)
    }
    assert set(listed) == {login_a.ref.label, login_b.ref.label}
    for login in (login_a, login_b):
        session = listed[login.ref.label]
        assert session is not None and session.session_id == by_server[login.ref].session_id

    # File > Disconnect of B (the current server): its root and sessions go, its running
    # upload waits for B's login
    assert window.server == login_b.ref and window.disconnect_action.isEnabled()
    window.disconnect_action.trigger()
    assert [server for _, server, _ in tree_roots(gui)] == [login_a.ref]
    assert window.server == login_a.ref
    job_id_b = by_server[login_b.ref].id
    model = window.dock.queue_model
    waiting = f"Waiting for login to {login_b.ref.label}"
    qtbot.waitUntil(
        lambda: model.index(model.row_of(job_id_b), STATE).data() == waiting, timeout=20000
    )
    job_b = model.snapshot(model.row_of(job_id_b))
    assert (job_b.state, job_b.phase) == (JobState.QUEUED, Phase.WAITING_FOR_LOGIN)
    # its session was ended before the logout, so nothing on B stays ACTIVE and locks the item
    qtbot.waitUntil(lambda: not sessions_of(sim_service_b), timeout=15000)
    qtbot.waitUntil(
        lambda: (
            [dock.model.index(r, SESSION_SERVER).data() for r in range(dock.model.rowCount())]
            == [login_a.ref.label]
        ),
        timeout=15000,
    )
    job_a = next(job for job in jobs(gui) if job.spec.server == login_a.ref)
    assert job_a.state is JobState.RUNNING  # A's upload goes on

    # connected again, B's upload finishes
    for service in (sim_service, sim_service_b):
        service.faults.throttle(None)
    gui.connect_to(login_b)
    wait_servers(qtbot, gui, 2)
    done = wait_jobs(qtbot, gui, 2, JobState.DONE, timeout=60000)
    assert all(job.verification is Verification.VERIFIED for job in done)
    with ContentLibraryClient(sim_service_b.base_url, SIM_USER, SIM_PASSWORD) as client_b:
        [item] = client_b.items.list_models(sim_service_b.default_library_id)
        [info] = client_b.item_files.list(item.id or "")
        assert info.size == payload.stat().st_size


def test_the_browser_adds_a_server_logged_in_elsewhere_and_forgets_it_on_disconnect(
    qtbot: QtBot, gui: Application, sim_service_b: Any
) -> None:
    """The ConnectionService logs in; the browser adds the server (add_server) and forgets it
    on disconnect, which logs out."""
    login_b = login_to(sim_service_b)
    browser = gui.browser
    said: list[tuple[str, Any]] = []
    browser.connected.connect(lambda server: said.append(("connected", server)))
    browser.libraries_loaded.connect(
        lambda server, libs: said.append(("libraries", (server, libs)))
    )
    gui.connections.connect_to(login_b)
    qtbot.waitUntil(lambda: len(said) == 2, timeout=10000)
    assert said[0] == ("connected", login_b.ref) and browser.servers[1] == login_b.ref
    server, libraries = said[1][1]
    assert server == login_b.ref
    assert sim_service_b.default_library_id in {lib.id for lib in libraries}
    wait_servers(qtbot, gui, 2)

    # the server row's context menu offers to disconnect that server
    menu = gui.window.library_menu(gui.window.library_model.server_index(login_b.ref))
    [disconnect] = [action for action in menu.actions() if action.text().startswith("D&isc")]
    assert disconnect.text() == f"D&isconnect {login_b.ref.label}"
    with qtbot.waitSignal(browser.disconnected, timeout=5000):
        disconnect.trigger()
    menu.deleteLater()
    assert len(browser.servers) == 1 and login_b.ref not in browser.servers
    qtbot.waitUntil(lambda: not gui.connector.connected(login_b.ref), timeout=5000)
