"""Turns user gestures (drops, Upload..., Download...) into transfer job specs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cl_desktop.api.models import ItemModel
from cl_desktop.transfers.errors import LocalError, PreflightError
from cl_desktop.transfers.folders import FolderUpload, folder_upload
from cl_desktop.transfers.jobs import Direction, Existing, JobSpec, ServerRef
from cl_desktop.transfers.naming import infer_item_type, item_name_for, unique_item_name
from cl_desktop.transfers.ovf import referenced_files
from cl_desktop.transfers.upload import collect_upload_files


@dataclass(frozen=True)
class NewItem:
    """One item to create from one dropped file.

    `name` is the name it will get; `taken` is the file's own name when an item of that
    name exists already (then `name` is the free `taken (2)`...).
    """

    name: str
    item_type: str
    path: str
    taken: str = ""
    files: tuple[str, ...] = ()  # a dropped folder's loose files (`path` is the folder)


@dataclass(frozen=True)
class DropPlan:
    """What a drop of local paths means.

    `files` are uploaded (one new item each, or all into one item); `companions` are files
    an .ovf in the same drop references (the engine takes them along with the .ovf);
    `skipped` are (path, reason) pairs, such as refused folders; `existing` are the names of
    the target library's items, against which new items get free names. A dropped folder
    holding a template adds it to `files`; one of loose files is in `folders` (one new item
    named after it, or its files into the target item).
    """

    files: tuple[str, ...]
    companions: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    existing: frozenset[str] = frozenset()
    folders: tuple[FolderUpload, ...] = ()
    # an upload into an existing item: the names its files get there (an .ovf's references
    # and an .ova's members included), and the names of the files the item holds now
    names_in_item: tuple[str, ...] = ()
    item_files: frozenset[str] = frozenset()

    @property
    def has_uploads(self) -> bool:
        return bool(self.files or self.folders)

    @property
    def replaced(self) -> tuple[str, ...]:
        """The item's files this upload replaces (same name)."""
        return tuple(n for n in self.names_in_item if n in self.item_files)

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(n for n in self.names_in_item if n not in self.item_files)

    def replace_lines(self) -> list[str]:
        """The replace confirmation's list: what is replaced, then what is added."""
        lines = [f"replaced: {name}" for name in self.replaced]
        lines += [f"added: {name}" for name in self.added]
        lines += [f"{Path(p).name}: skipped, {reason}" for p, reason in self.skipped]
        return lines

    @property
    def all_files(self) -> tuple[str, ...]:
        """Every file to upload into one item: the files, then the folders' files."""
        return self.files + tuple(f for folder in self.folders for f in folder.files)

    @property
    def new_items(self) -> list[NewItem]:
        """One item per file, each with the name it will really get (the engine's rule:
        `name (2)`... when `name` is taken, also by an earlier file of this drop)."""
        taken = set(self.existing)
        items = []
        wanted_items: list[tuple[str, str, str, tuple[str, ...]]] = [
            (item_name_for(p), infer_item_type(p), p, ()) for p in self.files
        ]
        wanted_items += [(f.name, "file", f.folder, f.files) for f in self.folders]
        for wanted, item_type, path, files in wanted_items:
            name = unique_item_name(wanted, taken)
            taken.add(name)
            items.append(NewItem(name, item_type, path, wanted if name != wanted else "", files))
        return items

    def new_item_lines(self) -> list[str]:
        """The confirmation's list: one line per new item, then what else happens."""
        lines = []
        for item in self.new_items:
            what = f"folder {Path(item.path).name}" if item.files else Path(item.path).name
            lines.append(
                f"{what} -> new {item.item_type} item '{item.name}'"
                + (f" ({item.taken} exists)" if item.taken else "")
                + (
                    f" with {len(item.files)} file{'s' * (len(item.files) != 1)}:"
                    if item.files
                    else ""
                )
            )
            lines += [f"    {Path(f).name}" for f in item.files]
        lines += [f"{Path(p).name}: uploaded with its .ovf" for p in self.companions]
        lines += [f"{Path(p).name}: skipped, {reason}" for p, reason in self.skipped]
        return lines


def _key(path: str | Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def plan_drop(paths: Iterable[str]) -> DropPlan:
    """Sort dropped paths into files, .ovf companions and skipped ones.

    Reads the disk (folders, .ovf descriptors): call it from a background task.
    """
    unique = list(dict.fromkeys(paths))
    files: list[str] = []
    skipped: list[tuple[str, str]] = []
    folders: list[FolderUpload] = []
    brought: set[str] = set()
    for raw in unique:
        path = Path(raw)
        if path.is_dir():
            try:
                folder = folder_upload(path)
            except PreflightError as exc:
                skipped.append((raw, exc.detail))
                continue
            if folder.template is None:
                folders.append(folder)
                continue
            raw, path = folder.template, Path(folder.template)  # as if it had been dropped
        elif not path.exists():
            skipped.append((raw, "it does not exist"))
            continue
        files.append(raw)
        if path.suffix.lower() == ".ovf":
            brought |= {_key(path.with_suffix(ext)) for ext in (".mf", ".cert")}
            try:
                brought |= {_key(path.parent / href) for href, _ in referenced_files(path)}
            except PreflightError:
                pass  # the upload job reports the broken descriptor with its reason
    companions = [p for p in files if _key(p) in brought]
    return DropPlan(
        tuple(p for p in files if _key(p) not in brought),
        tuple(companions),
        tuple(skipped),
        folders=tuple(folders),
    )


def names_in_item(paths: Sequence[str]) -> tuple[str, ...]:
    """The names the files of an upload get in the item, as the engine's pre-flight gives
    them (an .ovf brings its references, an .ova its members); the paths' own names when
    the pre-flight refuses them (the job then fails with the reason). Reads the disk."""
    try:
        return tuple(f.name for f in collect_upload_files(tuple(paths)))
    except (LocalError, OSError):
        return tuple(Path(p).name for p in paths)


def new_item_specs(server: ServerRef, library_id: str, plan: DropPlan) -> list[JobSpec]:
    return [
        JobSpec(
            direction=Direction.UPLOAD,
            server=server,
            library_id=library_id,
            item_name=item.name,
            item_type=item.item_type,
            paths=item.files or (item.path,),
            # the name shown was free when planned; one taken since gets the next free one
            unique_name=True,
        )
        for item in plan.new_items
    ]


def upload_into_spec(server: ServerRef, item: ItemModel, paths: Sequence[str]) -> JobSpec:
    return JobSpec(
        direction=Direction.UPLOAD,
        server=server,
        library_id=item.library_id or "",
        item_id=item.id,
        item_name=item.name or "",
        item_type=item.type,
        paths=tuple(paths),
    )


def download_spec(
    server: ServerRef,
    item: ItemModel,
    dest_dir: str,
    file_names: Sequence[str] = (),
    as_ova: bool = False,
    existing: Existing = Existing.KEEP_BOTH,
) -> JobSpec:
    return JobSpec(
        direction=Direction.DOWNLOAD,
        server=server,
        library_id=item.library_id or "",
        item_id=item.id,
        item_name=item.name or "",
        dest_dir=dest_dir,
        file_names=tuple(file_names),
        as_ova=as_ova and item.type == "ovf",  # only a template can be one .ova
        existing=existing,
    )
