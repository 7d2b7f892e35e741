"""OVF templates: which files an .ovf brings, and the pre-flight check against its manifest.

The descriptor is untrusted input, so it is parsed with defusedxml (no entity expansion, no
external references). References that would climb out of the descriptor's folder are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def referenced_files(descriptor: Path) -> list[tuple[str, int | None]]:
    """(href, size or None) of every File in the descriptor's References section."""
    try:
        root = SafeET.parse(descriptor).getroot()
    except Exception as exc:  # defusedxml raises several unrelated types
        raise PreflightError(f"{descriptor.name} is not a readable OVF descriptor: {exc}") from exc
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


def _checked_reference(folder: Path, href: str) -> Path:
    if "://" in href:
        raise PreflightError(f"the OVF references a remote file ({href}); only local files go up")
    relative = Path(href)
    if relative.is_absolute() or ".." in relative.parts:
        raise PreflightError(f"the OVF references {href!r}, outside its own folder")
    return folder / relative


def ovf_files(descriptor: Path) -> list[LocalFile]:
    """The .ovf, the files it references, and its .mf/.cert, in an order vCenter accepts.

    vCenter wants the manifest and certificate added before (or with) the descriptor is
    processed, so they go first, then the .ovf, then the disks.
    """
    folder = descriptor.parent
    stem = descriptor.stem
    files: list[Path] = []
    for extra in (".mf", ".cert"):
        candidate = folder / f"{stem}{extra}"
        if candidate.is_file():
            files.append(candidate)
    files.append(descriptor)
    declared: dict[Path, int | None] = {}
    for href, size in referenced_files(descriptor):
        path = _checked_reference(folder, href)
        declared[path] = size
        files.append(path)
    missing = [p.name for p in files if not p.is_file()]
    if missing:
        raise PreflightError(
            f"{descriptor.name} references files that are not next to it: {', '.join(missing)}"
        )
    for path, size in declared.items():
        actual = path.stat().st_size
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
            p.stat().st_size,
            manifest.get(p.relative_to(folder).as_posix()),
        )
        for p in files
    ]


def verify_manifest(folder: Path, manifest: dict[str, tuple[str, str]]) -> None:
    """Hash each listed local file and compare: catch a bad disk before hours of upload."""
    for name, (algorithm, expected) in manifest.items():
        path = folder / name
        if not path.is_file():
            raise PreflightError(f"the manifest lists {name}, which is missing")
        if file_digest(path, algorithm.lower()) != expected:
            raise PreflightError(
                f"{name} does not match its manifest ({algorithm} differs): the file is "
                "damaged or not the one the manifest was made for"
            )
