"""A folder given to upload: the OVF template inside it, or its loose files as one item.

A library item has no subfolders, so a folder that holds one (and no template) is refused, as
are a folder with two templates (which would be uploaded?) and an empty one. Hidden files
(names starting with a dot: .DS_Store, desktop.ini's kin) are not uploaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import PreflightError

TEMPLATE_SUFFIXES = (".ovf", ".ova")


@dataclass(frozen=True)
class FolderUpload:
    """What a folder uploads: `template`, the path of its one .ovf/.ova, or `files`."""

    folder: str
    template: str | None = None
    files: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.folder).name

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.template,) if self.template else self.files


def folder_upload(folder: Path) -> FolderUpload:
    """Look into `folder` (reads the disk: call it off the GUI thread)."""
    try:
        entries = sorted(
            (e for e in os.scandir(folder) if not e.name.startswith(".")), key=lambda e: e.name
        )
    except OSError as exc:
        raise PreflightError(f"{folder} cannot be read ({exc.strerror or exc})") from exc
    subfolders = [e.name for e in entries if e.is_dir()]
    files = [e for e in entries if not e.is_dir()]
    templates = [e.path for e in files if e.name.lower().endswith(TEMPLATE_SUFFIXES)]
    if len(templates) > 1:
        names = ", ".join(Path(t).name for t in templates)
        raise PreflightError(
            f"{folder.name} holds more than one template ({names}); choose the one to upload"
        )
    if templates:
        return FolderUpload(str(folder), template=templates[0])
    if subfolders:
        raise PreflightError(
            f"{folder.name} holds the folder {subfolders[0]}; a library item has no "
            "subfolders, so choose the files, or each folder of files"
        )
    if not files:
        raise PreflightError(f"{folder.name} is empty; there is nothing to upload")
    return FolderUpload(str(folder), files=tuple(e.path for e in files))
