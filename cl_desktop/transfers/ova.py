""".ova archives: an OVF template in one (uncompressed) tar file, uploaded without extracting.

Each member becomes a `LocalFile` that is a slice (offset, size) of the archive, read in place,
so the archive is read once, nothing is written to disk and memory stays constant. The headers
are read with `tarfile` (no member data is read but the descriptor's and the manifest's, both
size-bounded), and everything is checked before any byte moves: names (absolute, `..`,
subfolders, duplicates), member types (only regular files), the descriptor (exactly one, its
references present with their declared sizes), the manifest (every line names a member) and a
truncated archive. The manifest's checksums are not checked here (that would read the archive
twice): they travel in each file's AddSpec and the engine compares them while streaming.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PreflightError
from .ovf import (
    LocalFile,
    check_declared_size,
    manifest_entries,
    missing_from_manifest,
    references_in,
    refuse_remote,
    regular_file,
    template_order,
)

# An OVF descriptor is XML of a few hundred KiB at most; a manifest a line per file.
MAX_DESCRIPTOR = 8 << 20
MAX_MANIFEST = 1 << 20


@dataclass(frozen=True)
class OvaContents:
    """The files an .ova uploads (in upload order) and what the job row should say about it."""

    files: list[LocalFile]
    notes: list[str] = field(default_factory=list)


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a pipe"
    if member.issparse():
        return "a sparse file"
    return "not a regular file"


def _member_name(archive: str, member: tarfile.TarInfo) -> str | None:
    """The member's name in the item, or None for the archive's own "." folder entry; refuses
    what an item cannot hold or what tries to leave it."""
    raw = member.name
    name = raw[2:] if raw.startswith("./") else raw  # `tar -C dir .` writes ./name
    if member.isdir() and name.strip("/") in ("", "."):
        return None
    parts = name.replace("\\", "/").split("/")
    if raw.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise PreflightError(f"{archive} holds {raw!r}, an absolute name: refused")
    if ".." in parts:
        raise PreflightError(f"{archive} holds {raw!r}, a name that climbs out of its folder")
    if member.isdir() or len(parts) > 1:
        raise PreflightError(
            f"{archive} holds {raw!r} in a subfolder; a library item has no folders"
        )
    if not member.isreg() or member.issparse():
        raise PreflightError(f"{archive} holds {raw!r}, {_kind(member)}: only files can go up")
    if not name.strip():
        raise PreflightError(f"{archive} holds a member with an empty name")
    return name


def _members(archive: Path, archive_size: int) -> dict[str, tarfile.TarInfo]:
    """{name: header} of every member, in archive order, all checked."""
    label = archive.name
    members: dict[str, tarfile.TarInfo] = {}
    last = ""
    try:
        # "r:" only: a compressed member is no slice of the file, so it cannot be read in place
        with tarfile.open(archive, "r:") as tar:
            while (member := tar.next()) is not None:
                last = member.name
                name = _member_name(label, member)
                if name is None:
                    continue
                if name in members:
                    raise PreflightError(f"{label} holds {name} twice")
                if member.offset_data + member.size > archive_size:
                    raise PreflightError(f"{label} is truncated: it ends inside {name}")
                members[name] = member
    except tarfile.ReadError as exc:
        if last:  # tarfile reads a header, then finds the data before the next one missing
            raise PreflightError(f"{label} is truncated or damaged after {last} ({exc})") from exc
        raise PreflightError(f"{label} is not an OVA (an uncompressed tar archive): {exc}") from exc
    except OSError as exc:
        raise PreflightError(f"{archive} cannot be read ({exc.strerror or exc})") from exc
    if not members:
        raise PreflightError(f"{label} holds no files")
    return members


def _read_member(archive: Path, member: tarfile.TarInfo, limit: int, what: str) -> bytes:
    if member.size > limit:
        raise PreflightError(
            f"{member.name} is {member.size} bytes, too large for {what} (at most {limit})"
        )
    try:
        with archive.open("rb") as source:
            source.seek(member.offset_data)
            data = source.read(member.size)
    except OSError as exc:
        raise PreflightError(f"{archive} cannot be read ({exc.strerror or exc})") from exc
    if len(data) != member.size:
        raise PreflightError(f"{archive.name} is truncated: it ends inside {member.name}")
    return data


def ova_files(archive: Path) -> OvaContents:
    """Pre-flight of an .ova: its members as slices of it, in the order vCenter accepts
    (manifest and certificate, descriptor, the disks it references, any other member)."""
    info = regular_file(archive)
    members = _members(archive, info.st_size)
    label = archive.name
    descriptors = [n for n in members if n.lower().endswith(".ovf")]
    if not descriptors:
        raise PreflightError(f"{label} holds no OVF descriptor (.ovf)")
    if len(descriptors) > 1:
        raise PreflightError(
            f"{label} holds more than one OVF descriptor ({', '.join(descriptors)})"
        )
    [descriptor] = descriptors
    notes = []
    if next(iter(members)) != descriptor:
        notes.append(
            f"{descriptor} is not the first member of {label}, as the OVF specification asks; "
            "each member is read where it lies"
        )
    data = _read_member(archive, members[descriptor], MAX_DESCRIPTOR, "an OVF descriptor")
    referenced: list[str] = []
    for href, declared in references_in(descriptor, data):
        refuse_remote(href)
        member = members.get(href)
        if member is None:
            raise PreflightError(f"{descriptor} references {href}, which is not in {label}")
        check_declared_size(href, member.size, declared, descriptor)
        referenced.append(href)
    manifest: dict[str, tuple[str, str]] = {}
    mf = descriptor.rsplit(".", 1)[0] + ".mf"
    if mf in members:
        manifest = manifest_entries(_read_member(archive, members[mf], MAX_MANIFEST, "a manifest"))
        for name in manifest:
            if name not in members:
                raise missing_from_manifest(name)
    order = template_order(descriptor, members) + referenced + list(members)
    return OvaContents(
        [
            LocalFile(
                archive,
                name,
                members[name].size,
                manifest.get(name),
                info.st_mtime_ns,
                offset=members[name].offset_data,
                container_size=info.st_size,
            )
            for name in dict.fromkeys(order)
        ],
        notes,
    )
