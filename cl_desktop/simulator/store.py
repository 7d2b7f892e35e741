"""Durable state: libraries, items and item files under the data dir.

Layout of ``data_dir``::

    state.json                                   metadata, replaced atomically
    datastore-1/contentlib-<lib>/<item>/<name>_<version>   file content
    tmp/<uuid>.part                              uploads not yet completed
    trash/<uuid>                                 discarded content, deleted in the background

Uploads stream into ``tmp/`` (same file system) and are renamed into place by
``complete``, so an item never shows half-written content.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from .models import DATASTORE_ID, Item, Library

log = logging.getLogger(__name__)

SCHEMA = 1
DEFAULT_LIBRARY_NAME = "Local library"


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
    """Libraries and items, persisted to ``state.json`` after every change.

    Not thread-safe by itself: the caller holds the service's state lock.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.state_file = data_dir / "state.json"
        self.tmp_dir = data_dir / "tmp"
        self.datastore_dir = data_dir / DATASTORE_ID
        self.libraries: dict[str, Library] = {}
        self.items: dict[str, Item] = {}
        self.server_guid = ""
        self.default_library_id = ""
        self.root.mkdir(parents=True, exist_ok=True)
        self.datastore_dir.mkdir(exist_ok=True)
        # Leftover partial uploads belong to sessions that died with the last run.
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir()
        self.shredder = Shredder(data_dir / "trash")
        if self.state_file.exists():
            self._load()
        else:
            self._init()

    def _init(self) -> None:
        now = time.time()
        self.server_guid = str(uuid.uuid4())
        lib = Library(str(uuid.uuid4()), DEFAULT_LIBRARY_NAME, "", now, now)
        self.libraries[lib.id] = lib
        self.default_library_id = lib.id
        self.save()

    def _load(self) -> None:
        with self.state_file.open(encoding="utf-8") as f:
            data: dict[str, Any] = json.load(f)
        if data.get("schema") != SCHEMA:
            raise RuntimeError(f"{self.state_file}: unsupported schema {data.get('schema')!r}")
        self.server_guid = data["server_guid"]
        self.default_library_id = data["default_library_id"]
        for d in data["libraries"]:
            lib = Library.from_dict(d)
            self.libraries[lib.id] = lib
        for d in data["items"]:
            item = Item.from_dict(d)
            self.items[item.id] = item
        log.info("loaded %d libraries, %d items", len(self.libraries), len(self.items))

    def save(self) -> None:
        """Write the metadata atomically (temp file, fsync, rename)."""
        data = {
            "schema": SCHEMA,
            "server_guid": self.server_guid,
            "default_library_id": self.default_library_id,
            "libraries": [lib.to_dict() for lib in self.libraries.values()],
            "items": [item.to_dict() for item in self.items.values()],
        }
        tmp = self.state_file.with_suffix(".json.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_file)

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
