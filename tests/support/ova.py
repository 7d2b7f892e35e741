""".ova archives for the tests and benchmarks: a template of disks, in any member order, and
hostile variants (members added or changed by hand)."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Sequence
from pathlib import Path

from cl_desktop.demo import ovf_descriptor, write_ova


def hashed(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def template_members(
    stem: str,
    disks: Sequence[Path],
    *,
    algorithm: str = "SHA256",
    manifest: dict[str, str] | None = None,
    declared: dict[str, int] | None = None,
) -> list[tuple[str, bytes | Path]]:
    """Descriptor, manifest, disks (the specification's order): the manifest lists each file in
    `algorithm` unless `manifest` gives its lines ({name: hex}); `declared` overrides the sizes
    the descriptor declares."""
    sizes = {d.name: d.stat().st_size for d in disks} | (declared or {})
    descriptor = ovf_descriptor(stem, list(sizes.items())).encode()
    if manifest is None:
        manifest = {f"{stem}.ovf": hashlib.new(algorithm.lower(), descriptor).hexdigest()}
        manifest |= {d.name: hashed(d, algorithm.lower()) for d in disks}
    lines = "".join(f"{algorithm}({name})= {value}\n" for name, value in manifest.items())
    return [
        (f"{stem}.ovf", descriptor),
        (f"{stem}.mf", lines.encode()),
        *((d.name, d) for d in disks),
    ]


def add_link(archive: Path, name: str, target: str, hard: bool = False) -> None:
    """Append a (symbolic or hard) link member to `archive`."""
    with tarfile.open(archive, "a", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
        info.linkname = target
        tar.addfile(info)


__all__ = ["add_link", "hashed", "template_members", "write_ova"]
