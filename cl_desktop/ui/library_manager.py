"""LibraryManager: the window's actions that create, rename, describe and delete libraries and
items (the calls run in the services' LibraryAdmin; questions go through Prompts)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from cl_desktop.api.errors import Unauthorized
from cl_desktop.api.models import DatastoreSummary, ItemModel, LibraryModel
from cl_desktop.services.errors import ErrorInfo
from cl_desktop.services.library_admin import DeleteOutcome, LibraryAdmin
from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.jobs import Direction, JobSnapshot, JobState, ServerRef

from .actions import make_action
from .dialogs import NameAndDescription, Prompts
from .format import counted
from .item_model import LEFTOVER, UPLOADING, ItemTableModel


class ManagedWindow(Protocol):
    """What the manager needs of the main window."""

    prompts: Prompts
    item_model: ItemTableModel

    @property
    def server(self) -> ServerRef | None: ...
    @property
    def current_library(self) -> LibraryModel | None: ...
    @property
    def library_id(self) -> str | None: ...

    def selected_items(self) -> list[ItemModel]: ...
    def show_status(self, text: str, error: bool = False) -> None: ...
    def reload_after_change(
        self, library_id: str | None, status: str, error: bool = False
    ) -> None: ...


def item_notes(
    items: Sequence[ItemModel], jobs: Sequence[JobSnapshot], leftovers: set[str]
) -> dict[str, str]:
    """The Note column: items a local upload is filling say so; empty items that a failed or
    cancelled upload created (or that wait in the queue's cleanups) are leftovers."""
    notes: dict[str, str] = {}
    failed = set(leftovers)
    for job in jobs:
        if job.spec.direction is not Direction.UPLOAD or not job.item_id:
            continue
        if not job.state.finished:
            notes[job.item_id] = UPLOADING
        elif job.item_created and job.state in (JobState.FAILED, JobState.CANCELED):
            failed.add(job.item_id)
    for item in items:
        if item.id in failed and item.id not in notes and not item.size:
            notes[item.id] = LEFTOVER
    return notes


def _changed(name: str, old: str | None) -> str | None:
    """A PATCH member only when it changed (the server keeps what is absent)."""
    return name if name != (old or "") else None


class LibraryManager(QObject):
    def __init__(
        self,
        window: ManagedWindow,
        parent_widget: QWidget,
        admin: LibraryAdmin,
        transfers: TransferService,
    ) -> None:
        super().__init__(parent_widget)
        self._window = window
        self._widget = parent_widget
        self._admin = admin
        self._transfers = transfers
        self._leftovers: set[str] = set()
        # per server and user: why the server refused an upload (UNAUTHORIZED), remembered so
        # the upload actions are disabled up front, the reason in their tooltip
        self._upload_refusals: dict[tuple[str, str], str] = {}
        self._upload_actions: dict[QAction, str] = {}
        self.new_library_action = make_action(
            parent_widget,
            self.tr("New &library..."),
            self.ask_new_library,
            shortcut="Ctrl+Shift+N",
            icon="new-library",
            tip=self.tr("Create a local library on a datastore of the server"),
        )
        self.edit_library_action = make_action(
            parent_widget,
            self.tr("Re&name library..."),
            self.ask_edit_library,
            icon="rename",
            tip=self.tr("Change the name or description of the selected library"),
        )
        self.delete_library_action = make_action(
            parent_widget,
            self.tr("&Delete library..."),
            self.ask_delete_library,
            icon="delete",
            tip=self.tr("Delete the selected library and every item in it"),
        )
        self.edit_item_action = make_action(
            parent_widget,
            self.tr("Re&name item..."),
            self.ask_edit_item,
            icon="rename",
            shortcut="F2",
            tip=self.tr("Change the name or description of the selected item"),
        )
        self.delete_items_action = make_action(
            parent_widget,
            self.tr("Dele&te items..."),
            self.ask_delete_items,
            shortcut="Shift+Del",
            icon="delete",
            tip=self.tr("Delete the selected items and their files from the server"),
        )
        self.delete_leftovers_action = make_action(
            parent_widget,
            self.tr("Delete &empty leftovers..."),
            self.ask_delete_leftovers,
            tip=self.tr("Delete the empty items that failed or cancelled uploads created"),
        )

    @property
    def library_actions(self) -> list[QAction | None]:
        return [self.new_library_action, self.edit_library_action, self.delete_library_action]

    @property
    def item_actions(self) -> list[QAction | None]:
        return [self.edit_item_action, self.delete_items_action, self.delete_leftovers_action]

    def update_actions(self, connected: bool) -> None:
        has_library = connected and self._window.library_id is not None
        items = self._window.selected_items() if connected else []
        self.new_library_action.setEnabled(connected)
        self.edit_library_action.setEnabled(has_library)
        self.delete_library_action.setEnabled(has_library)
        self.edit_item_action.setEnabled(len(items) == 1)
        self.delete_items_action.setEnabled(bool(items))
        self.delete_leftovers_action.setEnabled(connected and bool(self.leftover_items()))

        self._guard_uploads()

    # --- uploads a user may not make --------------------------------------------------------

    def guard_uploads(self, actions: Sequence[QAction]) -> None:
        """Disable `actions` (keeping their tooltips to restore) once uploads were refused."""
        self._upload_actions = {action: action.toolTip() for action in actions}

    @property
    def upload_refusal(self) -> str:
        """Why the current server refuses this user's uploads, or "" (never refused)."""
        return self.refusal_of(self._window.server)

    def refusal_of(self, server: ServerRef | None) -> str:
        return self._upload_refusals.get((server.url, server.username), "") if server else ""

    def note_job_finished(self, job: JobSnapshot) -> None:
        refused = job.error_title == Unauthorized.title
        if job.spec.direction is Direction.UPLOAD and job.state is JobState.FAILED and refused:
            key = (job.spec.server.url, job.spec.server.username)
            self._upload_refusals[key] = f"{job.error_title}: {job.error_message}"

    def refuse_upload(self, server: ServerRef | None = None) -> bool:
        """True (and the reason in the status bar) when `server` (the current one by default)
        refused uploads before."""
        refusal = self.refusal_of(server or self._window.server)
        if refusal:
            self._window.show_status(
                self.tr("Uploads are not allowed: {reason}").format(reason=refusal), True
            )
        return bool(refusal)

    def _guard_uploads(self) -> None:
        refusal = self.upload_refusal
        for action, tip in self._upload_actions.items():
            if refusal:
                action.setEnabled(False)
                tip = self.tr("Not allowed for this user. {reason}").format(reason=refusal)
            action.setToolTip(tip)

    # --- notes -----------------------------------------------------------------------------

    def reload_notes(self) -> None:
        """Read the queue's pending item cleanups again, then show the notes (after a listing)."""
        server = self._window.server
        if server is None:
            return

        def loaded(leftovers: set[str]) -> None:
            self._leftovers = leftovers
            self.show_notes()

        self._transfers.load_leftover_items(server, loaded)

    def show_notes(self) -> None:
        """Notes from the jobs as they are now (after a job changed)."""
        model = self._window.item_model
        model.set_notes(item_notes(model.items(), self._transfers.jobs(), self._leftovers))
        self.update_actions(self._window.server is not None)

    def leftover_items(self) -> list[ItemModel]:
        model = self._window.item_model
        return [item for item in model.items() if model.note(item.id or "") == LEFTOVER]

    def ask_delete_leftovers(self) -> None:
        self.ask_delete_items(self.leftover_items())

    # --- libraries -------------------------------------------------------------------------

    def ask_new_library(self) -> None:
        self._admin.list_datastores(
            self._ask_new_library_on,
            self._failed(self.tr("Could not list the datastores: {error}")),
        )

    def _ask_new_library_on(self, datastores: Sequence[DatastoreSummary]) -> None:
        if not datastores:
            self._window.show_status(
                self.tr("The server has no datastore to create a library on."), True
            )
            return
        answer = self._window.prompts.ask_name(
            self._widget, self.tr("New local library"), NameAndDescription("", ""), datastores
        )
        if answer is None:
            return
        self._window.show_status(self.tr("Creating library {name}...").format(name=answer.name))
        self._admin.create_library(
            answer.name,
            answer.description,
            answer.datastore_id or datastores[0].datastore,
            lambda library_id: self._done(
                self.tr("Created library {name}").format(name=answer.name), library_id
            ),
            self._failed(self.tr("Could not create library {name}: {error}"), name=answer.name),
        )

    def _current_library(self) -> LibraryModel | None:
        return self._window.current_library

    def ask_edit_library(self) -> None:
        library = self._current_library()
        if library is None or not library.id:
            return
        library_id = library.id
        answer = self._ask_edit(
            self.tr("Library name and description"), library.name, library.description
        )
        if answer is None:
            return
        self._admin.update_library(
            library_id,
            _changed(answer.name, library.name),
            _changed(answer.description, library.description),
            lambda _: self._done(
                self.tr("Changed library {name}").format(name=answer.name), library_id
            ),
            self._failed(self.tr("Could not change library {name}: {error}"), name=library.name),
        )

    def ask_delete_library(self) -> None:
        library = self._current_library()
        if library is None or not library.id:
            return
        self._admin.count_items(
            library.id,
            lambda count: self._confirm_delete_library(library, count),
            self._failed(
                self.tr("Could not count the items of {name}: {error}"), name=library.name
            ),
        )

    def _confirm_delete_library(self, library: LibraryModel, count: int) -> None:
        if count == 0:
            question = self.tr("Delete the library {name}? It is empty.")
        else:
            question = counted(
                self.tr(
                    "Delete the library {name}? Its %Ln item(s) and their files go with it.",
                    "",
                    count,
                ),
                count,
            )
        if not self._window.prompts.confirm_delete(
            self._widget,
            self.tr("Delete library"),
            question.format(name=repr(library.name)),  # quoted as Python does, '...'
            [],
        ):
            return
        self._admin.delete_library(
            library.id or "",
            lambda _: self._done(self.tr("Deleted library {name}").format(name=library.name)),
            self._failed(self.tr("Could not delete library {name}: {error}"), name=library.name),
        )

    # --- items -----------------------------------------------------------------------------

    def ask_edit_item(self) -> None:
        items = self._window.selected_items()
        if len(items) != 1 or not items[0].id:
            return
        item = items[0]
        answer = self._ask_edit(self.tr("Item name and description"), item.name, item.description)
        if answer is None:
            return
        self._admin.update_item(
            item.id or "",
            _changed(answer.name, item.name),
            _changed(answer.description, item.description),
            lambda _: self._done(
                self.tr("Changed item {name}").format(name=answer.name), item.library_id
            ),
            self._failed(self.tr("Could not change item {name}: {error}"), name=item.name),
        )

    def ask_delete_items(self, items: Sequence[ItemModel] | None = None) -> None:
        chosen = [item for item in (items or self._window.selected_items()) if item.id]
        if not chosen:
            return
        count = len(chosen)
        question = self.tr("Delete %n item(s) and their files from the server?", "", count)
        if not self._window.prompts.confirm_delete(
            self._widget,
            self.tr("Delete items"),
            counted(question, count),
            [self._delete_line(item) for item in chosen],
        ):
            return
        names = {item.id: item.name or item.id for item in chosen}
        library_id = chosen[0].library_id

        def done(outcome: DeleteOutcome) -> None:
            if outcome.failed:
                first_id, error = next(iter(outcome.failed.items()))
                text = self.tr(
                    "Could not delete {failed} of %n item(s) ({name}: {error})", "", count
                )
                self._window.reload_after_change(
                    library_id,
                    counted(text, count).format(
                        failed=len(outcome.failed), name=names[first_id], error=error.text
                    ),
                    True,
                )
                return
            self._done(counted(self.tr("Deleted %n item(s)", "", count), count), library_id)

        failed = self._failed(self.tr("Could not delete: {error}"))
        self._admin.delete_items([item.id or "" for item in chosen], done, failed)

    def _delete_line(self, item: ItemModel) -> str:
        name = item.name or item.id or ""
        if self._window.item_model.note(item.id or "") == UPLOADING:
            return self.tr("{name} (being uploaded here: that upload will fail)").format(name=name)
        return name

    # --- answers ---------------------------------------------------------------------------

    def _ask_edit(
        self, title: str, name: str | None, description: str | None
    ) -> NameAndDescription | None:
        initial = NameAndDescription(name or "", description or "")
        return self._window.prompts.ask_name(self._widget, title, initial, ())

    def _done(self, text: str, library_id: str | None = None) -> None:
        self._window.reload_after_change(library_id, text)

    def _failed(self, text: str, **values: object) -> Callable[[ErrorInfo], None]:
        """Shows `text` (translated, with an {error} and the `values`' placeholders)."""

        def show(error: ErrorInfo) -> None:
            self._window.show_status(text.format(error=error.text, **values), True)

        return show
