"""LibraryBrowser: fetches libraries, items, files and storage in the background."""

from __future__ import annotations

import dataclasses
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from cl_desktop.api import ContentLibraryClient, normalize_server
from cl_desktop.api.errors import NotFound, OperationNotFound, Unsupported
from cl_desktop.api.models import FileInfo, ItemModel, LibraryModel, StorageInfo
from cl_desktop.transfers.jobs import ServerRef

from .connection import Connector
from .errors import ErrorInfo
from .item_cache import ItemCache
from .planning import DropPlan, names_in_item, plan_drop
from .tasks import BackgroundTasks, Failure, TaskCancelled

log = logging.getLogger(__name__)

# vCenter has no bulk "get items": one GET per item, a few in parallel. Three at a time keep
# a fast server (loopback, the embedded service) busy; more only add GIL contention (10,000
# GETs took 4.6 client CPU-s with 2 at a time, 5.5 with 4 or 8). A slow one (a real vCenter:
# tens of ms per GET) gets up to ITEM_FETCH_THREADS once the first GETs show their latency.
ITEM_FETCH_THREADS = 8
ITEM_FETCH_START = 3
SLOW_GET_SECONDS = 0.004  # a median GET slower than this: widen to ITEM_FETCH_THREADS
LATENCY_SAMPLES = 16
PROGRESS_INTERVAL = 0.25  # seconds between "loading items n/m" reports
# Fetched items reach the table in pages: at most this often, or once this many are in, the
# first page small so the first rows show at once, later ones bigger (fewer model updates).
PAGE_SECONDS = 0.1
FIRST_PAGE_ROWS = 50
PAGE_ROWS = 1000
FIRST_CACHED_ROWS = 500
CACHED_PAGE_ROWS = 2000
SHOWN_WAIT = 5.0  # seconds a revalidation waits at most for the cached rows to be shown


@dataclass(frozen=True)
class ItemDetails:
    """The detail panes' data for one item."""

    item_id: str
    files: tuple[FileInfo, ...]
    storage: tuple[StorageInfo, ...] | None  # None: the server has no Storage API (vcsim)
    storage_error: ErrorInfo | None = None


class LibraryBrowser(QObject):
    """Browsing for every connected server; each call names its server, returns at once and
    answers by signal (which names the server too: library and item ids are unique per
    server only).

    An item load shows what it has as soon as it has it: the library's cached items first
    (`items_cached`, from the `ItemCache` of the last run), then the listed ids
    (`items_listed`: rows whose item is gone go), then the items as their GETs answer, in
    pages (`items_page`: new items first, then every cached one again, since only a GET
    tells whether an item changed), and last the whole list (`items_loaded`), which is
    written to the cache.

    Signals:
        connected(ServerRef): added (its libraries follow); a second server is added.
        disconnected(ServerRef): the user disconnected it (its libraries are gone).
        libraries_loaded(ServerRef, tuple[LibraryModel, ...])
        libraries_failed(ServerRef, ErrorInfo)
        items_cached(ServerRef, str library_id, tuple[ItemModel, ...]): from the cache.
        items_listed(ServerRef, str library_id, tuple[str, ...]): the library's item ids.
        items_page(ServerRef, str library_id, tuple[ItemModel, ...]): items just fetched.
        items_progress(ServerRef, str library_id, int done, int total): a big library loads.
        items_loaded(ServerRef, str library_id, tuple[ItemModel, ...])
        items_failed(ServerRef, str library_id, ErrorInfo)
        details_loaded(ServerRef, ItemDetails)
        details_failed(ServerRef, str item_id, ErrorInfo)
    """

    connected = Signal(object)
    disconnected = Signal(object)
    libraries_loaded = Signal(object, object)
    libraries_failed = Signal(object, object)
    items_cached = Signal(object, str, object)
    items_listed = Signal(object, str, object)
    items_page = Signal(object, str, object)
    items_progress = Signal(object, str, int, int)
    items_loaded = Signal(object, str, object)
    # from the fetching thread: (generation, signal name, server, library id, value); relayed
    # on the GUI thread unless a newer load superseded it
    _relay = Signal(int, str, object, str, object)
    items_failed = Signal(object, str, object)
    details_loaded = Signal(object, object)
    details_failed = Signal(object, str, object)

    def __init__(
        self,
        connector: Connector,
        tasks: BackgroundTasks,
        parent: QObject | None = None,
        cache: ItemCache | None = None,
    ) -> None:
        super().__init__(parent)
        self._connector = connector
        self._tasks = tasks
        self.cache = cache or ItemCache(None)
        self._relay.connect(self._on_relay, Qt.ConnectionType.QueuedConnection)
        self._servers: list[ServerRef] = []  # in the order they were connected
        self._items_generation = 0
        self._items_task: int | None = None
        self._details_task: int | None = None

    @property
    def busy(self) -> bool:
        return self._tasks.busy

    @property
    def servers(self) -> tuple[ServerRef, ...]:
        """The connected servers, first connected first."""
        return tuple(self._servers)

    def add_server(self, server: ServerRef) -> None:
        """Browse `server`, logged in by the ConnectionService (the connector has its
        client): emits connected, then its libraries."""
        if server not in self._servers:
            self._servers.append(server)
        self.connected.emit(server)
        self.load_libraries(server)

    def disconnect_server(self, server: ServerRef) -> None:
        """Stop browsing `server` (the ConnectionService logs out of it)."""
        if server not in self._servers:
            return
        self._servers.remove(server)
        self.disconnected.emit(server)

    def load_libraries(self, server: ServerRef) -> None:
        def fetch() -> tuple[LibraryModel, ...]:
            libraries = self._connector(server).libraries.list_models()
            url = normalize_server(server.url)
            self.cache.keep_libraries(url, server.username, (lib.id or "" for lib in libraries))
            return libraries

        self._tasks.run(
            fetch,
            lambda libraries: self.libraries_loaded.emit(server, libraries),
            lambda error: self.libraries_failed.emit(server, error),
        )

    def load_items(self, server: ServerRef, library_id: str, use_cache: bool = True) -> None:
        """List the items of a library: cached rows (unless `use_cache` is False: a reload
        of rows on show, which may be newer than the cache), then pages as they are fetched,
        then the whole list (see the class); supersedes any earlier item load."""
        self._items_generation += 1
        generation = self._items_generation
        if self._items_task is not None:
            self._tasks.discard(self._items_task)
        key = (normalize_server(server.url), server.username, library_id)

        def emit(name: str, value: object) -> None:
            self._relay.emit(generation, name, server, library_id, value)

        def fetch() -> tuple[ItemModel, ...]:
            # The first cached rows read and shown on their own, at once; then the rest.
            cached = self.cache.load(key, limit=FIRST_CACHED_ROWS) if use_cache else ()
            if cached:
                emit("items_cached", cached)
            if len(cached) == FIRST_CACHED_ROWS:
                rest = self.cache.load(key, offset=FIRST_CACHED_ROWS)
                for start in range(0, len(rest), CACHED_PAGE_ROWS):
                    emit("items_cached", rest[start : start + CACHED_PAGE_ROWS])
                cached += rest
            if cached:
                # Revalidate once the cached rows are in the table: its item GETs would
                # otherwise hold the GIL while the GUI thread builds the rows.
                shown = threading.Event()
                emit("_shown", shown)
                shown.wait(SHOWN_WAIT)
            client = self._connector(server)
            ids = client.items.list(library_id)
            if generation != self._items_generation:
                raise TaskCancelled
            emit("items_listed", ids)
            known = {item.id for item in cached}
            # New items first (their rows are missing), then the cached ones, to revalidate.
            order = [i for i in ids if i not in known] + [i for i in ids if i in known]
            fetched = self._fetch_item_models(
                server,
                client,
                library_id,
                tuple(order),
                generation,
                lambda p: emit("items_page", p),
            )
            position = {item_id: n for n, item_id in enumerate(ids)}
            items = tuple(sorted(fetched, key=lambda item: position.get(item.id or "", 0)))
            self.cache.store(key, items, ids)
            return items

        self._items_task = self._tasks.run(
            fetch,
            lambda items: self.items_loaded.emit(server, library_id, items),
            lambda error: self.items_failed.emit(server, library_id, error),
        )

    def _on_relay(
        self, generation: int, name: str, server: ServerRef, library_id: str, value: object
    ) -> None:
        if name == "_shown":  # what came before is in the table; painted next
            assert isinstance(value, threading.Event)
            QTimer.singleShot(0, value.set)
        elif generation == self._items_generation:
            getattr(self, name).emit(server, library_id, value)

    def plan_new_items(
        self,
        server: ServerRef,
        library_id: str,
        paths: list[str],
        on_done: Callable[[DropPlan], None],
        on_failed: Failure,
    ) -> None:
        """Plan a drop of new items into `library_id` against its current item names (read
        now, not from the table, which may be stale), so the confirmation shows the names
        the items will really get."""

        def plan() -> DropPlan:
            drop = plan_drop(paths)
            if not drop.has_uploads:
                return drop
            client = self._connector(server)
            ids = client.items.list(library_id)
            items = self._fetch_item_models(server, client, library_id, ids, None)
            return dataclasses.replace(drop, existing=frozenset(i.name or "" for i in items))

        self._tasks.run(plan, on_done, on_failed)

    def item_file_names(
        self,
        server: ServerRef,
        item_id: str,
        on_done: Callable[[frozenset[str]], None],
        on_failed: Failure,
    ) -> None:
        """The names of the files `item_id` holds now (an import about to replace one)."""
        self._tasks.run(lambda: self._file_names(server, item_id), on_done, on_failed)

    def _file_names(self, server: ServerRef, item_id: str) -> frozenset[str]:
        return frozenset(f.name for f in self._connector(server).item_files.list(item_id))

    def plan_upload_into(
        self,
        server: ServerRef,
        item_id: str,
        paths: list[str],
        on_done: Callable[[DropPlan], None],
        on_failed: Failure,
        *,
        list_item_files: bool = True,
    ) -> None:
        """Plan a drop into an existing item; with `list_item_files`, also the names its
        files get there and the files the item holds now (read now), so that the user is
        told which files the upload replaces."""

        def plan() -> DropPlan:
            drop = plan_drop(paths)
            if not drop.has_uploads or not list_item_files:
                return drop
            names = names_in_item(drop.all_files)
            held = self._file_names(server, item_id)
            return dataclasses.replace(drop, names_in_item=names, item_files=held)

        self._tasks.run(plan, on_done, on_failed)

    def _fetch_item_models(
        self,
        server: ServerRef,
        client: ContentLibraryClient,
        library_id: str,
        ids: tuple[str, ...],
        generation: int | None,
        on_page: Callable[[tuple[ItemModel, ...]], None] | None = None,
    ) -> tuple[ItemModel, ...]:
        """The items `ids`, a few in parallel (the client's pooled keep-alive connections),
        in order; `on_page` gets them in pages as they come. `generation` (of the item table)
        cancels the fetch once the user moved on, None never does."""

        latencies: list[float] = []

        def get(item_id: str) -> ItemModel | None:
            if generation is not None and generation != self._items_generation:
                raise TaskCancelled
            started = time.monotonic()
            try:
                return client.items.get(item_id)
            except NotFound:  # deleted while we listed
                return None
            finally:
                if len(latencies) < LATENCY_SAMPLES:
                    latencies.append(time.monotonic() - started)

        models: list[ItemModel] = []
        page: list[ItemModel] = []
        page_rows = FIRST_PAGE_ROWS
        last_report = last_page = time.monotonic()
        width = ITEM_FETCH_START
        queued = iter(ids)
        in_flight: deque[Future[ItemModel | None]] = deque()
        with ThreadPoolExecutor(ITEM_FETCH_THREADS, thread_name_prefix="item-get") as pool:
            try:
                for count in range(1, len(ids) + 1):
                    while len(in_flight) < width:  # in order, `width` at a time
                        item_id = next(queued, None)
                        if item_id is None:
                            break
                        in_flight.append(pool.submit(get, item_id))
                    model = in_flight.popleft().result()
                    if (
                        width < ITEM_FETCH_THREADS
                        and len(latencies) >= LATENCY_SAMPLES
                        and statistics.median(latencies) > SLOW_GET_SECONDS
                    ):
                        width = ITEM_FETCH_THREADS
                        slow = statistics.median(latencies) * 1000
                        log.info("item GETs take %.0f ms: %d at a time", slow, width)
                    if model is not None:
                        models.append(model)
                        page.append(model)
                    now = time.monotonic()
                    if (
                        on_page is not None
                        and page
                        and (len(page) >= page_rows or now - last_page >= PAGE_SECONDS)
                    ):
                        on_page(tuple(page))
                        page, page_rows, last_page = [], PAGE_ROWS, now
                    if generation is not None and now - last_report >= PROGRESS_INTERVAL:
                        last_report = now
                        self.items_progress.emit(server, library_id, count, len(ids))
            except TaskCancelled:
                pool.shutdown(cancel_futures=True)
                raise
        if on_page is not None and page:
            on_page(tuple(page))
        return tuple(models)

    def load_details(self, server: ServerRef, item_id: str) -> None:
        """Files and storage of one item; an earlier, unfinished details load is dropped."""
        if self._details_task is not None:
            self._tasks.discard(self._details_task)

        def fetch() -> ItemDetails:
            client = self._connector(server)
            files = client.item_files.list(item_id)
            try:
                return ItemDetails(item_id, files, client.storage.list(item_id))
            except (NotFound, OperationNotFound, Unsupported):
                # The files call just found the item, so a 404 here means "no Storage API".
                return ItemDetails(item_id, files, None)
            except Exception as exc:
                return ItemDetails(item_id, files, (), ErrorInfo.from_exception(exc))

        def done(details: ItemDetails) -> None:
            self._details_task = None
            self.details_loaded.emit(server, details)

        def failed(error: ErrorInfo) -> None:
            self._details_task = None
            self.details_failed.emit(server, item_id, error)

        self._details_task = self._tasks.run(fetch, done, failed)
