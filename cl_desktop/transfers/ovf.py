"""OVF templates: which files an .ovf brings, and the pre-flight check against its manifest.

The descriptor is untrusted input, so it is parsed with defusedxml (no entity expansion, no
external references). References (and manifest lines) that lead out of the descriptor's folder,
directly or through a symlink, are refused: an OVF must not upload the user's other files.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import defusedxml.ElementTree as SafeET

from .errors import PreflightError
from .hashing import file_digest

_MF_LINE = re.compile(r"^\s*(SHA1|SHA256|SHA512|MD5)\s*\(\s*(.+?)\s*\)\s*=\s*([0-9a-fA-F]+)\s*$")


@dataclass(frozen=True)
class LocalFile:
    """A local file to upload, under the name it gets in the item."""

    path: Path
    name: str
    size: int
    manifest_checksum: tuple[str, str] | None = None  # (ALGORITHM, hex) from the .mf
    mtime_ns: int | None = None  # at pre-flight: a change before or during the PUT fails it


def regular_file(path: Path) -> os.stat_result:
    """The stat of `path`, which must be a regular file (checked without opening it: a FIFO
    or a device would block or never end)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise PreflightError(f"{path} does not exist") from None
    except OSError as exc:
        raise PreflightError(f"{path} cannot be read ({exc.strerror})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise PreflightError(f"{path} is a folder; drop the files inside it instead")
    if not stat.S_ISREG(info.st_mode):
        raise PreflightError(
            f"{path} is not a regular file (a pipe, socket or device); only files can be uploaded"
        )
    return info


def local_file(path: Path, name: str, checksum: tuple[str, str] | None = None) -> LocalFile:
    info = regular_file(path)
    return LocalFile(path, name, info.st_size, checksum, info.st_mtime_ns)


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def referenced_files(descriptor: Path | BinaryIO, name: str = "") -> list[tuple[str, int | None]]:
    """(href, size or None) of every File in the descriptor's References section (a file, or
    its bytes with their `name`: an archive member)."""
    label = descriptor.name if isinstance(descriptor, Path) else name
    try:
        root = SafeET.parse(descriptor).getroot()
    except Exception as exc:  # defusedxml raises several unrelated types
        raise PreflightError(f"{label} is not a readable OVF descriptor: {exc}") from exc
    found: list[tuple[str, int | None]] = []
    for element in root.iter():
        if _local_name(element.tag) != "File":
            continue
        href = size = None
        for key, value in element.attrib.items():
            if _local_name(key) == "href":
                href = value
            elif _local_name(key) == "size":
                size = value
        if href:
            found.append((href, int(size) if size and size.isdigit() else None))
    return found


def parse_manifest(path: Path) -> dict[str, tuple[str, str]]:
    """{file name: (ALGORITHM, hex)} from an OVF manifest (.mf)."""
    entries: dict[str, tuple[str, str]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _MF_LINE.match(line)
        if match:
            entries[match.group(2)] = (match.group(1), match.group(3).lower())
    return entries


def _inside(folder: Path, name: str, what: str) -> Path:
    """`folder / name`, refused when `name` is absolute, climbs out, or resolves (through
    symlinks) to somewhere outside `folder`."""
    relative = Path(name)
    parts = Path(name.replace("\\", "/")).parts  # a backslash separates on Windows
    if relative.is_absolute() or ".." in parts or not name.strip():
        raise PreflightError(f"{what} {name!r}, outside its own folder")
    path = folder / relative
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(os.path.realpath(folder)):
        raise PreflightError(f"{what} {name!r}, which leads to {real}, outside its own folder")
    return path


def _checked_reference(folder: Path, href: str) -> Path:
    if "://" in href or href.lower().startswith(("file:", "http:", "https:")):
        raise PreflightError(f"the OVF references a remote file ({href}); only local files go up")
    return _inside(folder, href, "the OVF references")


def ovf_files(descriptor: Path) -> list[LocalFile]:
    """The .ovf, the files it references, and its .mf/.cert, in an order vCenter accepts.

    vCenter wants the manifest and certificate added before (or with) the descriptor is
    processed, so they go first, then the .ovf, then the disks.
    """
    regular_file(descriptor)  # before parsing: a FIFO named x.ovf must not block the check
    folder = descriptor.parent
    stem = descriptor.stem
    files: list[Path] = []
    for extra in (".mf", ".cert"):
        candidate = folder / f"{stem}{extra}"
        if candidate.is_file():
            files.append(_inside(folder, candidate.name, "the template's file"))
    files.append(descriptor)
    declared: dict[Path, int | None] = {}
    for href, size in referenced_files(descriptor):
        path = _checked_reference(folder, href)
        declared[path] = size
        files.append(path)
    missing = [p.name for p in files if not p.exists()]
    if missing:
        raise PreflightError(
            f"{descriptor.name} references files that are not next to it: {', '.join(missing)}"
        )
    stats = {p: regular_file(p) for p in files}
    for path, size in declared.items():
        actual = stats[path].st_size
        if size is not None and size != actual:
            raise PreflightError(
                f"{path.name} is {actual} bytes but {descriptor.name} declares {size}: "
                "the disk does not belong to this descriptor or is incomplete"
            )
    manifest: dict[str, tuple[str, str]] = {}
    mf = folder / f"{stem}.mf"
    if mf.is_file():
        manifest = parse_manifest(mf)
        verify_manifest(folder, manifest)
    return [
        LocalFile(
            p,
            p.relative_to(folder).as_posix(),
            stats[p].st_size,
            manifest.get(p.relative_to(folder).as_posix()),
            stats[p].st_mtime_ns,
        )
        for p in files
    ]


def verify_manifest(folder: Path, manifest: dict[str, tuple[str, str]]) -> None:
    """Hash each listed local file and compare: catch a bad disk before hours of upload."""
    for name, (algorithm, expected) in manifest.items():
        path = _inside(folder, name, "the manifest lists")
        if not path.is_file():
            raise PreflightError(f"the manifest lists {name}, which is missing")
        if file_digest(path, algorithm.lower()) != expected:
            raise PreflightError(
                f"{name} does not match its manifest ({algorithm} differs): the file is "
                "damaged or not the one the manifest was made for"
            )
