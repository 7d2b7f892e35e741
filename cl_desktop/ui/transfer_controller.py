"""TransferController: drops, selections and menu commands become queued transfers.

The window says what was chosen (the dropped paths, the selected items or files); this class
plans the uploads in the background, asks the user (new items, a download folder, files to
upload), builds the JobSpecs and queues them. It reports through signals and asks through
`Prompts`, so it holds no widget but the dialogs' parent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QWidget

from cl_desktop.api.models import ItemModel
from cl_desktop.preferences import Preferences
from cl_desktop.services.browser import LibraryBrowser
from cl_desktop.services.connections import CertificateDetails
from cl_desktop.services.planning import (
    DropPlan,
    download_spec,
    new_item_specs,
    upload_into_spec,
)
from cl_desktop.services.sources import (
    import_spec,
    needs_certificate,
    read_source_certificate,
    source_file_name,
)
from cl_desktop.services.tasks import BackgroundTasks
from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.jobs import Existing, JobSpec, ServerRef
from cl_desktop.transfers.naming import UnsafeNameError, safe_local_name
from cl_desktop.transfers.ownership import copy_job

from . import format as fmt
from .dialogs import Prompts
from .download_dialog import DownloadChoice, DownloadQuestion
from .import_dialog import ImportTarget

# QSettings keys: the folders the file dialogs open in
K_DOWNLOAD_DIR = "paths/download_dir"
K_UPLOAD_DIR = "paths/upload_dir"
# the download options last chosen: an OVF template as one .ova, and the if-exists policy
K_DOWNLOAD_AS_OVA = "downloads/as_ova"
K_DOWNLOAD_EXISTING = "downloads/existing"


def _targets(item: ItemModel, names: Sequence[str], templates: bool) -> list[str]:
    """What a download of `item` (or of its files `names`) may create in the folder, as the
    engine names it: one file as itself, several in ITEM/, a template also as ITEM.ova."""
    try:
        if len(names) == 1:
            return [safe_local_name(names[0])]
        name = safe_local_name(item.name or item.id or "item")
    except UnsafeNameError:
        return []  # the job itself refuses the name, with the reason
    return [name, f"{name}.ova"] if templates and item.type == "ovf" else [name]


def _existing(value: str) -> Existing:
    try:
        return Existing(value)
    except ValueError:
        return Existing.KEEP_BOTH


class TransferController(QObject):
    """Uploads and downloads as the user asks for them.

    Signals:
        status(str, bool): a status message (and whether it is an error).
        failed(ErrorInfo): planning a drop failed.
        queued(): jobs are about to be queued (the window shows the queue).
    """

    status = Signal(str, bool)
    failed = Signal(object)
    queued = Signal()

    def __init__(
        self,
        window: QWidget,
        browser: LibraryBrowser,
        transfers: TransferService,
        tasks: BackgroundTasks,
        settings: QSettings,
        prompts: Prompts,
        server: Callable[[], ServerRef | None],
        preferences: Callable[[], Preferences] = Preferences,
    ) -> None:
        super().__init__(window)
        self._preferences = preferences  # the confirmations, the download folder
        self._window = window  # the dialogs' parent
        self.browser = browser
        self.transfers = transfers
        self.tasks = tasks
        self.settings = settings
        self.prompts = prompts
        self._server = server
        self.import_hint = ""  # a URL the Import dialog offers (the demo's samples)

    def _for_library(self, library_id: str | None) -> ServerRef | None:
        """The current server, when a library is selected; else None (the status says why)."""
        server = self._connected()
        if server is not None and library_id is None:
            self.status.emit(self.tr("Select a library first."), True)
            return None
        return server

    def _connected(self) -> ServerRef | None:
        server = self._server()
        if server is None:
            self.status.emit(self.tr("Connect to a server first."), True)
        return server

    # --- uploads ---------------------------------------------------------------------------

    def upload_new_items(
        self, server: ServerRef, library_id: str, library_name: str, paths: Sequence[str]
    ) -> None:
        """One new item per file (or OVF) in `library_id` of `server`, named against the
        library's items as they are now, after the user confirms the names."""
        self.status.emit(self.tr("Checking which item names are free..."), False)
        self.browser.plan_new_items(
            server,
            library_id,
            list(paths),
            self._report_skipped(
                lambda plan: self._confirm_new_items(server, library_id, library_name, plan)
            ),
            self.failed.emit,
        )

    def upload_into(self, item: ItemModel, paths: Sequence[str]) -> None:
        """Files into `item` (of the current server); files of the same names replace the
        item's, which the user confirms first (unless the preference says not to ask)."""
        server = self._connected()
        if server is None or not item.id:
            return
        ask = self._preferences().confirm_replace

        def start(plan: DropPlan) -> None:
            if not plan.has_uploads:
                return
            if ask and plan.replaced:
                if not self._confirm_replace(item, plan):
                    self.status.emit(self.tr("Upload cancelled: no file was replaced."), False)
                    return
            elif plan.folders and not self._confirm_folders_into(item, plan):
                return
            self._add_jobs([upload_into_spec(server, item, plan.all_files)])

        # Look at the dropped paths (folders, .ovf references) and the item's files in the
        # background.
        self.browser.plan_upload_into(
            server,
            item.id,
            list(paths),
            self._report_skipped(start),
            self.failed.emit,
            list_item_files=ask,
        )

    def _confirm_replace(self, item: ItemModel, plan: DropPlan) -> bool:
        """Names the files the upload replaces (and those it adds) before it is queued."""
        replaced, added = len(plan.replaced), len(plan.added)
        if added:
            question = self.tr(
                "Replace %n file(s) of \u201c{item}\u201d and add {added}?", "", replaced
            )
        else:
            question = self.tr("Replace %n file(s) of \u201c{item}\u201d?", "", replaced)
        text = fmt.counted(question, replaced).format(item=item.name, added=added)
        return self.prompts.confirm_replace(
            self._window, self.tr("Replace files"), text, plan.replace_lines()
        )

    def ask_upload_into(self, item: ItemModel) -> None:
        paths = self._ask_upload_files(
            self.tr("Upload into \u201c{item}\u201d").format(item=item.name)
        )
        if paths:
            self.upload_into(item, paths)

    def ask_upload_new_items(self, library_id: str | None, library_name: str) -> None:
        """New items in `library_id` of the current server."""
        server = self._for_library(library_id)
        if server is None or library_id is None:
            return
        paths = self._ask_upload_files(self.tr("Upload files as new items"))
        if paths:
            self.upload_new_items(server, library_id, library_name, paths)

    def _ask_upload_files(self, caption: str) -> list[str]:
        paths = self.prompts.ask_open_files(self._window, caption, self._dir(K_UPLOAD_DIR))
        if paths:
            self.settings.setValue(K_UPLOAD_DIR, os.path.dirname(paths[0]))
        return paths

    def _confirm_folders_into(self, item: ItemModel, plan: DropPlan) -> bool:
        """A dropped folder's files go into the item only once the user saw them listed."""
        files = plan.all_files
        question = self.tr("Upload %n file(s) into \u201c{item}\u201d?", "", len(files))
        text = fmt.counted(question, len(files)).format(item=item.name)
        lines = [f"{Path(f).parent.name}/{Path(f).name}" for f in files]
        return self.prompts.confirm(self._window, self.tr("Upload a folder"), text, lines)

    def _report_skipped(self, then: Callable[[DropPlan], None]) -> Callable[[DropPlan], None]:
        def planned(plan: DropPlan) -> None:
            if plan.skipped:
                skipped = "; ".join(f"{Path(p).name}: {why}" for p, why in plan.skipped)
                text = self.tr("Skipped {files}").format(files=skipped)
                self.status.emit(text, not plan.has_uploads)
            then(plan)

        return planned

    def _confirm_new_items(
        self, server: ServerRef, library_id: str, library_name: str, plan: DropPlan
    ) -> None:
        if not plan.has_uploads:
            return
        count = len(plan.files) + len(plan.folders)
        question = self.tr("Create %n new item(s) in \u201c{library}\u201d?", "", count)
        text = fmt.counted(question, count).format(library=library_name)
        if not self._preferences().confirm_new_items or self.prompts.confirm(
            self._window, self.tr("Upload new items"), text, plan.new_item_lines()
        ):
            self._add_jobs(new_item_specs(server, library_id, plan))

    # --- import from URL (the server pulls) --------------------------------------------------

    def ask_import_url(
        self, library_id: str | None, library_name: str, item: ItemModel | None
    ) -> None:
        """Ask for a URL and a target (a new item in the library, or `item`); an https
        source's certificate is read in the background and shown, and the import is queued
        only once the user accepts it (its SHA-1 thumbprint goes into the job)."""
        server = self._for_library(library_id)
        if server is None or library_id is None:
            return
        target = ImportTarget(library_name, item.name if item else None, self.import_hint)
        request = self.prompts.ask_import_url(self._window, target)
        if request is None:
            return
        into = item if request.into_item else None
        name = source_file_name(request.url)  # the file's name in the item

        def queue(thumbprint: str = "") -> None:
            """Into an item: asked first if the file replaces one of the item's."""
            if into is None or not into.id or not self._preferences().confirm_replace:
                add(thumbprint)
                return
            self.browser.item_file_names(
                server, into.id, lambda held: confirm_then_add(thumbprint, held), self.failed.emit
            )

        def confirm_then_add(thumbprint: str, held: frozenset[str]) -> None:
            what = self.tr("\u201c{item}\u201d").format(item=into.name) if into is not None else ""
            text = self.tr("Replace {file} of {item} with the file at the URL?")
            text = text.format(file=name, item=what)
            # the line as planning.DropPlan.replace_lines writes it (the services' words)
            if name in held and not self.prompts.confirm_replace(
                self._window, self.tr("Replace files"), text, [f"replaced: {name}"]
            ):
                self.status.emit(self.tr("Import cancelled: no file was replaced."), False)
                return
            add(thumbprint)

        def add(thumbprint: str) -> None:
            self._add_jobs(
                [
                    import_spec(
                        server,
                        library_id,
                        request.url,
                        item_id=into.id if into is not None else None,
                        item_name=into.name or "" if into is not None else request.new_name,
                        thumbprint=thumbprint,
                    )
                ]
            )

        if not needs_certificate(request.url):
            queue()
            return

        def show(details: CertificateDetails) -> None:
            if self.prompts.accept_source_certificate(self._window, request.url, details):
                queue(details.sha1_colons)  # vCenter's form: "AA:BB:..."
            else:
                text = self.tr("Import cancelled: the certificate was not accepted.")
                self.status.emit(text, False)

        text = self.tr("Reading the certificate of {url}...").format(url=request.url)
        self.status.emit(text, False)
        self.tasks.run(lambda: read_source_certificate(request.url), show, self.failed.emit)

    # --- copies ----------------------------------------------------------------------------

    def copy_items(
        self,
        source: ServerRef,
        library_id: str,
        items: Sequence[ItemModel],
        target: ServerRef,
        target_library_id: str,
    ) -> None:
        """Each of `items` (of `library_id` on `source`) copied into `target_library_id` on
        `target`: one queued job per item, keeping its name ("NAME (2)" on a clash)."""
        self._add_jobs(
            [
                copy_job(source, library_id, item.id, item.name or "", target, target_library_id)
                for item in items
                if item.id
            ]
        )

    # --- downloads -------------------------------------------------------------------------

    def download_items(self, items: Sequence[ItemModel]) -> None:
        """All files of `items`, into a folder the user picks."""
        server = self._server()
        if not items or server is None:
            return
        if len(items) == 1:
            what = self.tr("\u201c{item}\u201d").format(item=items[0].name)
        else:
            what = fmt.counted(self.tr("%n item(s)", "", len(items)), len(items))
        folder = self._ask_download_dir(what)
        if folder is None:
            return
        templates = any(item.type == "ovf" for item in items)
        candidates = [name for item in items for name in _targets(item, (), templates)]
        choice = self._ask_download_options(what, folder, templates, candidates)
        if choice is not None:
            self._add_jobs(
                [
                    download_spec(server, item, folder, (), choice.as_ova, choice.existing)
                    for item in items
                ]
            )

    def download_files(self, item: ItemModel, names: Sequence[str]) -> None:
        server = self._server()
        if not names or server is None:
            return
        what = fmt.counted(self.tr("%n file(s) of \u201c{item}\u201d", "", len(names)), len(names))
        what = what.format(item=item.name)
        folder = self._ask_download_dir(what)
        if folder is None:
            return
        choice = self._ask_download_options(what, folder, False, _targets(item, names, False))
        if choice is not None:
            self._add_jobs([download_spec(server, item, folder, names, False, choice.existing)])

    def _ask_download_options(
        self, what: str, folder: str, offer_ova: bool, candidates: Sequence[str]
    ) -> DownloadChoice | None:
        """Loose files or one .ova (for a template), and what to do with a target already in
        `folder`: asked only when one of them applies; the answer is remembered."""
        initial = DownloadChoice(
            bool(self.settings.value(K_DOWNLOAD_AS_OVA, False, bool)),
            _existing(str(self.settings.value(K_DOWNLOAD_EXISTING, "", str))),
        )
        exists = [name for name in candidates if (Path(folder) / name).exists()]
        if not offer_ova and not exists:
            return DownloadChoice(False, initial.existing)
        question = DownloadQuestion(what, folder, offer_ova, exists, initial)
        choice = self.prompts.ask_download_options(self._window, question)
        if choice is None:
            return None
        if offer_ova:
            self.settings.setValue(K_DOWNLOAD_AS_OVA, choice.as_ova)
        if exists:
            self.settings.setValue(K_DOWNLOAD_EXISTING, choice.existing.value)
        return choice

    def _ask_download_dir(self, what: str) -> str | None:
        """The preference's download folder if it is one; else asked (starting in the last
        one used), and remembered."""
        preferred = self._preferences().download_folder
        if preferred and Path(preferred).is_dir():
            return preferred
        folder = self.prompts.ask_directory(
            self._window, self.tr("Download {what} to").format(what=what), self._dir(K_DOWNLOAD_DIR)
        )
        if not folder:
            return None
        self.settings.setValue(K_DOWNLOAD_DIR, folder)
        return folder

    def _dir(self, key: str) -> str:
        return str(self.settings.value(key, "", str)) or str(Path.home())

    def _add_jobs(self, specs: list[JobSpec]) -> None:
        if not specs:
            return
        self.queued.emit()
        text = fmt.counted(self.tr("Queued %n transfer(s)", "", len(specs)), len(specs))
        self.status.emit(text, False)
        self.transfers.add(specs)
