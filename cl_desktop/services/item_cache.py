"""ItemCache: the items of each library seen before, so a big library opens at once.

SQLite in the cache dir (`items.sqlite`), one row per item, keyed by (server URL, user,
library id, item id): the metadata an `ItemModel` holds, never a token or a password. Qt-free
and thread-safe (one connection behind a lock); the browser reads it on its pool. A file that
is not a database, or one of another schema version, is replaced by an empty cache; when even
that fails the cache stays off for the run (browsing works without it).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from cl_desktop.api.models import ItemModel

log = logging.getLogger(__name__)

CACHE_NAME = "items.sqlite"
SCHEMA_VERSION = 1  # PRAGMA user_version; any other value: the file is started afresh
_FIELDS = (
    "id",
    "library_id",
    "name",
    "description",
    "type",
    "size",
    "cached",
    "content_version",
    "metadata_version",
    "version",
    "creation_time",
    "last_modified_time",
    "last_sync_time",
    "source_id",
)
_TIMES = {"creation_time", "last_modified_time", "last_sync_time"}  # ISO text: exact
_TYPES = {"size": "INTEGER", "cached": "INTEGER"}
_TABLES = f"""
CREATE TABLE IF NOT EXISTS items (
    server TEXT NOT NULL,
    user TEXT NOT NULL,
    library TEXT NOT NULL,
    position INTEGER NOT NULL,
    {", ".join(f"{name} {_TYPES.get(name, 'TEXT')}" for name in _FIELDS)},
    PRIMARY KEY (server, user, library, id)
) WITHOUT ROWID;
"""
Key = tuple[str, str, str]  # server URL, user, library id


def _row(item: ItemModel) -> tuple[object, ...]:
    values: list[object] = []
    for name in _FIELDS:
        value = getattr(item, name)
        if name in _TIMES and value is not None:
            value = value.isoformat()  # exact: a revalidated item compares equal
        elif name == "cached" and value is not None:
            value = int(value)
        values.append(value)
    return tuple(values)


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _item(row: Sequence[object]) -> ItemModel:
    (id_, library_id, name, description, type_, size, cached, content_version,
     metadata_version, version, created, modified, synced, source_id) = row  # fmt: skip
    return ItemModel(
        id=id_,  # type: ignore[arg-type]
        library_id=library_id,  # type: ignore[arg-type]
        name=name,  # type: ignore[arg-type]
        description=description,  # type: ignore[arg-type]
        type=type_,  # type: ignore[arg-type]
        size=None if size is None else int(size),  # type: ignore[call-overload]
        cached=None if cached is None else bool(cached),
        content_version=content_version,  # type: ignore[arg-type]
        metadata_version=metadata_version,  # type: ignore[arg-type]
        version=version,  # type: ignore[arg-type]
        creation_time=_time(created),  # type: ignore[arg-type]
        last_modified_time=_time(modified),  # type: ignore[arg-type]
        last_sync_time=_time(synced),  # type: ignore[arg-type]
        source_id=source_id,  # type: ignore[arg-type]
    )


class ItemCache:
    """The cached items of (server, user, library); `path=None` keeps nothing (a no-op)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = self._open(path)

    @property
    def enabled(self) -> bool:
        return self._db is not None

    def _open(self, path: Path) -> sqlite3.Connection | None:
        for attempt in (1, 2):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                try:
                    db.execute("PRAGMA busy_timeout=2000")
                    version = db.execute("PRAGMA user_version").fetchone()[0]
                    if version not in (0, SCHEMA_VERSION):
                        raise sqlite3.DatabaseError(f"schema version {version}")
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute(
                        "PRAGMA synchronous=NORMAL"
                    )  # a cache: losing the last write is fine
                    db.executescript(_TABLES)
                    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    db.execute("SELECT count(*) FROM items LIMIT 1").fetchone()
                    return db
                except BaseException:
                    db.close()
                    raise
            except (sqlite3.Error, OSError) as exc:
                if attempt == 2:
                    log.warning("item cache %s unusable, browsing without it: %s", path, exc)
                    return None
                log.warning("item cache %s discarded (%s); starting an empty one", path, exc)
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
        return None

    def load(self, key: Key, offset: int = 0, limit: int = -1) -> tuple[ItemModel, ...]:
        """The cached items of a library, in the server's list order (empty if never seen);
        `limit` of them (-1: all) from `offset`, to show the first ones sooner."""
        with self._lock:
            if self._db is None:
                return ()
            try:
                rows = self._db.execute(
                    f"SELECT {', '.join(_FIELDS)} FROM items"
                    " WHERE server = ? AND user = ? AND library = ? ORDER BY position"
                    " LIMIT ? OFFSET ?",
                    (*key, limit, offset),
                ).fetchall()
                return tuple(_item(row) for row in rows)
            except (sqlite3.Error, ValueError, TypeError, OverflowError) as exc:
                log.warning("item cache unreadable, ignored: %s", exc)
                return ()

    def store(self, key: Key, items: Iterable[ItemModel], ids: Sequence[str]) -> None:
        """Replace the library's cached items by `items` (ordered as `ids`, the list)."""
        position = {item_id: n for n, item_id in enumerate(ids)}
        rows = [
            (*key, position.get(item.id or "", len(position)), *_row(item))
            for item in items
            if item.id
        ]
        with self._lock:
            db = self._db
            if db is None:
                return
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute(
                        "DELETE FROM items WHERE server = ? AND user = ? AND library = ?", key
                    )
                    db.executemany(
                        f"INSERT OR REPLACE INTO items (server, user, library, position, "
                        f"{', '.join(_FIELDS)}) VALUES ({', '.join('?' * (4 + len(_FIELDS)))})",
                        rows,
                    )
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                log.warning("item cache not written: %s", exc)

    def keep_libraries(self, server: str, user: str, library_ids: Iterable[str]) -> None:
        """Forget the cached items of this account's libraries not in `library_ids` (deleted
        on the server), so the cache does not keep them forever."""
        keep = set(library_ids)
        with self._lock:
            db = self._db
            if db is None:
                return
            try:
                known = db.execute(
                    "SELECT DISTINCT library FROM items WHERE server = ? AND user = ?",
                    (server, user),
                ).fetchall()
                gone = [(server, user, library) for (library,) in known if library not in keep]
                if gone:
                    db.executemany(
                        "DELETE FROM items WHERE server = ? AND user = ? AND library = ?", gone
                    )
            except sqlite3.Error as exc:
                log.warning("item cache not pruned: %s", exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
