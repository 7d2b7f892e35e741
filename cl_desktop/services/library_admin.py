"""LibraryAdmin: create, rename, describe and delete libraries and items in the background."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject

from cl_desktop.api import ContentLibraryClient
from cl_desktop.api.errors import NotFound
from cl_desktop.api.models import DatastoreSummary
from cl_desktop.transfers.jobs import ServerRef

from .connection import Connector
from .errors import ErrorInfo
from .tasks import BackgroundTasks, Failure


@dataclass(frozen=True)
class DeleteOutcome:
    """What a delete of several items did: each id deleted (or already gone), or why not."""

    deleted: tuple[str, ...] = ()
    failed: dict[str, ErrorInfo] = field(default_factory=dict)


class LibraryAdmin(QObject):
    """Management calls on the connected server; each answers `on_done` or `on_failed` (an
    ErrorInfo: a read-only user's UNAUTHORIZED becomes "Permission denied" and its advice) on
    the GUI thread. `server` is read at each call, so it follows the browser's connection."""

    def __init__(
        self,
        connector: Connector,
        tasks: BackgroundTasks,
        server: Callable[[], ServerRef | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._connector = connector
        self._tasks = tasks
        self._server = server

    def _run(
        self,
        call: Callable[[ContentLibraryClient], Any],
        on_done: Callable[[Any], None],
        on_failed: Failure,
    ) -> None:
        server = self._server()
        if server is None:
            raise RuntimeError("not connected")
        self._tasks.run(lambda: call(self._connector(server)), on_done, on_failed)

    def list_datastores(
        self, on_done: Callable[[tuple[DatastoreSummary, ...]], None], on_failed: Failure
    ) -> None:
        self._run(lambda client: client.datastores.list(), on_done, on_failed)

    def create_library(
        self,
        name: str,
        description: str,
        datastore_id: str,
        on_done: Callable[[str], None],
        on_failed: Failure,
    ) -> None:
        self._run(
            lambda client: client.libraries.create_local(
                name, datastore_id, description=description
            ),
            on_done,
            on_failed,
        )

    def update_library(
        self,
        library_id: str,
        name: str | None,
        description: str | None,
        on_done: Callable[[None], None],
        on_failed: Failure,
    ) -> None:
        self._run(
            lambda client: client.libraries.update(library_id, name=name, description=description),
            on_done,
            on_failed,
        )

    def count_items(
        self, library_id: str, on_done: Callable[[int], None], on_failed: Failure
    ) -> None:
        """How many items a library holds now (what deleting it would delete too)."""
        self._run(lambda client: len(client.items.list(library_id)), on_done, on_failed)

    def delete_library(
        self, library_id: str, on_done: Callable[[None], None], on_failed: Failure
    ) -> None:
        self._run(lambda client: client.libraries.delete_local(library_id), on_done, on_failed)

    def update_item(
        self,
        item_id: str,
        name: str | None,
        description: str | None,
        on_done: Callable[[None], None],
        on_failed: Failure,
    ) -> None:
        self._run(
            lambda client: client.items.update(item_id, name=name, description=description),
            on_done,
            on_failed,
        )

    def delete_items(
        self, item_ids: Sequence[str], on_done: Callable[[DeleteOutcome], None], on_failed: Failure
    ) -> None:
        """Delete each item; one refused does not stop the others."""

        def delete(client: ContentLibraryClient) -> DeleteOutcome:
            deleted: list[str] = []
            failed: dict[str, ErrorInfo] = {}
            for item_id in item_ids:
                try:
                    client.items.delete(item_id)
                except NotFound:
                    pass  # gone already: what the user wanted
                except Exception as exc:
                    failed[item_id] = ErrorInfo.from_exception(exc)
                    continue
                deleted.append(item_id)
            return DeleteOutcome(tuple(deleted), failed)

        self._run(delete, on_done, on_failed)
