"""The catalogue (libraries, items, item files) in SQLite: it survives a killed process,
and a data dir from the versions that kept it in state.json is imported once."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from cl_desktop.simulator import ContentLibraryService, SimulatorConfig
from tests.support.accounts import USERS
from tests.support.simclient import RawClient, new_http

BURST_ITEMS = 3000  # upper bound of the burst; the kill comes long before
BURST_SECONDS = 60.0
KILL_AFTER = 150  # answered creates before the kill


def _login(base: str) -> requests.Session:
    http = new_http()
    http.headers["vmware-api-session-id"] = http.post(
        base + "/api/session", auth=("admin", "secret")
    ).json()
    return http


def _check_database(path: Path) -> None:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_the_catalogue_survives_a_kill_mid_burst_of_creates(
    sim_cli: Callable[..., tuple[subprocess.Popen[str], str]], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    args = ("--data-dir", str(data_dir), "--user", "admin:secret")
    proc, base = sim_cli(*args)
    http = _login(base)
    library_id = http.get(base + "/api/content/library").json()[0]
    answered: list[str] = []
    refused: list[str] = []
    enough = threading.Event()
    lock = threading.Lock()

    def burst(worker: int) -> None:
        # Two workers, so that a commit is usually in flight when the kill comes.
        session = _login(base)
        deadline = time.monotonic() + BURST_SECONDS
        for n in range(BURST_ITEMS // 2):
            if time.monotonic() > deadline:
                break
            try:
                r = session.post(
                    base + "/api/content/library/item",
                    json={"library_id": library_id, "name": f"item-{worker}-{n}"},
                )
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                break  # killed (before or while the answer came): not an answered create
            if r.status_code != 201:  # /api answers a create with 201
                refused.append(f"{r.status_code} {r.text}")
                break
            with lock:
                answered.append(r.json())
                if len(answered) >= KILL_AFTER:
                    enough.set()
        enough.set()  # the burst ended (bounded), kill anyway

    workers = [threading.Thread(target=burst, args=(w,), daemon=True) for w in range(2)]
    for w in workers:
        w.start()
    assert enough.wait(BURST_SECONDS + 10)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=15) == -signal.SIGKILL
    for w in workers:
        w.join(timeout=30)
        assert not w.is_alive()
    assert refused == []
    assert len(answered) >= KILL_AFTER, "the burst ended before the kill"

    _check_database(data_dir / "catalogue.sqlite")
    _, base = sim_cli(*args)
    http = _login(base)
    kept = http.get(base + "/api/content/library/item", params={"library_id": library_id})
    assert kept.status_code == 200
    kept_ids = kept.json()
    assert set(answered) <= set(kept_ids)
    # At most the creates that were in flight (one per worker) made it without an answer.
    assert len(kept_ids) <= len(answered) + len(workers)
    assert len(set(kept_ids)) == len(kept_ids)
    for item_id in answered[-5:]:
        assert http.get(base + f"/api/content/library/item/{item_id}").status_code == 200
    _check_database(data_dir / "catalogue.sqlite")


# -- migration from state.json -------------------------------------------------------------

SERVER_GUID = "6f3c2a54-0d2e-4d7a-9a55-2f4f1d1f6a01"
DEFAULT_LIBRARY = "0b7e5f8c-5f6b-4d43-9f8e-6d0c2f6f2c11"
OTHER_LIBRARY = "a6a3e0d8-7d0c-4b3e-8a1f-1f0a7c2b9e22"
ITEM = "c1d2e3f4-1111-4222-8333-944455566677"
EMPTY_ITEM = "d1d2e3f4-1111-4222-8333-944455566688"
CONTENT = b"migrated content\n" * 100


def write_legacy_state(data_dir: Path) -> None:
    """A data dir as the JSON-backed versions left it: state.json plus one blob."""
    blob = f"datastore-1/contentlib-{OTHER_LIBRARY}/{ITEM}/disk.bin_2"
    (data_dir / blob).parent.mkdir(parents=True)
    (data_dir / blob).write_bytes(CONTENT)
    state = {
        "schema": 1,
        "server_guid": SERVER_GUID,
        "default_library_id": DEFAULT_LIBRARY,
        "libraries": [
            {
                "id": DEFAULT_LIBRARY,
                "name": "Local library",
                "description": "",
                "type": "LOCAL",
                "creation_time": 1_700_000_000.25,
                "last_modified_time": 1_700_000_000.25,
                "version": 1,
            },
            {
                "id": OTHER_LIBRARY,
                "name": "isos",
                "description": "kept since before",
                "type": "LOCAL",
                "creation_time": 1_700_000_100.5,
                "last_modified_time": 1_700_000_200.5,
                "version": 3,
            },
        ],
        "items": [
            {
                "id": ITEM,
                "library_id": OTHER_LIBRARY,
                "name": "disk",
                "description": "two versions old",
                "type": "iso",
                "creation_time": 1_700_000_300.125,
                "last_modified_time": 1_700_000_400.5,
                "content_version": 3,
                "metadata_version": 2,
                "version": 4,
                "files": [
                    {
                        "name": "disk.bin",
                        "size": len(CONTENT),
                        "version": 2,
                        "sha1": "e1b7bd7c9c1cd1d1e3ef31c7a4c6b3a3a9b7c2d1",
                        "blob": blob,
                    }
                ],
            },
            {
                "id": EMPTY_ITEM,
                "library_id": OTHER_LIBRARY,
                "name": "empty",
                "description": "",
                "type": "",
                "creation_time": 1_700_000_500.0,
                "last_modified_time": 1_700_000_500.0,
                "content_version": 1,
                "metadata_version": 1,
                "version": 1,
                "files": [],
            },
        ],
    }
    (data_dir / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")


def test_a_state_json_is_imported_once_then_set_aside(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_legacy_state(data_dir)
    cfg = SimulatorConfig(data_dir=data_dir, users=dict(USERS))
    with ContentLibraryService(cfg) as svc:
        api = RawClient(svc, "api")
        assert svc.default_library_id == DEFAULT_LIBRARY
        assert api.ok("GET", "/api/content/library") == [DEFAULT_LIBRARY, OTHER_LIBRARY]
        library = api.ok("GET", f"/api/content/library/{OTHER_LIBRARY}")
        assert (library["name"], library["description"], library["version"]) == (
            "isos",
            "kept since before",
            "3",
        )
        assert library["server_guid"] == SERVER_GUID
        assert library["creation_time"] == "2023-11-14T22:15:00.500Z"
        assert api.ok("GET", "/api/content/library/item", params={"library_id": OTHER_LIBRARY}) == [
            ITEM,
            EMPTY_ITEM,
        ]
        item = api.item(ITEM)
        assert {k: item[k] for k in ("name", "description", "type", "size", "cached")} == {
            "name": "disk",
            "description": "two versions old",
            "type": "iso",
            "size": len(CONTENT),
            "cached": True,
        }
        assert (item["content_version"], item["metadata_version"], item["version"]) == (
            "3",
            "2",
            "4",
        )
        assert item["last_modified_time"] == "2023-11-14T22:20:00.500Z"
        assert [(f["name"], f["version"], f["size"]) for f in api.item_files(ITEM)] == [
            ("disk.bin", "2", len(CONTENT))
        ]
        assert api.item(EMPTY_ITEM)["cached"] is False
        _, uri = api.prepared_uri(ITEM, "disk.bin")
        assert new_http().get(uri).content == CONTENT  # the blob stayed where it was
        # A change after the import is kept, and the import does not run again.
        renamed = {"name": "disk renamed"}
        api.ok("PATCH", f"/api/content/library/item/{ITEM}", json=renamed)
    assert not (data_dir / "state.json").exists()
    assert (data_dir / "state.json.migrated").exists()
    _check_database(data_dir / "catalogue.sqlite")

    with ContentLibraryService(cfg) as svc:
        api = RawClient(svc, "api")
        assert api.item(ITEM)["name"] == "disk renamed"
        assert api.ok("GET", "/api/content/library/item", params={"library_id": OTHER_LIBRARY}) == [
            ITEM,
            EMPTY_ITEM,
        ]


def test_a_state_json_left_by_a_crash_after_the_import_is_not_imported_again(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    write_legacy_state(data_dir)
    cfg = SimulatorConfig(data_dir=data_dir, users=dict(USERS))
    with ContentLibraryService(cfg) as svc:
        RawClient(svc, "api").ok("DELETE", f"/api/content/library/item/{EMPTY_ITEM}")
    # As if the process had died between the import's commit and the rename.
    (data_dir / "state.json.migrated").rename(data_dir / "state.json")
    with ContentLibraryService(cfg) as svc:
        api = RawClient(svc, "api")
        assert api.ok("GET", "/api/content/library/item", params={"library_id": OTHER_LIBRARY}) == [
            ITEM
        ]
    assert not (data_dir / "state.json").exists()


def test_a_state_json_of_an_unknown_schema_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "state.json").write_text(json.dumps({"schema": 99}), encoding="utf-8")
    with pytest.raises(RuntimeError, match="unsupported schema 99"):
        ContentLibraryService(SimulatorConfig(data_dir=data_dir, users=dict(USERS)))
    assert (data_dir / "state.json").exists()  # left for a version that knows it
