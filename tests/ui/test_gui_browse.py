"""Browsing a big library: rows shown in pages as their GETs answer, and from the item cache
on the next run, then revalidated (new, renamed and deleted items). A proxy in front of the
embedded service holds item GETs to prove the order, and counts them."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient, normalize_server
from cl_desktop.app import Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.services.item_cache import CACHE_NAME, ItemCache
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.fault_proxy import FaultProxy
from tests.support.gui import (
    FakePrompts,
    build_app,
    close_app,
    select_library,
    start_logged_in,
)

ITEM_PATH = "/api/content/library/item/"
HOLD_SECONDS = 60  # a held GET waits this long at most for its gate


class ItemGets:
    """The proxy's hook on API answers: counts the item GETs answered and holds those whose
    id `held` names until `gate` is set."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered: list[str] = []
        self.held: set[str] | None = set()  # None: hold every item GET
        self.gate = threading.Event()

    def __call__(self, path: str, payload: bytes) -> bytes:
        item_id = path.partition("?")[0][len(ITEM_PATH) :]
        if not path.startswith(ITEM_PATH) or not item_id or "/" in item_id:
            return payload
        if self.held is None or item_id in self.held:
            self.gate.wait(HOLD_SECONDS)
        with self.lock:
            self.answered.append(item_id)
        return payload

    def count(self) -> int:
        with self.lock:
            return len(self.answered)


@pytest.fixture
def proxy(sim_service: Any) -> Iterator[tuple[FaultProxy, ItemGets]]:
    gets = ItemGets()
    with FaultProxy(sim_service.base_url) as proxy:
        proxy.rewrite = gets
        try:
            yield proxy, gets
        finally:
            gets.gate.set()


def seed_library(client: ContentLibraryClient, name: str, count: int) -> tuple[str, list[str]]:
    """A library of `count` "file" items item-000..; its id and the item ids as listed."""
    datastore = client.datastores.list()[0].datastore
    library_id = client.libraries.create_local(name, datastore)
    for n in range(count):
        client.items.create(library_id, f"item-{n:03d}", type="file")
    return library_id, list(client.items.list(library_id))


def names(app: Application) -> set[str]:
    return {item.name or "" for item in app.window.item_model.items()}


def login(qtbot: QtBot, tmp_path: Path, prompts: FakePrompts, proxy: FaultProxy) -> Application:
    return start_logged_in(qtbot, tmp_path, prompts, proxy.base_url, SIM_USER, SIM_PASSWORD)


def test_first_page_shows_before_the_last_item_is_answered(
    qtbot: QtBot,
    tmp_path: Path,
    fake_prompts: FakePrompts,
    sim_api_client: ContentLibraryClient,
    proxy: tuple[FaultProxy, ItemGets],
) -> None:
    fault_proxy, gets = proxy
    _library_id, ids = seed_library(sim_api_client, "Zz big", 300)
    gets.held = {ids[-1]}  # the last item's GET waits for the gate
    app = login(qtbot, tmp_path, fake_prompts, fault_proxy)
    try:
        window = app.window
        root = window.library_model.item(0)
        rows = (root.child(r) for r in range(root.rowCount()))
        node = next(node for node in rows if node.text() == "Zz big")
        window.library_tree.setCurrentIndex(node.index())
        qtbot.waitUntil(lambda: window.item_model.rowCount() > 0, timeout=30000)
        # rows are on show while the last GET is still held, and the filter works on them
        assert not gets.gate.is_set()
        assert ids[-1] not in gets.answered
        assert window.item_model.row_of(ids[-1]) < 0
        assert window.items_label.text().startswith("Loading")
        window.filter_edit.setText("item-00")
        assert 0 < window.item_proxy.rowCount() <= 10
        window.filter_edit.clear()
        gets.gate.set()
        qtbot.waitUntil(lambda: window.item_model.rowCount() == 300, timeout=30000)
        qtbot.waitUntil(lambda: window.items_label.text() == "300 items", timeout=30000)
        assert names(app) == {f"item-{n:03d}" for n in range(300)}
        assert sorted(item.id for item in window.item_model.items()) == sorted(ids)
    finally:
        close_app(app)


def test_second_run_shows_cached_rows_then_revalidates(
    qtbot: QtBot,
    tmp_path: Path,
    fake_prompts: FakePrompts,
    sim_api_client: ContentLibraryClient,
    proxy: tuple[FaultProxy, ItemGets],
) -> None:
    fault_proxy, gets = proxy
    library_id, ids = seed_library(sim_api_client, "Zz seen", 40)
    first = login(qtbot, tmp_path, fake_prompts, fault_proxy)
    select_library(qtbot, first, "Zz seen")
    qtbot.waitUntil(lambda: first.window.item_model.rowCount() == 40, timeout=30000)
    close_app(first)

    # Meanwhile on the server: one item renamed, one deleted, one new.
    renamed, deleted = ids[5], ids[7]
    sim_api_client.items.update(renamed, name="renamed-005")
    sim_api_client.items.delete(deleted)
    new_id = sim_api_client.items.create(library_id, "brand-new", type="file")

    gets.held = None  # no item GET is answered until the gate opens
    answered_before = gets.count()
    # a new run, the same data dir: the last library opens again
    fake_prompts.login = LoginRequest(fault_proxy.base_url, SIM_USER, SIM_PASSWORD)
    second = build_app(tmp_path, fake_prompts)
    second.start()
    try:
        window = second.window
        qtbot.waitUntil(lambda: window.library_id == library_id, timeout=10000)
        # the cached rows, the deleted one gone with the listing, before any item GET answered
        qtbot.waitUntil(lambda: window.item_model.rowCount() == 39, timeout=30000)
        assert gets.count() == answered_before
        assert window.item_model.row_of(deleted) < 0
        assert window.item_model.row_of(new_id) < 0
        assert "item-005" in names(second) and "renamed-005" not in names(second)
        window.filter_edit.setText("item-01")  # the filter works over the cached rows
        assert window.item_proxy.rowCount() == 10
        window.filter_edit.clear()

        gets.gate.set()  # revalidation: the new item comes, the renamed one changes
        qtbot.waitUntil(lambda: window.item_model.row_of(new_id) >= 0, timeout=30000)
        qtbot.waitUntil(lambda: "renamed-005" in names(second), timeout=30000)
        qtbot.waitUntil(lambda: window.items_label.text() == "40 items", timeout=30000)
        assert "item-005" not in names(second)
        assert gets.count() - answered_before == 40  # every item once: only a GET tells
    finally:
        close_app(second)
    cache = ItemCache(tmp_path / "app-data" / "cache" / CACHE_NAME)
    key = (normalize_server(fault_proxy.base_url), SIM_USER, library_id)
    cached = {item.id: item.name for item in cache.load(key)}
    cache.close()
    assert len(cached) == 40 and cached[new_id] == "brand-new"
    assert cached[renamed] == "renamed-005" and deleted not in cached


@pytest.mark.parametrize("damage", ["garbage", "old-schema"])
def test_a_corrupt_cache_is_replaced(
    qtbot: QtBot,
    tmp_path: Path,
    fake_prompts: FakePrompts,
    sim_api_client: ContentLibraryClient,
    proxy: tuple[FaultProxy, ItemGets],
    damage: str,
) -> None:
    fault_proxy, _gets = proxy
    library_id, _ids = seed_library(sim_api_client, "Zz lib", 5)
    path = tmp_path / "app-data" / "cache" / CACHE_NAME
    path.parent.mkdir(parents=True)
    if damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    else:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE items (id TEXT)")
            db.execute("PRAGMA user_version=99")
        db.close()
    app = login(qtbot, tmp_path, fake_prompts, fault_proxy)
    try:
        select_library(qtbot, app, "Zz lib")
        qtbot.waitUntil(lambda: app.window.item_model.rowCount() == 5, timeout=30000)
    finally:
        close_app(app)
    cache = ItemCache(path)
    key = (normalize_server(fault_proxy.base_url), SIM_USER, library_id)
    assert sorted(item.name or "" for item in cache.load(key)) == [
        f"item-{n:03d}" for n in range(5)
    ]
    cache.close()


def test_a_deleted_librarys_items_leave_the_cache(
    qtbot: QtBot,
    tmp_path: Path,
    fake_prompts: FakePrompts,
    sim_api_client: ContentLibraryClient,
    proxy: tuple[FaultProxy, ItemGets],
) -> None:
    fault_proxy, _gets = proxy
    library_id, _ids = seed_library(sim_api_client, "Zz gone", 3)
    app = login(qtbot, tmp_path, fake_prompts, fault_proxy)
    path = tmp_path / "app-data" / "cache" / CACHE_NAME
    key = (normalize_server(fault_proxy.base_url), SIM_USER, library_id)
    reader = ItemCache(path)
    try:
        select_library(qtbot, app, "Zz gone")
        qtbot.waitUntil(lambda: len(reader.load(key)) == 3, timeout=30000)
        sim_api_client.libraries.delete_local(library_id)
        assert app.window.server is not None
        app.browser.load_libraries(app.window.server)
        qtbot.waitUntil(lambda: reader.load(key) == (), timeout=30000)
    finally:
        reader.close()
        close_app(app)
