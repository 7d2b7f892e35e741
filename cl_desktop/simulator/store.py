"""Durable state: libraries, items and item files under the data dir.

Layout of ``data_dir``::

    catalogue.sqlite (+ -wal, -shm)              metadata, one transaction per change
    datastore-1/contentlib-<lib>/<item>/<name>_<version>   file content
    tmp/<uuid>.part                              uploads not yet completed
    trash/<uuid>                                 discarded content, deleted in the background
    state.json.migrated                          the old metadata file, once imported

Uploads stream into ``tmp/`` (same file system) and are renamed into place by
``complete``, so an item never shows half-written content.

The catalogue is SQLite in WAL mode: a change writes only its own rows, and a crash
at any moment leaves the last committed state (a killed process loses nothing that
was answered). The rows are also kept in memory, where every read is
served from, so the database is only ever written.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .models import DATASTORE_ID, Item, ItemFile, Library

log = logging.getLogger(__name__)

SCHEMA = 1
DEFAULT_LIBRARY_NAME = "Local library"
CATALOGUE_FILE = "catalogue.sqlite"
LEGACY_STATE_FILE = "state.json"  # the whole catalogue as JSON, rewritten on every change

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS libraries (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    type TEXT NOT NULL,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    library_id TEXT NOT NULL REFERENCES libraries(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    type TEXT NOT NULL,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL,
    content_version INTEGER NOT NULL,
    metadata_version INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_by_library ON items(library_id);
CREATE TABLE IF NOT EXISTS item_files (
    item_id TEXT NOT NULL REFERENCES items(id),
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    version INTEGER NOT NULL,
    sha1 TEXT NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (item_id, name)
);
"""


class Shredder:
    """Deletes discarded files on a background thread.

    Freeing a large file can take the better part of a second here (the virtual disk is
    trimmed on unlink), which must not hold up `complete` or `cancel`. Files are first
    renamed into the trash folder (instant, same file system), so they vanish from view at
    once; whatever a crash leaves in the trash is deleted on the next start.
    """

    def __init__(self, trash_dir: Path) -> None:
        self.trash_dir = trash_dir
        trash_dir.mkdir(exist_ok=True)
        self._queue: queue.Queue[Path] = queue.Queue()
        for leftover in trash_dir.iterdir():
            self._queue.put(leftover)
        threading.Thread(target=self._run, name="sim-shredder", daemon=True).start()

    def discard(self, path: Path) -> None:
        target = self.trash_dir / uuid.uuid4().hex
        try:
            path.rename(target)
        except FileNotFoundError:
            return
        except OSError:  # another file system: delete in place, slowly but surely
            path.unlink(missing_ok=True)
            return
        self._queue.put(target)

    def _run(self) -> None:
        while True:
            path = self._queue.get()
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not delete %s: %s", path.name, exc)


class Store:
    """Libraries and items: in memory for reading, in ``catalogue.sqlite`` for keeping.

    Not thread-safe by itself: the caller holds the service's state lock, which also
    guards the one database connection. Callers change the catalogue only through
    ``add_library``, ``save_library``, ``delete_library``, ``add_item``, ``save_item`` and
    ``delete_item``, each one transaction.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.catalogue_file = data_dir / CATALOGUE_FILE
        self.tmp_dir = data_dir / "tmp"
        self.datastore_dir = data_dir / DATASTORE_ID
        self.libraries: dict[str, Library] = {}
        self.items: dict[str, Item] = {}
        # (library id, casefolded name) -> item id: names are unique per library, and a
        # scan of every item on each create would make a big library slow to fill.
        self._item_names: dict[tuple[str, str], str] = {}
        self._name_keys: dict[str, tuple[str, str]] = {}  # item id -> its key above
        self.server_guid = ""
        self.default_library_id = ""
        self.root.mkdir(parents=True, exist_ok=True)
        self.datastore_dir.mkdir(exist_ok=True)
        # Leftover partial uploads belong to sessions that died with the last run.
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir()
        self.shredder = Shredder(data_dir / "trash")
        self._db = sqlite3.connect(
            self.catalogue_file, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL, in WAL mode: a commit survives the process being killed at any moment and
        # a power cut can cost only the last commits, never consistency. FULL (an fsync per
        # change) doubles the cost of a create (10,000 took 23 s instead of 11 s).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_TABLES)
        if self._meta("server_guid") is None:
            legacy = data_dir / LEGACY_STATE_FILE
            if legacy.exists():
                self._migrate(legacy)
            else:
                self._init()
        self._load()
        self._set_aside_legacy_file()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _init(self) -> None:
        now = time.time()
        library = Library(str(uuid.uuid4()), DEFAULT_LIBRARY_NAME, "", now, now)
        with self._transaction() as db:
            _write_library(db, library)
            _write_meta(db, str(uuid.uuid4()), library.id)

    def _migrate(self, legacy: Path) -> None:
        """Import a ``state.json`` written by earlier versions, in one transaction."""
        with legacy.open(encoding="utf-8") as f:
            data: dict[str, Any] = json.load(f)
        if data.get("schema") != SCHEMA:
            raise RuntimeError(f"{legacy}: unsupported schema {data.get('schema')!r}")
        with self._transaction() as db:
            for d in data["libraries"]:
                _write_library(db, Library.from_dict(d))
            for d in data["items"]:
                _write_item(db, Item.from_dict(d))
            _write_meta(db, data["server_guid"], data["default_library_id"])
        log.info(
            "imported %d libraries, %d items from %s",
            len(data["libraries"]),
            len(data["items"]),
            legacy.name,
        )

    def _set_aside_legacy_file(self) -> None:
        # Also after a crash between the import's commit and this rename: the catalogue
        # then already holds it, and importing it again would undo later changes.
        legacy = self.root / LEGACY_STATE_FILE
        if legacy.exists():
            legacy.replace(legacy.with_name(LEGACY_STATE_FILE + ".migrated"))

    def _load(self) -> None:
        db = self._db
        self.server_guid = self._meta("server_guid") or ""
        self.default_library_id = self._meta("default_library_id") or ""
        for row in db.execute(
            "SELECT id, name, description, creation_time, last_modified_time, version, type"
            " FROM libraries ORDER BY rowid"
        ):
            library = Library(*row)
            self.libraries[library.id] = library
        files: dict[str, list[ItemFile]] = {}
        for item_id, *fields in db.execute(
            "SELECT item_id, name, size, version, sha1, blob FROM item_files ORDER BY rowid"
        ):
            files.setdefault(item_id, []).append(ItemFile(*fields))
        for row in db.execute(
            "SELECT id, library_id, name, description, type, creation_time, last_modified_time,"
            " content_version, metadata_version, version FROM items ORDER BY rowid"
        ):
            item = Item(*row)
            item.files = {f.name: f for f in files.get(item.id, [])}
            self._index(item)
        log.info("loaded %d libraries, %d items", len(self.libraries), len(self.items))

    # -- changes, one transaction each -----------------------------------------------

    def add_library(self, library: Library) -> None:
        with self._transaction() as db:
            _write_library(db, library)
        self.libraries[library.id] = library

    def save_library(self, library: Library) -> None:
        """Write a library changed in place (name, description)."""
        with self._transaction() as db:
            _write_library(db, library)

    def delete_library(self, library: Library) -> None:
        """Remove the library and every item in it."""
        with self._transaction() as db:
            db.execute(
                "DELETE FROM item_files WHERE item_id IN"
                " (SELECT id FROM items WHERE library_id = ?)",
                (library.id,),
            )
            db.execute("DELETE FROM items WHERE library_id = ?", (library.id,))
            db.execute("DELETE FROM libraries WHERE id = ?", (library.id,))
        for item in [i for i in self.items.values() if i.library_id == library.id]:
            self._unindex(item)
        del self.libraries[library.id]

    def add_item(self, item: Item) -> None:
        with self._transaction() as db:
            _write_item(db, item)
        self._index(item)

    def save_item(self, item: Item) -> None:
        """Write an item changed in place (metadata, name or files)."""
        with self._transaction() as db:
            _write_item(db, item)
        self._unname(item)
        self._index(item)  # the item keeps its place: lists stay in creation order

    def delete_item(self, item: Item) -> None:
        with self._transaction() as db:
            _delete_item(db, item.id)
        self._unindex(item)

    def item_named(self, library_id: str, name: str) -> Item | None:
        """The item of that library whose name equals ``name`` ignoring case."""
        item_id = self._item_names.get((library_id, name.casefold()))
        return None if item_id is None else self.items[item_id]

    def items_of(self, library_id: str) -> Iterable[Item]:
        return (item for item in self.items.values() if item.library_id == library_id)

    def _index(self, item: Item) -> None:
        key = (item.library_id, item.name.casefold())
        self.items[item.id] = item
        self._item_names[key] = item.id
        self._name_keys[item.id] = key

    def _unindex(self, item: Item) -> None:
        self.items.pop(item.id, None)
        self._unname(item)

    def _unname(self, item: Item) -> None:
        key = self._name_keys.pop(item.id, None)
        if key is not None and self._item_names.get(key) == item.id:
            del self._item_names[key]

    # -- content paths ----------------------------------------------------------------

    def library_dir(self, library_id: str) -> Path:
        return self.datastore_dir / f"contentlib-{library_id}"

    def item_dir(self, item: Item) -> Path:
        return self.library_dir(item.library_id) / item.id

    def blob_path(self, item: Item, name: str, version: int) -> Path:
        return self.item_dir(item) / f"{name}_{version}"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def absolute(self, blob: str) -> Path:
        return self.root / blob

    def new_temp(self) -> Path:
        return self.tmp_dir / f"{uuid.uuid4().hex}.part"


def _write_meta(db: sqlite3.Connection, server_guid: str, default_library_id: str) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [
            ("schema", str(SCHEMA)),
            ("server_guid", server_guid),
            ("default_library_id", default_library_id),
        ],
    )


def _write_library(db: sqlite3.Connection, library: Library) -> None:
    db.execute(
        "INSERT OR REPLACE INTO libraries"
        " (id, name, description, type, creation_time, last_modified_time, version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            library.id,
            library.name,
            library.description,
            library.type,
            library.creation_time,
            library.last_modified_time,
            library.version,
        ),
    )


def _delete_item(db: sqlite3.Connection, item_id: str) -> None:
    db.execute("DELETE FROM item_files WHERE item_id = ?", (item_id,))
    db.execute("DELETE FROM items WHERE id = ?", (item_id,))


def _write_item(db: sqlite3.Connection, item: Item) -> None:
    """The item's row and its file rows, replacing what was there.

    An upsert, not delete and insert: the row keeps its rowid, which orders the items
    as they were created when the catalogue is loaded again."""
    db.execute(
        "INSERT INTO items (id, library_id, name, description, type, creation_time,"
        " last_modified_time, content_version, metadata_version, version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
        " description = excluded.description, type = excluded.type,"
        " last_modified_time = excluded.last_modified_time,"
        " content_version = excluded.content_version,"
        " metadata_version = excluded.metadata_version, version = excluded.version",
        (
            item.id,
            item.library_id,
            item.name,
            item.description,
            item.type,
            item.creation_time,
            item.last_modified_time,
            item.content_version,
            item.metadata_version,
            item.version,
        ),
    )
    db.execute("DELETE FROM item_files WHERE item_id = ?", (item.id,))
    db.executemany(
        "INSERT INTO item_files (item_id, name, size, version, sha1, blob)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(item.id, f.name, f.size, f.version, f.sha1, f.blob) for f in item.files.values()],
    )
