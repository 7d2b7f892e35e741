"""LibraryComparer: compare two libraries in the background, and queue what makes the second
like the first (copies of the missing and the changed items)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject

from cl_desktop.transfers.compare import ItemComparison, LibraryComparison, compare_libraries
from cl_desktop.transfers.jobs import Direction, JobSpec, ServerRef

from .connection import Connector
from .tasks import BackgroundTasks, Failure
from .transfers import TransferService


class CopyUnavailable(NotImplementedError):
    """This build has no engine that copies items between libraries."""


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
        name when it has one (a changed item), a new one otherwise (a missing item). Raises
        CopyUnavailable when this build cannot copy; returns how many jobs were queued."""
        specs = [copy_spec(a, b, row) for row in rows if row.a is not None]
        if specs:
            self._transfers.add(specs, on_added)
        return len(specs)


def copy_spec(a: tuple[ServerRef, str], b: tuple[ServerRef, str], row: ItemComparison) -> JobSpec:
    """The copy job of one compared row, in the copy engine's terms (Direction.COPY and the
    JobSpec target_* fields), or CopyUnavailable when they are not there."""
    copy = getattr(Direction, "COPY", None)
    if copy is None or "target_library_id" not in JobSpec.__dataclass_fields__:
        raise CopyUnavailable("copying items between libraries is not available in this build")
    assert row.a is not None
    target: dict[str, Any] = {
        "target_server": None if b[0] == a[0] else b[0],
        "target_library_id": b[1],
        "target_item_id": row.b.id if row.b is not None else None,
        "target_item_name": row.name,
    }
    return JobSpec(copy, a[0], a[1], item_id=row.a.id, item_name=row.a.name or "", **target)
