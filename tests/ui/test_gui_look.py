"""What a new user sees first: the title, counts, columns that fit, the window staying where
it was put, and status messages that can be read whole and go away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication, QStyle
from pytestqt.qtbot import QtBot

from cl_desktop.app import Application
from cl_desktop.transfers.jobs import JobState
from cl_desktop.ui import format as fmt
from cl_desktop.ui.colors import error_color
from cl_desktop.ui.queue_model import ETA, FILE, SIZE, SPEED
from tests.support.files import make_file
from tests.support.gui import (
    FakePrompts,
    build_app,
    close_app,
    create_listed_item,
    drop_files,
    item_row_point,
    jobs,
    select_item,
    start_logged_in,
    wait_jobs,
)

LONG_ERROR = (
    "Could not list the items: Connection problem: Could not connect to "
    "https://vcenter.example.com:443/api/content/library/item?library_id=0123456789: "
    "[Errno 111] Connection refused. Check the server address and the network, then try again."
)


@pytest.fixture
def display_name() -> Iterator[str]:
    """The name the platform adds to titles, as __main__ sets it."""
    before = QApplication.applicationDisplayName()
    QApplication.setApplicationDisplayName("cl_desktop")
    yield "cl_desktop"
    QApplication.setApplicationDisplayName(before)


def test_title_names_the_application_once_and_last(gui: Application, display_name: str) -> None:
    window = gui.window
    window._update_title()
    [server] = gui.browser.servers
    # the platform appends the display name unless the title ends with it already
    assert window.windowTitle() == f"{server.label} \u2014 {display_name}"
    window._update_title(0.45)
    assert window.windowTitle() == f"45% \u00b7 {server.label} \u2014 {display_name}"
    assert window.windowTitle().count(display_name) == 1


def test_counts_say_item_or_items() -> None:
    assert fmt.counted("1 item(s)", 1) == "1 item"
    assert fmt.counted("2 item(s)", 2) == "2 items"
    assert fmt.counted("0 item(s)", 0) == "0 items"
    assert fmt.counted("1 Element", 1) == "1 Element"  # a translation is left alone


def test_item_counter_reads_1_item_and_is_not_cut(
    qtbot: QtBot, gui: Application, sim_api_client: Any, sim_service: Any
) -> None:
    window = gui.window
    window.resize(1024, 700)
    window.show()
    library = sim_service.default_library_id
    sim_api_client.items.create(library, "only-one", type="file")
    window.refresh()
    qtbot.waitUntil(lambda: window.item_model.row_of_name("only-one") >= 0, timeout=10000)
    assert window.item_model.rowCount() == 1
    assert window.items_label.text() == "1 item"
    sim_api_client.items.create(library, "another", type="file")
    window.refresh()
    qtbot.waitUntil(lambda: window.item_model.row_of_name("another") >= 0, timeout=10000)
    qtbot.waitUntil(lambda: window.items_label.text() == "2 items", timeout=10000)
    window.filter_edit.setText("only-one")
    assert window.items_label.text() == "1 of 2 items"
    QApplication.processEvents()
    label = window.items_label
    # the whole text fits in the label, and the label ends inside the window
    assert label.width() >= label.fontMetrics().horizontalAdvance(label.text())
    right = label.mapTo(window, QPoint(label.width(), 0)).x()
    assert right < window.width() - 1


@pytest.mark.parametrize("width", [1024, 1200])
def test_every_queue_column_is_on_screen(qtbot: QtBot, gui: Application, width: int) -> None:
    window = gui.window
    window.resize(width, 768)
    window.show()
    qtbot.waitUntil(lambda: window.width() == width)
    view = window.dock.queue_view
    header = view.horizontalHeader()
    QApplication.processEvents()
    visible = view.viewport().width()
    assert visible > width - 40  # the dock spans the window
    for section in range(header.count()):
        left = header.sectionViewportPosition(section)
        right = left + header.sectionSize(section)
        title = view.model().headerData(section, Qt.Orientation.Horizontal)
        assert left >= 0 and right <= visible, f"{title} at {left}..{right} of {visible}"
        # and none is too narrow to be read: its title whole, in the bold the header shows
        # when a row is selected (seen cut as "/erificatior" in the screenshot)
        bold = QFont(header.font())
        bold.setBold(True)
        needed = QFontMetrics(bold).horizontalAdvance(title) + 8
        assert header.sectionSize(section) >= needed, f"{title}: {header.sectionSize(section)}"
    # a size, a speed and a time left fit whole (seen cut as "200...B/s" in the demo)
    cell_font = view.fontMetrics()
    padding = 2 * view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 4
    for column, text in (
        (SIZE, fmt.size(100_700_000)),
        (SPEED, fmt.speed(200_000)),
        (ETA, fmt.duration(185)),
    ):
        needed = cell_font.horizontalAdvance(text) + padding
        assert header.sectionSize(column) >= needed, f"{text!r} in {header.sectionSize(column)}"


def _geometry_cycle(tmp_path: Path, prompts: FakePrompts, move_to: QRect | None) -> QRect:
    """Start the application, (move the window), quit as the user does, return where the
    window was on screen."""
    app = build_app(tmp_path, prompts)
    window = app.window
    window.show()
    if move_to is not None:
        window.setGeometry(move_to)
    QApplication.processEvents()
    shown = window.geometry()
    window.close()  # the user closes it: saved while on screen
    # __main__ saves again after the event loop ended, with the window hidden; a hidden
    # window's geometry is no longer what the user saw (X11: no frame)
    window.setGeometry(shown.translated(0, 25))
    app.shutdown()
    window.deleteLater()
    app.deleteLater()
    return shown


def test_window_keeps_its_place_across_restarts(
    qtbot: QtBot, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    screen = QApplication.primaryScreen().availableGeometry()
    # well inside the screen: restoring moves a window that would not fit
    placed = screen.adjusted(40, 30, -40, -30)
    first = _geometry_cycle(tmp_path, fake_prompts, placed)
    assert first == placed
    for _ in range(3):
        assert _geometry_cycle(tmp_path, fake_prompts, None) == placed


def test_status_error_is_whole_on_demand_and_goes_away(
    qtbot: QtBot, gui: Application, fake_prompts: FakePrompts
) -> None:
    window = gui.window
    window.resize(1024, 700)
    window.show()
    window.show_status("Connected to somewhere")
    status = window.status_label
    calm = status.palette().windowText().color()
    status.set_error_interval(200)
    window.show_status(LONG_ERROR, error=True)
    QApplication.processEvents()
    # cut where it is painted, whole in the text, tooltip and on click
    assert status.shown_text() != LONG_ERROR and status.shown_text().endswith("\u2026")
    assert status.text() == LONG_ERROR and status.toolTip() == LONG_ERROR
    assert status.palette().windowText().color() == error_color(QApplication.palette())
    assert status.palette().windowText().color() != calm
    qtbot.mouseClick(status, Qt.MouseButton.LeftButton)
    assert fake_prompts.errors[-1].message == LONG_ERROR
    window.status_details_action.trigger()  # the same from the keyboard (View menu)
    assert len(fake_prompts.errors) == 2 and fake_prompts.errors[-1].message == LONG_ERROR
    # after a while the last ordinary message is back, in the ordinary colour
    qtbot.waitUntil(lambda: status.text() == "Connected to somewhere", timeout=5000)
    assert status.palette().windowText().color() == calm
    assert not status.error_pending


def test_a_restarted_downloads_row_names_its_files_as_before(
    qtbot: QtBot,
    sim_api_client: Any,
    sim_service: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
) -> None:
    gui = start_logged_in(qtbot, tmp_path, fake_prompts, sim_service.base_url, "admin", "secret")
    window = gui.window
    create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "pair")
    first = make_file(tmp_path / "a-first.bin", 512 * 1024)
    second = make_file(tmp_path / "b-second.bin", 512 * 1024)
    assert drop_files(window.item_view, [first, second], item_row_point(gui, "pair"))
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    window.dock.clear_completed()
    qtbot.waitUntil(lambda: jobs(gui) == [], timeout=5000)
    sim_service.faults.throttle(64 * 1024)
    select_item(qtbot, gui, "pair")
    window.download_selected_items()
    qtbot.waitUntil(lambda: [j.state for j in jobs(gui)] == [JobState.RUNNING], timeout=10000)
    qtbot.waitUntil(lambda: bool(jobs(gui)[0].files), timeout=10000)
    [job] = jobs(gui)
    gui.transfers.pause(job.id)
    [paused] = wait_jobs(qtbot, gui, 1, JobState.PAUSED)
    label = window.dock.queue_model.index(0, FILE).data()
    assert label.endswith("(+1)")
    sim_service.faults.throttle(None)
    close_app(gui)

    again = build_app(tmp_path, FakePrompts())  # the same data dir, no login
    again.start()
    try:
        qtbot.waitUntil(lambda: len(jobs(again)) == 1, timeout=10000)
        [restored] = jobs(again)
        assert restored.id == paused.id and restored.state is JobState.PAUSED
        assert again.window.dock.queue_model.index(0, FILE).data() == label
    finally:
        close_app(again)
