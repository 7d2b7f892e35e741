"""The Sessions view against the embedded service: live sessions, their actions, orphans."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.errors import ErrorInfo, ErrorKind
from cl_desktop.services.sessions import SessionKind, SessionRow
from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobSpec, JobState, ServerRef
from cl_desktop.transfers.store import JobStore
from cl_desktop.ui.queue_model import ERROR as ERROR_COLUMN
from cl_desktop.ui.sessions_view import (
    EXPIRES,
    ITEM,
    LIBRARY,
    OWNER,
    STATE,
    WARNINGS,
    SessionModel,
)
from tests.support.accounts import (
    SIM_PASSWORD,
    SIM_READONLY_PASSWORD,
    SIM_READONLY_USER,
    SIM_USER,
)
from tests.support.api import active_sessions
from tests.support.cli import start_throttled_upload
from tests.support.files import make_file
from tests.support.gui import (
    FakePrompts,
    close_app,
    create_listed_item,
    drop_files,
    item_row_point,
    jobs,
    refresh_until_listed,
    start_logged_in,
    wait_jobs,
)
from tests.support.servers.simulator import SimulatorServer
from tests.support.signed import self_signed_pem
from tests.support.simclient import RawClient


def refresh(qtbot: QtBot, gui: Application) -> None:
    """Refresh now and wait for the view to show it (no waiting for the 10 s timer); a
    refresh already under way when asked does not count."""
    asked = datetime.now(UTC)
    with qtbot.waitSignal(
        gui.sessions.refreshed, timeout=10000, check_params_cb=lambda s: s.taken_at >= asked
    ):
        gui.sessions.refresh()


def open_sessions(qtbot: QtBot, gui: Application) -> Any:
    gui.window.show_sessions()
    dock = gui.window.sessions_dock
    assert dock is not None
    qtbot.waitUntil(lambda: gui.sessions.active, timeout=5000)  # visible: the timer runs
    return dock


@contextmanager
def app_logged_in(
    qtbot: QtBot, tmp_path: Path, prompts: FakePrompts, login: LoginRequest
) -> Iterator[Application]:
    """The application logged in as `login` (the `gui` fixture is admin on `sim_service`)."""
    app = start_logged_in(qtbot, tmp_path, prompts, login.server, login.username, login.password)
    try:
        yield app
    finally:
        close_app(app)


def texts(dock: Any, row: int) -> dict[int, str]:
    return {c: dock.model.index(row, c).data() for c in (LIBRARY, ITEM, STATE, EXPIRES, OWNER)}


def test_a_session_appears_while_an_upload_runs_and_leaves_when_it_completes(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "slow")
    dock = open_sessions(qtbot, gui)
    assert dock.model.rowCount() == 0
    payload = make_file(tmp_path / "big.bin", 24 * 1024 * 1024)
    sim_service.faults.throttle(1024 * 1024)
    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, "slow"))
    qtbot.waitUntil(lambda: bool(jobs(gui) and jobs(gui)[0].session_id), timeout=10000)
    [job] = jobs(gui)
    refresh(qtbot, gui)
    assert dock.model.rowCount() == 1
    row = texts(dock, 0)
    assert gui.window.current_library is not None
    library = gui.window.current_library.name
    assert (row[LIBRARY], row[ITEM], row[STATE]) == (library, "slow", "ACTIVE")
    assert row[OWNER] == f"job {job.id}"
    assert row[EXPIRES].endswith(("s", "min")), row[EXPIRES]  # a countdown, not a date
    assert "refreshed at" in dock.refreshed_label.text()
    assert dock.orphans() == [] and not dock.clean_up_action.isEnabled()

    sim_service.faults.throttle(None)
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    refresh(qtbot, gui)
    assert dock.model.rowCount() == 0


def test_keep_alive_cancel_fail_and_delete(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
) -> None:
    library_id = sim_service.default_library_id
    first = sim_api_client.update_sessions.create(sim_api_client.items.create(library_id, "one"))
    second = sim_api_client.update_sessions.create(sim_api_client.items.create(library_id, "two"))
    dock = open_sessions(qtbot, gui)
    refresh(qtbot, gui)
    assert dock.model.rowCount() == 2

    dock.select_session(first)
    session = dock.current_session()
    assert session is not None and session.orphan
    assert texts(dock, dock.model.row_of(first))[OWNER] == "orphan (no local job)"
    # Delete is refused while ACTIVE, and says why; the monitor refuses it the same way.
    assert not dock.delete_action.isEnabled()
    assert "still ACTIVE" in dock.delete_action.toolTip()
    with qtbot.waitSignal(gui.sessions.action_failed, timeout=5000) as refused:
        gui.sessions.delete(session)
    error: ErrorInfo = refused.args[2]
    assert "cancel or fail it first" in error.message
    assert first in sim_api_client.update_sessions.list()
    fake_prompts.errors.clear()

    before = sim_api_client.update_sessions.get(first).expiration_time
    assert before is not None
    with qtbot.waitSignal(gui.sessions.action_done, timeout=5000):
        dock.keep_alive_action.trigger()
    moved = sim_api_client.update_sessions.get(first).expiration_time
    assert moved is not None and moved > before
    assert sim_api_client.update_sessions.get(first).client_progress == session.client_progress

    fake_prompts.text_answer = "stopped by the admin"
    with qtbot.waitSignal(gui.sessions.action_done, timeout=5000):
        dock.fail_action.trigger()
    refresh(qtbot, gui)
    failed = dock.monitor_row(first)
    assert failed is not None and failed.state == "ERROR"
    assert failed.error_message == "stopped by the admin"
    assert dock.current_session() == failed  # the selection survived the refresh
    assert dock.delete_action.isEnabled() and not dock.cancel_action.isEnabled()
    assert "not ACTIVE" in dock.cancel_action.toolTip()
    with qtbot.waitSignal(gui.sessions.action_done, timeout=5000):
        dock.delete_action.trigger()
    refresh(qtbot, gui)
    assert dock.model.row_of(first) == -1 and dock.model.rowCount() == 1
    assert first not in sim_api_client.update_sessions.list()

    dock.select_session(second)
    with qtbot.waitSignal(gui.sessions.action_done, timeout=5000):
        dock.cancel_action.trigger()
    refresh(qtbot, gui)
    assert sim_api_client.update_sessions.get(second).state == "CANCELED"
    assert texts(dock, 0)[STATE] == "CANCELED"
    assert fake_prompts.errors == []


def test_files_of_a_session_and_open_item(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
) -> None:
    from cl_desktop.api.models import AddSpec

    item_id = sim_api_client.items.create(sim_service.default_library_id, "with-files")
    session_id = sim_api_client.update_sessions.create(item_id)
    sim_api_client.update_session_files.add(session_id, AddSpec("disk.vmdk", size=1024))
    dock = open_sessions(qtbot, gui)
    refresh(qtbot, gui)
    dock.select_session(session_id)
    dock.files_action.trigger()
    qtbot.waitUntil(lambda: dock.files_dialog is not None, timeout=5000)
    files = dock.files_dialog.model
    assert files.rowCount() == 1 and files.index(0, 0).data() == "disk.vmdk"
    assert files.index(0, 3).data() == "WAITING_FOR_TRANSFER"
    dock.files_dialog.close()

    dock.open_item_action.trigger()
    qtbot.waitUntil(lambda: gui.window.item_id == item_id, timeout=10000)


def test_orphans_are_listed_then_cancelled_and_deleted(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
) -> None:
    library_id = sim_service.default_library_id
    # Made straight through the client, as a killed process leaves them: no job owns them.
    sim_api_client.update_sessions.create(sim_api_client.items.create(library_id, "left"))
    sim_api_client.download_sessions.create(sim_api_client.items.create(library_id, "read"))
    dock = open_sessions(qtbot, gui)
    refresh(qtbot, gui)
    assert len(dock.orphans()) == 2 and dock.clean_up_action.isEnabled()

    fake_prompts.delete_answer = False
    dock.clean_up_action.trigger()
    [(text, lines)] = fake_prompts.delete_confirmations
    assert "2 sessions that no local job owns" in text
    assert sorted(line.split(" session of ")[0] for line in lines) == ["download", "update"]
    assert any("left" in line for line in lines) and any("read" in line for line in lines)
    assert len(active_sessions(sim_api_client)) == 2  # declined: nothing touched

    fake_prompts.delete_answer = True
    dock.clean_up_action.trigger()
    qtbot.waitUntil(lambda: sim_api_client.update_sessions.list() == (), timeout=10000)
    qtbot.waitUntil(lambda: sim_api_client.download_sessions.list() == (), timeout=10000)
    refresh(qtbot, gui)
    assert dock.model.rowCount() == 0 and not dock.clean_up_action.isEnabled()


def test_the_countdown_reaches_expiry_and_the_row_follows_the_server(
    qtbot: QtBot, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    with SimulatorServer(tmp_path / "short-sessions", session_timeout=3) as service:
        with ContentLibraryClient(service.base_url, SIM_USER, SIM_PASSWORD) as client:
            item_id = client.items.create(service.default_library_id, "soon-gone")
            client.update_sessions.create(item_id)
        login = LoginRequest(service.base_url, SIM_USER, SIM_PASSWORD)
        with app_logged_in(qtbot, tmp_path, fake_prompts, login) as gui:
            dock = open_sessions(qtbot, gui)
            refresh(qtbot, gui)
            assert dock.model.rowCount() == 1
            assert texts(dock, 0)[EXPIRES] in ("1 s", "2 s", "3 s")
            # Counted down by the view between refreshes, down to the expiry itself...
            qtbot.waitUntil(lambda: texts(dock, 0)[EXPIRES] == "expired", timeout=10000)
            # ... and then the server's word: this one drops an expired session.
            qtbot.waitUntil(lambda: not service.backend.update_sessions, timeout=10000)
            refresh(qtbot, gui)
            assert dock.model.rowCount() == 0


def upload_into_busy_item(
    qtbot: QtBot, gui: Application, tmp_path: Path, name: str
) -> tuple[JobSnapshot, SessionRow | None]:
    """Drop a file on the item `name` another session holds: the failed job, and the holder
    the window found for it."""
    refresh_until_listed(qtbot, gui, name)
    payload = make_file(tmp_path / "small.bin", 64 * 1024)
    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, name))
    [job] = wait_jobs(qtbot, gui, 1, JobState.FAILED)
    holders = gui.window.busy_items.holders
    qtbot.waitUntil(lambda: job.id in holders, timeout=10000)
    return job, holders[job.id]


def test_resource_busy_is_resolved_from_the_job_row(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    item_id = sim_api_client.items.create(sim_service.default_library_id, "held", type="file")
    holder = sim_api_client.update_sessions.create(item_id)  # nobody's: an orphan
    job, found = upload_into_busy_item(qtbot, gui, tmp_path, "held")
    resolver = gui.window.busy_items
    assert found is not None and found.session_id == holder and found.orphan
    dock = gui.window.dock
    tooltip = dock.queue_model.index(0, ERROR_COLUMN).data(Qt.ItemDataRole.ToolTipRole)
    assert f"held by the update session {holder[:8]} (an orphan), ACTIVE" in tooltip
    dock.queue_view.selectRow(0)
    assert resolver.action.isEnabled()
    resolver.action.trigger()  # an orphan: no question asked
    [done] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert fake_prompts.delete_confirmations == [] and done.id == job.id
    assert holder not in sim_api_client.update_sessions.list()  # cancelled and deleted
    assert [f.name for f in sim_api_client.item_files.list(item_id)] == ["small.bin"]


def test_an_upload_left_by_a_killed_cl_transfer_is_an_orphan_and_is_cleaned_up(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    source = make_file(tmp_path / "killed.bin", 8 * 1024 * 1024)
    # Its own queue database, as cl-transfer has by default: the window's store knows nothing
    # of that job, so once the process is gone nobody will end its session but the expiry.
    proc, session_id = start_throttled_upload(
        sim_service, str(tmp_path / "cli-queue.sqlite"), "killed", source
    )
    proc.kill()
    proc.communicate()
    sim_service.faults.throttle(None)
    dock = open_sessions(qtbot, gui)
    refresh(qtbot, gui)
    assert [row.session_id for row in dock.orphans()] == [session_id]
    assert texts(dock, dock.model.row_of(session_id))[ITEM] == "killed"
    dock.clean_up_action.trigger()
    qtbot.waitUntil(lambda: session_id not in sim_api_client.update_sessions.list(), timeout=10000)
    refresh(qtbot, gui)
    assert dock.model.rowCount() == 0


def test_a_read_only_user_is_refused_in_words_and_the_action_stays_disabled(
    qtbot: QtBot,
    sim_service: Any,
    sim_api_client: ContentLibraryClient,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    item_id = sim_api_client.items.create(sim_service.default_library_id, "admins")
    session_id = sim_api_client.update_sessions.create(item_id)
    reader = LoginRequest(sim_service.base_url, SIM_READONLY_USER, SIM_READONLY_PASSWORD)
    with app_logged_in(qtbot, tmp_path, fake_prompts, reader) as gui:
        dock = open_sessions(qtbot, gui)
        refresh(qtbot, gui)
        assert dock.model.rowCount() == 0  # sessions are their creator's: none of the admin's
        # Were one shown (a session id known from elsewhere), acting on it is refused:
        dock.model.set_sessions([session_row(session_id)], datetime.now(UTC))
        dock.select_session(session_id)
        assert dock.cancel_action.isEnabled()
        with qtbot.waitSignal(gui.sessions.action_failed, timeout=5000) as refused:
            dock.cancel_action.trigger()
        assert refused.args[2].title == "Permission denied"
        assert not dock.cancel_action.isEnabled() and not dock.clean_up_action.isEnabled()
        assert "Permission denied" in dock.cancel_action.toolTip()
        assert [e.title for e in fake_prompts.errors] == ["Permission denied"]
        assert sim_api_client.update_sessions.get(session_id).state == "ACTIVE"


def test_resource_busy_held_by_a_local_job_asks_before_ending_its_session(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    item_id = sim_api_client.items.create(sim_service.default_library_id, "owned", type="file")
    holder = sim_api_client.update_sessions.create(item_id)
    # A paused job of another process sharing the window's store (as cl-transfer can) owns it.
    server = ServerRef(sim_service.base_url, SIM_USER)
    spec = JobSpec(Direction.UPLOAD, server, sim_service.default_library_id, item_id=item_id)
    other = JobStore(gui.store.path)
    owner_id = other.insert(spec, 0, 0.0)
    other.save(JobSnapshot(owner_id, spec, JobState.PAUSED, item_id=item_id, session_id=holder))
    other.close()
    _, found = upload_into_busy_item(qtbot, gui, tmp_path, "owned")
    resolver = gui.window.busy_items
    assert found is not None and found.owner_job == owner_id and not found.orphan
    gui.window.dock.queue_view.selectRow(0)
    fake_prompts.delete_answer = False
    resolver.action.trigger()
    [(_, [line])] = fake_prompts.delete_confirmations
    assert f"owned by local job {owner_id}" in line
    assert holder in sim_api_client.update_sessions.list()  # declined: nothing touched
    fake_prompts.delete_answer = True
    resolver.action.trigger()
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert holder not in sim_api_client.update_sessions.list()


def session_row(session_id: str, state: str = "ACTIVE", owner: int | None = None) -> SessionRow:
    return SessionRow(
        SessionKind.UPDATE,
        session_id,
        state,
        item_id="i",
        item_name="item",
        client_progress=10,
        expiration_time=datetime.now(UTC) + timedelta(minutes=5),
        owner_job=owner,
    )


def test_session_model_passes_modeltester_and_updates_in_place(
    qtmodeltester: ModelTester,
) -> None:
    model = SessionModel()
    qtmodeltester.check(model, force_py=True)  # and it keeps watching the changes below
    now = datetime.now(UTC)
    model.set_sessions([session_row("a"), session_row("b", owner=3), session_row("c")], now)
    kept = model.item(1, 0)
    model.set_sessions([session_row("b", "ERROR", owner=3), session_row("d")], now)
    assert [model.session_id(r) for r in range(model.rowCount())] == ["b", "d"]
    assert model.item(0, 0) is kept  # updated in place: selection and scroll stay
    assert model.index(0, STATE).data() == "ERROR" and model.index(0, EXPIRES).data() == ""
    model.tick(now + timedelta(minutes=10))
    assert model.index(1, EXPIRES).data() == "expired"
    model.set_sessions([], now)
    assert model.rowCount() == 0


def test_preview_warnings_of_a_signed_ovf_are_shown(
    qtbot: QtBot, gui: Application, sim_service: Any
) -> None:
    raw = RawClient(sim_service, "api")
    item_id = raw.create_item("signed", item_type="ovf")
    raw.upload(item_id, {"t.cert": self_signed_pem(), "t.ovf": b"<ovf>"}, complete=False)
    dock = open_sessions(qtbot, gui)
    refresh(qtbot, gui)
    assert dock.model.rowCount() == 1
    warning = dock.model.index(0, WARNINGS).data()
    assert warning.startswith("The OVF package is signed with a self-signed certificate")


def test_a_refused_lookup_of_an_items_holder_is_shown_not_a_crash(
    qtbot: QtBot, gui: Application, fake_prompts: FakePrompts
) -> None:
    """The monitor reports a failed holder lookup under its own words, not a SessionAction:
    refused for permission, it is shown like any failure and the actions stay as they were."""
    dock = open_sessions(qtbot, gui)
    refused = ErrorInfo("Permission denied", "not allowed to list sessions", ErrorKind.AUTH)
    gui.sessions.action_failed.emit("", "find the session holding the item", refused)
    assert [e.title for e in fake_prompts.errors] == ["Permission denied"]
    assert "Permission denied" not in dock.cancel_action.toolTip()
