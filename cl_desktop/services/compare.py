"""LibraryComparer: compare two libraries in the background, and queue what makes the second
like the first (copies of the missing and the changed items)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject

from cl_desktop.transfers.compare import ItemComparison, LibraryComparison, compare_libraries
from cl_desktop.transfers.jobs import JobSpec, ServerRef
from cl_desktop.transfers.ownership import copy_job

from .connection import Connector
from .tasks import BackgroundTasks, Failure
from .transfers import TransferService


class LibraryComparer(QObject):
    def __init__(
        self,
        connector: Connector,
        tasks: BackgroundTasks,
        transfers: TransferService,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._connector = connector
        self._tasks = tasks
        self._transfers = transfers

    def compare(
        self,
        a: tuple[ServerRef, str],
        b: tuple[ServerRef, str],
        on_done: Callable[[LibraryComparison], None],
        on_failed: Failure,
    ) -> None:
        """Compare library a[1] on server a[0] with b[1] on b[0]; answers on the GUI thread."""

        def work() -> LibraryComparison:
            return compare_libraries(self._connector(a[0]), a[1], self._connector(b[0]), b[1])

        self._tasks.run(work, on_done, on_failed)

    def queue_copy(
        self,
        a: tuple[ServerRef, str],
        b: tuple[ServerRef, str],
        rows: Iterable[ItemComparison],
        on_added: Callable[[list[int]], None] | None = None,
    ) -> int:
        """Queue one copy job per row: A's item into B's library, into B's item of the same
        name when it has one (a changed item), a new one otherwise (a missing item); returns
        how many jobs were queued."""
        specs = [copy_spec(a, b, row) for row in rows if row.a is not None]
        if specs:
            self._transfers.add(specs, on_added)
        return len(specs)


def copy_spec(a: tuple[ServerRef, str], b: tuple[ServerRef, str], row: ItemComparison) -> JobSpec:
    """The copy job of one compared row: A's item into B's item of its name (or a new one)."""
    assert row.a is not None
    return copy_job(
        a[0],
        a[1],
        row.a.id,
        row.a.name or "",
        b[0],
        b[1],
        row.b.id if row.b is not None else None,
        row.name,
    )
