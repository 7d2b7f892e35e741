"""An OVF template as one .ova: the tar framing around members the engine streams in.

An OVA is a tar archive (ustar headers; pax records only for names ustar cannot hold) whose
members follow the order the OVF specification requires: the descriptor first, then the
manifest and the certificate, then the files in the order of the descriptor's References.
download.py streams each member's bytes from the server straight into the archive; this module
says where each member goes, what its header and padding are, and what the manifest says, so
that a resumed job can tell which members are already written whole.
"""

from __future__ import annotations

import logging
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import PreflightError
from .ovf import references_in

log = logging.getLogger(__name__)

BLOCK = tarfile.BLOCKSIZE
END_OF_ARCHIVE = bytes(2 * BLOCK)  # two zero blocks close a tar archive


def header(name: str, size: int, mtime: int) -> bytes:
    """The tar header of a regular file member (the size is known before its bytes arrive)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o644
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    """The zeros that fill a member's last block."""
    return bytes(-size % BLOCK)


@dataclass(frozen=True)
class Member:
    """One member's place in the archive."""

    name: str
    size: int
    header: bytes
    header_at: int  # offset of its header in the archive

    @property
    def data_at(self) -> int:
        return self.header_at + len(self.header)

    @property
    def end(self) -> int:
        """Offset just after its padding: where the next member's header goes."""
        return self.data_at + self.size + len(padding(self.size))


def layout(members: Iterable[tuple[str, int]], mtime: int, start: int = 0) -> list[Member]:
    """Where each (name, size) goes when written one after the other from `start`."""
    placed: list[Member] = []
    at = start
    for name, size in members:
        member = Member(name, size, header(name, size, mtime), at)
        placed.append(member)
        at = member.end
    return placed


def is_descriptor(name: str) -> bool:
    return name.lower().endswith(".ovf")


def references(descriptor: bytes, name: str) -> list[str]:
    """The hrefs of the descriptor's References, in order; [] if it cannot be read (the archive
    then keeps the server's order after the descriptor, which OVF tools still read)."""
    try:
        return [href for href, _ in references_in(name, descriptor)]
    except PreflightError as exc:
        log.warning("cannot order the .ova by %s: %s", name, exc.message)
        return []


def member_order(descriptor: str, names: Sequence[str], refs: Sequence[str]) -> list[str]:
    """The archive order: descriptor, manifest(s), certificate(s), the referenced files in the
    References' order, then any other file of the item in the server's order."""
    rest = [n for n in names if n != descriptor]
    manifests = [n for n in rest if n.lower().endswith(".mf")]
    certificates = [n for n in rest if n.lower().endswith(".cert")]
    referenced = [r for r in dict.fromkeys(refs) if r in rest and r not in manifests]
    taken = {descriptor, *manifests, *certificates, *referenced}
    return [descriptor, *manifests, *certificates, *referenced] + [
        n for n in rest if n not in taken
    ]


def manifest_name(descriptor: str) -> str:
    """The manifest's name by the OVF convention: the descriptor's, with .mf."""
    return descriptor.rsplit(".", 1)[0] + ".mf"


def manifest(checksums: Sequence[tuple[str, str, str]]) -> bytes:
    """An OVF manifest from (name, ALGORITHM, hex) rows: `SHA1(disk.vmdk)= ...` lines."""
    return "".join(f"{alg}({name})= {hexdigest}\n" for name, alg, hexdigest in checksums).encode()
